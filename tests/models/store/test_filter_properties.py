"""Properties of the `filter=` language: any text parses or is a FilterError with a position,
and every filter that parses runs as SQL on both stores."""

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker

from models import store
from models.analysis.compare import flatten_spec
from models.metric_names import SUMMARY_METRICS
from models.spec.paths import spec_path_kind
from models.store.run_filter import (
    COLUMNS,
    INTEGER_COLUMNS,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    FilterError,
    parse_filter,
    parse_order,
)
from models.store.tables import DEFAULT_PROJECT_ID, MAX_INT, MIN_INT
from tests.factories import spec_dict

FAST = settings(max_examples=150, deadline=None)
# The `sessions` fixture is one rolled-back transaction for every example: the examples only read.
ON_A_STORE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _spec_fields() -> dict[str, str]:
    """Every scalar spec path a filter may name (a list by its first element), with its kind."""
    fields = {}
    for path, value in flatten_spec(spec_dict()).items():
        path = f"{path}.0" if isinstance(value, list) else path
        try:
            fields[f"spec.{path}"] = spec_path_kind(path)
        except ValueError:
            continue  # a section, e.g. training.early_stopping
    return fields


FIELDS: dict[str, str] = {
    **dict(COLUMNS),
    **{f"summary.{key}": "number" for key in SUMMARY_METRICS},
    **_spec_fields(),
}
# Tokens a careless user mixes up: a near miss of the grammar is where parsers break.
VOCABULARY = [
    *FIELDS, "spec.", "spec.model.hidden.99999999999999999999", "summary.nope", "nope",
    "and", "or", "not", "in", "AND", "Not", "(", ")", ",", "=", "!=", "<", "<=", ">", ">=",
    "==", "!", "'", '"', "'a'", '"b"', "''", "true", "FALSE", "null", "0", "-1", "1.5", ".5",
    "1e999", "-1e-999", "9" * 30, "2147483648", "-2147483649", "1e", "--1", "\x00", "\ud800",
    "é", "\t", "\n", "\u00a0", "\u3000",
]  # fmt: skip
near_misses = st.lists(st.sampled_from(VOCABULARY), max_size=30).map(" ".join)


def _quoted(text: str) -> str:
    return f'"{text}"' if "'" in text else f"'{text}'"


def _value(kind: str, integer: bool) -> st.SearchStrategy[str]:
    """A literal of this kind, or null, as filter text."""
    numbers: st.SearchStrategy[float] = (
        st.integers(MIN_INT, MAX_INT)
        if integer
        else st.integers(-(2**80), 2**80) | st.floats(allow_nan=False, allow_infinity=False)
    )
    literals = {
        "number": numbers.map(repr),
        "text": st.text(st.characters(exclude_characters='\x00"', codec="utf-8")).map(_quoted),
        "bool": st.sampled_from(["true", "false", "TRUE"]),
    }
    return literals[kind] | st.just("null")


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    """`field op value` or `field [not] in (...)`, with values of the field's kind."""
    name = draw(st.sampled_from(sorted(FIELDS)))
    value = _value(FIELDS[name], name in INTEGER_COLUMNS)
    if draw(st.booleans()):
        values = draw(st.lists(value, min_size=1, max_size=4))
        negated = draw(st.sampled_from(["", "not "]))
        return f"{name} {negated}in ({', '.join(values)})"
    op = draw(st.sampled_from(["=", "!="]))
    literal = draw(value)
    if literal != "null":  # null compares only with = and !=
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
    return f"{name} {op} {literal}"


Nested = tuple[str, int]  # a filter and the most parentheses and `not`s open at once in it


def _combine(inner: st.SearchStrategy[Nested]) -> st.SearchStrategy[Nested]:
    joined = st.tuples(inner, st.sampled_from([" and ", " OR "]), inner).map(
        lambda t: (t[0][0] + t[1] + t[2][0], max(t[0][1], t[2][1]))
    )
    negated = inner.map(lambda x: (f"not {x[0]}", x[1] + 1))
    return joined | negated | inner.map(lambda x: (f"({x[0]})", x[1] + 1))


well_formed = (
    st.recursive(comparisons().map(lambda text: (text, 0)), _combine, max_leaves=8)
    .filter(lambda nested: len(nested[0]) <= MAX_FILTER_LENGTH and nested[1] <= MAX_DEPTH)
    .map(lambda nested: nested[0])
)


def _longest(item: str, separator: str) -> str:
    """`item` repeated, joined by `separator`, as many times as the length bound allows."""
    return separator.join([item] * ((MAX_FILTER_LENGTH + len(separator)) // len(item + separator)))


LONGEST_CHAINS = [
    _longest("id = 1", " or "),
    _longest("spec.optimizer.lr > 0.0001", " and "),
    "status in (" + ", ".join(["'queued'"] * 198) + ")",
]


@FAST
@given(st.text(max_size=MAX_FILTER_LENGTH + 10) | near_misses)
@example("(" * 330 + "id = 1" + ")" * 330)
@example("not " * 490 + "id = 1")
@example("x" * (MAX_FILTER_LENGTH + 1))
def test_any_text_parses_or_is_a_filter_error_with_its_position(text: str) -> None:
    try:
        parse_filter(text)
    except FilterError as exc:
        assert 0 <= exc.position <= len(text) and exc.message, (exc, len(text))


@FAST
@given(st.text(max_size=300) | near_misses)
def test_any_order_parses_or_is_a_filter_error(text: str) -> None:
    try:
        parse_order(text)
    except FilterError as exc:
        assert 0 <= exc.position <= len(text) + 1, (exc, len(text))


@FAST
@given(well_formed)
def test_filters_of_the_grammar_parse(text: str) -> None:
    parse_filter(text)


@ON_A_STORE
@given(filter_text=well_formed, order=st.sampled_from([None, *sorted(FIELDS)]))
@example(filter_text=LONGEST_CHAINS[0], order="id").via("the longest or-chain")
@example(filter_text=LONGEST_CHAINS[1], order=None).via("the longest chain of spec numbers")
@example(filter_text=LONGEST_CHAINS[2], order=None).via("the longest in-list")
def test_parsed_filters_run_on_both_stores(
    sessions: sessionmaker[Any], varied_runs: list[int], filter_text: str, order: str | None
) -> None:
    with sessions() as session:
        page = store.list_runs(
            session=session,
            project_id=DEFAULT_PROJECT_ID,
            limit=5,
            cursor=None,
            where=parse_filter(filter_text),
            order=parse_order(f"{order} desc") if order else None,
        )
    assert {run.id for run in page.items} <= set(varied_runs)
    assert len(page.items) <= min(page.total, 5)
