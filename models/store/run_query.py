"""A parsed run filter as SQL: spec fields from the JSON column, summary values by outer join.

A summary value is one outer-joined `run_summary` row per key: at most one per run, so a
missing value is NULL exactly as a correlated subquery's would be, but the planner may start
from `ix_run_summary_name_value` and find the runs in a range of values by index.
"""

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, not_, or_
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

    def condition(self, node: Node) -> ColumnElement[bool]:
        """The WHERE clause for a parsed filter."""
        if isinstance(node, Comparison):
            return self._compare(node)
        if isinstance(node, In):
            column = self.expression(node.field)
            present = [_literal(node.field, v) for v in node.values if v is not None]
            nulls = [column.is_(None)] if None in node.values else []
            matched = or_(column.in_(present), *nulls)
            return not_(matched) if node.negated else matched
        if isinstance(node, Not):
            return not_(self.condition(node.operand))
        parts = [self.condition(operand) for operand in node.operands]
        return and_(*parts) if node.op == "and" else or_(*parts)

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
