"""Filters and sorts as SQL on both stores give exactly what SQL's three-valued logic over the
runs' own values gives, missing summaries and values of the wrong kind included."""

import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.pages import Page, encode_cursor
from models.store.run_filter import (
    BoolOp,
    Comparison,
    Field,
    In,
    Node,
    Not,
    parse_filter,
    parse_order,
)
from models.store.tables import DEFAULT_PROJECT_ID, Run, RunStatus, RunSummary
from tests.factories import make_spec

ON_A_STORE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Fields the runs below differ in, with values that match some of them (and some that don't).
FIELDS: dict[str, list[str]] = {
    "spec.regularization.dropout": ["0.3", "0.5", "0", "0.30000000000000004", "null"],
    "spec.model.hidden.0": ["64", "32", "16.0", "null"],
    "spec.model.hidden.1": ["64", "null"],
    "spec.regularization.batchnorm": ["true", "false", "null"],
    "spec.backend": ["'torch'", "'tensorflow'", "null"],
    "summary.test_acc": ["0.9", "0.7", "0.95", "null"],
    "summary.sparsity": ["0.1", "null"],
    "status": ["'succeeded'", "'failed'"],
}
ORDERED = {"spec.regularization.dropout", "spec.model.hidden.0", "summary.test_acc"}


@dataclass(frozen=True)
class Stored:
    """What a filter can see of a run."""

    id: int
    status: str
    spec: dict[str, Any]
    summary: dict[str, float]


@pytest.fixture
def runs(sessions: sessionmaker[Any]) -> list[Stored]:
    """Runs whose specs and summaries differ in FIELDS, some without a test accuracy, one with
    a dropout per layer (no scalar at `regularization.dropout`)."""
    dropouts: list[Any] = [0.3, 0.5, 0.0, [0.3, 0.3], 0.3, 0.5]
    hidden = [[64], [32, 64], [64, 64], [16, 16], [32], [64, 32]]
    made = []
    with sessions.begin() as session:
        for i in range(12):
            spec = make_spec(
                backend=["torch", "tensorflow"][i % 2],
                regularization={"dropout": dropouts[i % 6], "batchnorm": i % 3 == 0},
                model={"kind": "mlp", "hidden": hidden[i % 6]},
            )
            experiment = store.create_experiment(
                session=session, project_id=DEFAULT_PROJECT_ID, name=f"q{i}", spec=spec.model_dump()
            )
            run = experiment.runs[0]
            run.status = [RunStatus.SUCCEEDED, RunStatus.FAILED][i % 2]
            summary = {"test_acc": [0.9, 0.7, 0.95][i % 3]} if i % 4 else {}
            summary.update({"sparsity": 0.1} if i % 5 == 0 else {})
            session.add_all(RunSummary(run_id=run.id, name=k, value=v) for k, v in summary.items())
            session.flush()
            made.append(Stored(run.id, run.status, run.spec, summary))
    return made


def _value(run: Stored, field: Field) -> Any:
    """The run's value of a field, None where SQL has NULL."""
    if field.source == "column":
        return getattr(run, field.path)
    if field.source == "summary":
        return run.summary.get(field.path)
    value: Any = run.spec
    for part in field.path.split("."):
        index: Any = int(part) if part.isdigit() else part
        value = value[index] if isinstance(value, list | dict) and _has(value, index) else None
    if field.kind == "number":
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    return value


def _has(container: list[Any] | dict[str, Any], index: int | str) -> bool:
    if isinstance(container, list):
        return isinstance(index, int) and index < len(container)
    return index in container


def _truth(node: Node, run: Stored) -> bool | None:
    """SQL's three-valued logic over the run's values."""
    if isinstance(node, Comparison):
        value = _value(run, node.field)
        if node.value is None:
            return (value is None) == (node.op == "=")
        if value is None:
            return None
        ops = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__"}
        return bool(getattr(value, ops.get(node.op, "__ge__"))(node.value))
    if isinstance(node, In):
        value = _value(run, node.field)
        present = [v for v in node.values if v is not None]
        matched = None if value is None else value in present
        if None in node.values:
            matched = bool(value is None or matched)
        return None if matched is None else matched != node.negated
    if isinstance(node, Not):
        inner = _truth(node.operand, run)
        return None if inner is None else not inner
    assert isinstance(node, BoolOp)
    values = [_truth(operand, run) for operand in node.operands]
    decisive = node.op == "or"  # True decides an `or`, False an `and`
    if decisive in values:
        return decisive
    return None if None in values else not decisive


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(FIELDS)))
    values = FIELDS[name]
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
        return f"{name} {draw(st.sampled_from(['', 'not ']))}in ({', '.join(chosen)})"
    value = draw(st.sampled_from(values))
    ops = ["=", "!="] if value == "null" or name not in ORDERED else ["=", "!=", "<", ">="]
    return f"{name} {draw(st.sampled_from(ops))} {value}"


filters = st.recursive(
    comparisons(),
    lambda inner: (
        st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map("".join)
        | inner.map(lambda text: f"not ({text})")
    ),
    max_leaves=5,
)


@ON_A_STORE
@given(text=filters, order=st.sampled_from([None, *sorted(ORDERED)]), descending=st.booleans())
def test_filters_and_sorts_match_three_valued_logic(
    sessions: sessionmaker[Any], runs: list[Stored], text: str, order: str | None, descending: bool
) -> None:
    where = parse_filter(text)
    sort = parse_order(f"{order} {'desc' if descending else 'asc'}") if order else None
    matching = [run for run in runs if _truth(where, run) is True]
    if sort is None:
        expected = sorted((run.id for run in matching), reverse=True)
    else:
        # Missing values last either way, then by id in the sort's direction.
        def key(run: Stored) -> tuple[bool, float, int]:
            value = _value(run, sort.field)
            sign = -1 if sort.descending else 1
            return (value is None, sign * (value or 0.0), sign * run.id)

        expected = [run.id for run in sorted(matching, key=key)]
    # Pages of 5 (and one past the end), each with the same total.
    found, totals, cursor = [], set(), None
    with sessions() as session:

        def listed(cursor: str | None) -> Page[Run]:
            return store.list_runs(
                session=session,
                project_id=DEFAULT_PROJECT_ID,
                limit=5,
                cursor=cursor,
                where=where,
                order=sort,
            )

        while True:
            page = listed(cursor)
            found += [run.id for run in page.items]
            totals.add(page.total)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        if found:
            last = next(run for run in runs if run.id == found[-1])
            value = _value(last, sort.field) if sort else None
            beyond = listed(encode_cursor([last.id] if sort is None else [value, last.id]))
            assert (beyond.items, beyond.total) == ([], len(expected))
    assert (found, totals) == (expected, {len(expected)}), text


def test_a_page_reads_summaries_whole_nan_and_infinities_included(
    sessions: sessionmaker[Any],
) -> None:
    values = {"test_loss": math.nan, "weight_l2": math.inf, "test_acc": 0.25}
    with sessions.begin() as session:
        spec = make_spec().model_dump()
        experiment = store.create_experiment(
            session=session, project_id=DEFAULT_PROJECT_ID, name="nan", spec=spec
        )
        bare = store.create_experiment(
            session=session, project_id=DEFAULT_PROJECT_ID, name="bare", spec=spec
        )
        run_id, bare_id = experiment.runs[0].id, bare.runs[0].id
        session.add_all(RunSummary(run_id=run_id, name=k, value=v) for k, v in values.items())
    for order in (None, parse_order("summary.test_acc desc")):
        with sessions() as session:
            page = store.list_runs(
                session=session, project_id=DEFAULT_PROJECT_ID, limit=10, cursor=None, order=order
            )
            summaries = {run.id: run.summary for run in page.items}
        assert summaries[bare_id] is None
        read = summaries[run_id] or {}
        assert set(read) == set(values) and math.isnan(read["test_loss"])
        assert (read["weight_l2"], read["test_acc"]) == (math.inf, 0.25)
