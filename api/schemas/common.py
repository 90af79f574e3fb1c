"""Types shared by the bodies of REST v1."""

import math
from typing import Annotated, Any

from pydantic import BeforeValidator

from models.spec import ExperimentSpec


def _finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged value reads as null."""
    return value if value is not None and math.isfinite(value) else None


JsonFloat = Annotated[float | None, BeforeValidator(_finite_or_none)]
SPEC_EXAMPLE: dict[str, Any] = ExperimentSpec.model_config["json_schema_extra"]["example"]  # type: ignore[index,assignment]
