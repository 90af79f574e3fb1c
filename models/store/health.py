"""Liveness of the store."""

from sqlalchemy import text
from sqlalchemy.orm import Session


def ping(*, session: Session) -> bool:
    """Whether the store answers a trivial query."""
    try:
        session.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
