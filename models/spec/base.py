"""The base of every spec section, and the error of a spec that does not fit its dataset."""

from pydantic import BaseModel, ConfigDict, ValidationError

Loc = tuple[str | int, ...]


class StrictModel(BaseModel):
    """Base for spec sections: unknown fields and non-finite numbers are errors."""

    # NaN passes every bound check (each comparison is false) and no store keeps it as JSON.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SpecError(ValueError):
    """A spec valid field by field that breaks a bound once resolved; `loc` names the field."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message

    def within(self, *prefix: str | int) -> "SpecError":
        """The same error, its location under `prefix` (e.g. the request body's `spec`)."""
        return SpecError((*prefix, *self.loc), self.message)


def problem_of(exc: ValidationError) -> str:
    """A pydantic error as one short line naming the field (no input echo, no links)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "spec"
    message = first["msg"].removeprefix("Value error, ")
    more = exc.error_count() - 1
    return f"{where}: {message}" + (f" (and {more} more)" if more else "")
