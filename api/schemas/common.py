"""Types shared by the bodies of REST v1."""

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from models.spec import ExperimentSpec


def _finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged value reads as null."""
    return value if value is not None and math.isfinite(value) else None


JsonFloat = Annotated[float | None, BeforeValidator(_finite_or_none)]
SPEC_EXAMPLE: dict[str, Any] = ExperimentSpec.model_config["json_schema_extra"]["example"]  # type: ignore[index,assignment]
KEY_ID_EXAMPLE = "3f9a0c12b7de"


def key_field(did: str) -> Any:
    """A field giving the public id of the API key that `did` the object (who did what)."""
    return Field(
        description=f"The key id (the 12 hex digits after `rl_`, never the secret) of the API "
        f"key that {did} it; null if none did (before keys existed, or by the admin CLI).",
        examples=[KEY_ID_EXAMPLE],
    )
