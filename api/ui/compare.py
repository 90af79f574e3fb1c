"""The browser view: the compare page(s)."""

from fastapi import APIRouter

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
