"""The base of every spec section."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for spec sections: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
