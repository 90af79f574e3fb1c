"""A parsed run filter as SQL: spec fields from the JSON column, summary values by outer join.

A summary value is one outer-joined `run_summary` row per key: at most one per run, so a
missing value is NULL exactly as a correlated subquery's would be, but the planner may start
from `ix_run_summary_name_value` and find the runs in a range of values by index.

On Postgres a spec number's equality also asks `spec @> {path: value}`, about three times
cheaper per run than reading the number out, so most runs are dismissed by that. It is
implied by the equality (a JSON number equal to the value as a double is that number, below
2**53), so it only narrows, and it is added only where no `not` is above: there a NULL and a
false comparison would differ.
"""

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, not_, or_, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import literal

from models.store.run_filter import Comparison, Field, In, Node, Not, Scalar
from models.store.tables import Run, RunSummary

COLUMNS: dict[str, Any] = {
    "status": Run.status,
    "backend": Run.backend,
    "experiment": Run.experiment_id,
    "id": Run.id,
    "seed": Run.seed,
    "epochs_done": Run.epochs_done,
    "objective": Run.objective_value,
}
# Doubles are integers exactly up to here, so a JSON number equal to one as a double (what the
# filter compares) is numerically equal to it (what `@>` compares).
EXACT_INTEGERS = 2**53


def _spec_path(field: Field) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in field.path.split("."))


def _spec_number(path: tuple[str | int, ...], dialect: str) -> ColumnElement[Any]:
    """A spec value as a float where it is a JSON number, else NULL (never a cast error)."""
    element = Run.spec[path]
    if dialect == "postgresql":
        is_number = func.jsonb_typeof(element) == "number"
    else:
        json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in path)
        is_number = func.json_type(Run.spec, literal(json_path)).in_(("integer", "real"))
    return case((is_number, element.as_float()))


def _literal(field: Field, value: Scalar) -> Scalar:
    """Numbers compared with doubles bind as doubles: in `in (0, 0.3)` an int first would
    type every value as an integer on Postgres, and 0.3 would compare as 0."""
    floats = field.kind == "number" and (field.source != "column" or field.path == "objective")
    return float(value) if floats and isinstance(value, int | float) else value


class RunFields:
    """Filter and sort fields of the `run` table as SQL, for one query on one dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._summaries: dict[str, Any] = {}  # summary key -> its outer-joined alias

    def expression(self, field: Field) -> ColumnElement[Any]:
        """The SQL expression for one filter or sort field."""
        if field.source == "column":
            column: ColumnElement[Any] = COLUMNS[field.path]
            return column
        if field.source == "summary":
            if field.path not in self._summaries:
                self._summaries[field.path] = aliased(RunSummary, name=f"summary_{field.path}")
            value: ColumnElement[Any] = self._summaries[field.path].value
            return value
        path = _spec_path(field)
        if field.kind == "number":
            return _spec_number(path, self.dialect)
        element = Run.spec[path]
        typed: ColumnElement[Any] = (
            element.as_boolean() if field.kind == "bool" else element.as_string()
        )
        return typed

    def joined(self, query: Select[Any]) -> Select[Any]:
        """`query` with the summary rows its fields name (call after every field is built)."""
        for key, alias in self._summaries.items():
            query = query.outerjoin(alias, and_(alias.run_id == Run.id, alias.name == key))
        return query

    def condition(self, node: Node, positive: bool = True) -> ColumnElement[bool]:
        """The WHERE clause for a parsed filter; `positive`: no `not` above this node."""
        if isinstance(node, Comparison):
            compared = self._compare(node)
            return and_(self._contains(node), compared) if positive else compared
        if isinstance(node, In):
            column = self.expression(node.field)
            present = [_literal(node.field, v) for v in node.values if v is not None]
            nulls = [column.is_(None)] if None in node.values else []
            matched = or_(column.in_(present), *nulls)
            return not_(matched) if node.negated else matched
        if isinstance(node, Not):
            return not_(self.condition(node.operand, positive=False))
        parts = [self.condition(operand, positive) for operand in node.operands]
        return and_(*parts) if node.op == "and" else or_(*parts)

    def _contains(self, node: Comparison) -> ColumnElement[bool]:
        """`spec @> {path: value}` where a spec number's equality implies it, else true."""
        field, value = node.field, node.value
        if (
            self.dialect != "postgresql"
            or field.source != "spec"
            or field.kind != "number"
            or node.op != "="
            or not isinstance(value, int | float)
            or abs(value) >= EXACT_INTEGERS
        ):
            return true()
        document: Any = float(value)
        for part in reversed(_spec_path(field)):
            # A list index: containment finds the value at any position, which one implies.
            document = [document] if isinstance(part, int) else {part: document}
        return type_coerce(Run.spec, JSONB).contains(document)

    def _compare(self, node: Comparison) -> ColumnElement[bool]:
        column = self.expression(node.field)
        if node.value is None:
            return column.is_(None) if node.op == "=" else column.is_not(None)
        operations = {
            "=": column.__eq__,
            "!=": column.__ne__,
            "<": column.__lt__,
            "<=": column.__le__,
            ">": column.__gt__,
            ">=": column.__ge__,
        }
        return operations[node.op](_literal(node.field, node.value))
