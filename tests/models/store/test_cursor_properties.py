"""Properties of listing cursors: any string decodes for its sort or is a CursorError, cursors
handed out decode to their position, and following them visits every match once."""

import base64
import json
import math
from functools import partial
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.pages import CursorError, ValueKind, decode_cursor, encode_cursor
from models.store.run_filter import COLUMNS, parse_order
from models.store.tables import DEFAULT_PROJECT_ID, MAX_INT, MIN_INT, UNSTORABLE_TEXT

FAST = settings(max_examples=200, deadline=None)
ON_A_STORE = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SORTS: list[ValueKind | None] = [None, *get_args(ValueKind)]
ids = st.integers(1, MAX_INT)
storable_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
SORT_VALUES: dict[ValueKind, st.SearchStrategy[Any]] = {
    "integer": st.integers(MIN_INT, MAX_INT),
    "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(MIN_INT, MAX_INT),
    "text": storable_text,
    "bool": st.booleans(),
}
# Sort fields of every kind: integer and number columns, text, a summary value, spec values.
ORDERS = [None, *COLUMNS, "summary.test_acc", "spec.optimizer.lr", "spec.backend"]
ORDERS += ["spec.regularization.batchnorm", "spec.model.hidden.0"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Strings a client could send: any text, any bytes and any JSON in the cursor's own encoding.
cursors = (
    st.text(max_size=600)
    | st.binary(max_size=200).map(_b64)
    | json_values.map(lambda v: _b64(json.dumps(v).encode()))
)


@FAST
@given(cursor=cursors, sort=st.sampled_from(SORTS))
@example(cursor="é", sort=None)
@example(cursor=_b64(b"[" * 100_000), sort="number")
@example(cursor=_b64(b"[NaN, 1]"), sort="number")
@example(cursor=_b64(b"[1" + b"0" * 5000 + b"]"), sort=None)
@example(cursor=_b64(b'["\\ud800", 1]'), sort="text")
@example(cursor=_b64(b"\xff\xfe[1]"), sort=None)
def test_any_string_decodes_for_its_sort_or_is_a_cursor_error(
    cursor: str, sort: ValueKind | None
) -> None:
    try:
        position = decode_cursor(cursor, sort)
    except CursorError as exc:
        assert str(exc).startswith("cursor: ")
        return
    *value, last_id = position
    assert type(last_id) is int and MIN_INT <= last_id <= MAX_INT, position
    assert value == [] if sort is None else len(value) == 1 and _of_kind(value[0], sort), position


def _of_kind(value: Any, kind: ValueKind) -> bool:
    """Whether a decoded sort value can be compared with a column of this kind (null can)."""
    if value is None or kind == "bool":
        return value is None or type(value) is bool
    if kind == "text":
        return type(value) is str and not UNSTORABLE_TEXT.search(value)
    if kind == "number" and type(value) is float:
        return math.isfinite(value)
    return type(value) is int and MIN_INT <= value <= MAX_INT


@st.composite
def positions(draw: st.DrawFn) -> tuple[ValueKind | None, list[Any]]:
    """A sort and a position a page of it can end on: [id], or [value or null, id]."""
    sort = draw(st.sampled_from(SORTS))
    if sort is None:
        return sort, [draw(ids)]
    return sort, [draw(SORT_VALUES[sort] | st.none()), draw(ids)]


@FAST
@given(positions())
@example((None, [MAX_INT]))
@example(("number", [-0.0, 1]))
@example(("number", [5e-324, 1]))
@example(("text", ["", 1]))
def test_a_handed_out_cursor_decodes_to_its_position(
    sorted_position: tuple[ValueKind | None, list[Any]],
) -> None:
    sort, position = sorted_position
    decoded = decode_cursor(encode_cursor(position), sort)
    assert decoded == position and [type(v) for v in decoded] == [type(v) for v in position]


@ON_A_STORE
@given(
    # Decodable positions of every kind too, so that their values reach the SQL.
    cursor=cursors | positions().map(lambda sorted_position: encode_cursor(sorted_position[1])),
    order=st.sampled_from(ORDERS),
)
def test_any_cursor_on_a_store_is_a_page_or_a_cursor_error(
    sessions: sessionmaker[Any], varied_runs: list[int], cursor: str, order: str | None
) -> None:
    with sessions() as session:
        try:
            page = store.list_runs(
                session=session,
                project_id=DEFAULT_PROJECT_ID,
                limit=3,
                cursor=cursor,
                order=parse_order(order) if order else None,
            )
        except CursorError:
            return
    assert {run.id for run in page.items} <= set(varied_runs)


@pytest.mark.parametrize("order", ORDERS)  # each kind of sort, not left to chance
@settings(ON_A_STORE, max_examples=6)
@given(descending=st.booleans(), limit=st.integers(1, 5))
def test_following_cursors_visits_every_run_once_in_order(
    sessions: sessionmaker[Any],
    varied_runs: list[int],
    order: str | None,
    descending: bool,
    limit: int,
) -> None:
    sort = parse_order(f"{order} {'desc' if descending else 'asc'}") if order else None
    pages = partial(store.list_runs, project_id=DEFAULT_PROJECT_ID, order=sort)
    with sessions() as session:
        everything = [run.id for run in pages(session=session, limit=500, cursor=None).items]
        visited: list[int] = []
        cursor = None
        for _ in range(len(varied_runs) + 1):
            page = pages(session=session, limit=limit, cursor=cursor)
            assert page.total == len(varied_runs)
            visited += [run.id for run in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert visited == everything and sorted(visited) == sorted(varied_runs)
