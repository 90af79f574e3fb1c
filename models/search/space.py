"""A search's space applied to a spec: resolve one configuration, validate them all up front."""

import copy
import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from models.search.spec import MAX_CHOICES, Range, SearchSpec
from models.spec import ExperimentSpec, SpecError
from models.spec.base import problem_of
from models.spec.catalog import Catalog
from models.spec.resolve import resolve

MAX_VALIDATED_COMBINATIONS = 4096


def configuration_spec(
    base: Mapping[str, Any], values: Mapping[str, Any], seed: int
) -> dict[str, Any]:
    """The base spec (dumped, defaults filled) with dotted paths set and `seed` replaced.

    SpecError if a path names no field of the spec.
    """
    spec = copy.deepcopy(dict(base))
    for path, value in values.items():
        *parents, leaf = path.split(".")
        node = spec
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None  # type: ignore[assignment]
        if not isinstance(node, dict) or leaf not in node:
            raise SpecError(("search", "space", path), f"search.space.{path}: no such spec field")
        node[leaf] = value
    spec["seed"] = seed
    return spec


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ends(dimension: list[Any] | Range) -> list[Any]:
    """The values a dimension takes in the corners: both ends of a range or of a list of
    numbers (every bound that spans fields grows or shrinks with each number), every other
    listed value (lists, text, booleans: no order to take ends of)."""
    if isinstance(dimension, Range):
        low, high = dimension.bounds
        return [int(low), int(high)] if dimension.kind == "int_uniform" else [low, high]
    if len(dimension) > 2 and all(_is_number(value) for value in dimension):
        return [min(dimension), max(dimension)]
    return dimension


def _between(dimension: list[Any] | Range) -> list[Any]:
    """Values strictly between the ends that rules of one field alone may refuse (an even
    kernel size): listed numbers, and every integer of a short integer range."""
    ends = _ends(dimension)
    if isinstance(dimension, Range):
        low, high = ends
        short = dimension.kind == "int_uniform" and high - low <= MAX_CHOICES
        return list(range(low + 1, high)) if short else []
    return [value for value in dimension if value not in ends]


def _combinations(search: SearchSpec) -> Iterator[dict[str, Any]]:
    """Every combination of listed values and range ends when there are few enough (always
    for a grid), else every corner; then each value between the ends that these skipped,
    beside the first of them. SpecError if even the corners are too many to validate."""
    paths = list(search.space)
    dimensions = [search.space[path] for path in paths]
    full = [_ends(d) if isinstance(d, Range) else d for d in dimensions]
    exhaustive = math.prod(len(values) for values in full) <= MAX_VALIDATED_COMBINATIONS
    chosen = full if exhaustive else [_ends(d) for d in dimensions]
    count = math.prod(len(values) for values in chosen)
    if count > MAX_VALIDATED_COMBINATIONS:
        raise SpecError(
            ("search", "space"),
            f"search.space: {count:,} corner combinations to validate (both ends of each range "
            f"and list of numbers, every other listed value) exceed {MAX_VALIDATED_COMBINATIONS:,}"
            "; vary fewer fields, or list fewer non-numeric values",
        )
    yield from (dict(zip(paths, c, strict=True)) for c in itertools.product(*chosen))
    first = {path: values[0] for path, values in zip(paths, chosen, strict=True)}
    for path, dimension in zip(paths, dimensions, strict=True):
        if isinstance(dimension, Range) or not exhaustive:
            yield from ({**first, path: value} for value in _between(dimension))


def validate_search(base: ExperimentSpec, search: SearchSpec, catalog: Catalog) -> None:
    """Raise SpecError naming the field if any configuration the search can try is invalid.

    Exact: every combination is validated and resolved as a single spec would be, or, past
    4,096 of them, every corner of the space (the bounds across fields are monotone in each
    number) and each value between the ends on its own.
    """
    dumped = base.model_dump()
    for values in _combinations(search):
        try:
            resolve(
                ExperimentSpec.model_validate(configuration_spec(dumped, values, base.seed)),
                catalog,
            )
        except ValidationError as exc:
            raise _invalid(values, problem_of(exc)) from None
        except SpecError as exc:
            raise _invalid(values, exc.message) from None


def _invalid(values: dict[str, Any], problem: str) -> SpecError:
    """The error of one configuration of the search space."""
    return SpecError(
        ("search", "space"), f"search.space: the configuration {values} is invalid: {problem}"
    )
