"""What a dotted spec path names, read off the ExperimentSpec schema (for filters and sorting)."""

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel

from models.spec import ExperimentSpec

LeafKind = Literal["number", "text", "bool"]


def _kind(annotation: Any) -> str:
    """number, text, bool, list or section for one field annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind(arg) for arg in typing.get_args(annotation) if arg is not type(None)}
        # `dropout: float | list[float]`: a scalar where there is one.
        scalar = kinds - {"list"}
        return scalar.pop() if len(scalar) == 1 else "list"
    if origin is Literal:
        return "text"
    if origin is list:
        return "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return {bool: "bool", int: "number", float: "number", str: "text"}.get(annotation, "other")


def _list_element(annotation: Any) -> Any:
    """The element type if the annotation is a list (or a union with one), else None."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _list_element(typing.get_args(annotation)[0])
    if origin is list:
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        elements = [_list_element(arg) for arg in typing.get_args(annotation)]
        return next((e for e in elements if e is not None), None)
    return None


def spec_path_kind(path: str) -> LeafKind:
    """The kind of value at a dotted spec path; ValueError if the spec has no such field.

    A list element is addressed by its index, e.g. `model.hidden.0`.
    """
    model: type[BaseModel] = ExperimentSpec
    annotation: Any = None
    parts = path.split(".")
    for depth, part in enumerate(parts):
        element = _list_element(annotation) if part.isdigit() else None
        if element is not None:
            annotation = element
            continue
        in_section = annotation is None or _kind(annotation) == "section"
        field = model.model_fields.get(part) if in_section else None
        if field is None:
            raise ValueError(f"spec has no field {'.'.join(parts[: depth + 1])!r}")
        annotation = field.annotation
        if _kind(annotation) == "section":
            model = annotation
    kind = _kind(annotation)
    if kind == "list":
        raise ValueError(f"spec.{path} is a list; name one element, e.g. spec.{path}.0")
    if kind not in ("number", "text", "bool"):
        raise ValueError(f"spec.{path} is a section; name one of its fields")
    return kind  # type: ignore[return-value]
