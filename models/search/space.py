"""A search's space applied to a spec: resolve one configuration, validate them all up front."""

import copy
import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from models.search.spec import Range, SearchSpec
from models.spec import ExperimentSpec, SpecError
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


def _candidates(dimension: list[Any] | Range) -> list[Any]:
    """The values of one dimension that validation tries: every listed value, or both ends."""
    if isinstance(dimension, list):
        return dimension
    low, high = dimension.bounds
    return [int(low), int(high)] if dimension.kind == "int_uniform" else [low, high]


def _combinations(search: SearchSpec) -> Iterator[dict[str, Any]]:
    """Every combination of candidates, or each dimension on its own when there are too many."""
    paths = list(search.space)
    candidates = [_candidates(search.space[p]) for p in paths]
    if math.prod(len(values) for values in candidates) <= MAX_VALIDATED_COMBINATIONS:
        for combination in itertools.product(*candidates):
            yield dict(zip(paths, combination, strict=True))
        return
    for path, values in zip(paths, candidates, strict=True):
        for value in values:
            yield {path: value}


def validate_search(base: ExperimentSpec, search: SearchSpec, catalog: Catalog) -> None:
    """Raise SpecError naming the field if any configuration the search can try is invalid.

    Ranges are checked at both ends; with a grid (or few enough combinations) every
    combination is validated and resolved exactly as a single spec would be.
    """
    dumped = base.model_dump()
    for values in _combinations(search):
        try:
            resolve(
                ExperimentSpec.model_validate(configuration_spec(dumped, values, base.seed)),
                catalog,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "spec"
            raise _invalid(values, f"{where}: {first['msg']}") from None
        except SpecError as exc:
            raise _invalid(values, exc.message) from None


def _invalid(values: dict[str, Any], problem: str) -> SpecError:
    """The error of one configuration of the search space."""
    return SpecError(
        ("search", "space"), f"search.space: the configuration {values} is invalid: {problem}"
    )
