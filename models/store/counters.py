"""Deployment-wide counters: every process adds to the same rows, so any one reads the totals."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.store.tables import ServiceCounter


@dataclass(frozen=True)
class CounterValue:
    """A counter's total and when a process last added to it."""

    value: int
    updated_at: datetime


def add_counts(*, session: Session, counts: Mapping[str, int], now: datetime) -> None:
    """Add each count to its counter in one statement (a new counter starts at 0); a count of
    0 leaves its counter, and when it was last added to, as they are.

    The addition happens in the database (`value = value + n`), so processes adding at once
    never lose each other's counts.
    """
    rows = [{"name": name, "value": n, "updated_at": now} for name, n in counts.items() if n]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ServiceCounter)
    statement = insert.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "value": ServiceCounter.value + insert.excluded.value,
            "updated_at": insert.excluded.updated_at,
        },
    )
    session.execute(statement, rows)


def read_counts(*, session: Session) -> dict[str, CounterValue]:
    """Every counter's total, by name."""
    rows = session.execute(
        select(ServiceCounter.name, ServiceCounter.value, ServiceCounter.updated_at)
    )
    return {name: CounterValue(value, updated_at) for name, value, updated_at in rows}
