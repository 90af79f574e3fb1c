"""The browser view: the run page(s)."""

from fastapi import APIRouter

router = APIRouter(prefix="/ui", tags=["browser view"], include_in_schema=False)
