"""A parsed run filter as SQL: spec fields from the JSON column, summary values by subquery."""

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
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


def _spec_number(path: tuple[str | int, ...], dialect: str) -> ColumnElement[Any]:
    """A spec value as a float where it is a JSON number, else NULL (never a cast error)."""
    element = Run.spec[path]
    if dialect == "postgresql":
        is_number = func.jsonb_typeof(element) == "number"
    else:
        json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in path)
        is_number = func.json_type(Run.spec, literal(json_path)).in_(("integer", "real"))
    return case((is_number, element.as_float()))


def field_expression(field: Field, dialect: str) -> ColumnElement[Any]:
    """The SQL expression for one filter or sort field of the `run` table."""
    if field.source == "column":
        column: ColumnElement[Any] = COLUMNS[field.path]
        return column
    if field.source == "summary":
        return (
            select(RunSummary.value)
            .where(RunSummary.run_id == Run.id, RunSummary.name == field.path)
            .correlate(Run)
            .scalar_subquery()
        )
    path = tuple(int(p) if p.isdigit() else p for p in field.path.split("."))
    if field.kind == "number":
        return _spec_number(path, dialect)
    element = Run.spec[path]
    typed: ColumnElement[Any] = (
        element.as_boolean() if field.kind == "bool" else element.as_string()
    )
    return typed


def _literal(field: Field, value: Scalar) -> Scalar:
    """Numbers compared with doubles bind as doubles: in `in (0, 0.3)` an int first would
    type every value as an integer on Postgres, and 0.3 would compare as 0."""
    floats = field.kind == "number" and (field.source != "column" or field.path == "objective")
    return float(value) if floats and isinstance(value, int | float) else value


def _compare(node: Comparison, dialect: str) -> ColumnElement[bool]:
    column = field_expression(node.field, dialect)
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


def condition(node: Node, dialect: str) -> ColumnElement[bool]:
    """The WHERE clause for a parsed filter."""
    if isinstance(node, Comparison):
        return _compare(node, dialect)
    if isinstance(node, In):
        column = field_expression(node.field, dialect)
        present = [_literal(node.field, v) for v in node.values if v is not None]
        matched = or_(column.in_(present), *([column.is_(None)] if None in node.values else []))
        return not_(matched) if node.negated else matched
    if isinstance(node, Not):
        return not_(condition(node.operand, dialect))
    parts = [condition(operand, dialect) for operand in node.operands]
    return and_(*parts) if node.op == "and" else or_(*parts)
