"""Admin schemas: projects and their API keys (a key's secret is shown once, at creation)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["read", "write", "admin", "metrics"]
KEY_ID_EXAMPLE = "3f9a0c12b7de"


class ProjectCreate(BaseModel):
    """A new project: its objects are sealed from every other project's keys."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Unique project name.",
        examples=["vision-team"],
    )


class ProjectRead(BaseModel):
    """A project."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Project id, as `project_id` of its keys.", examples=[2])
    name: str = Field(description="Unique project name.", examples=["vision-team"])
    created_at: datetime = Field(description="When it was made (UTC).")


class KeyCreate(BaseModel):
    """A new API key of the caller's project."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=100, description="What it is for.", examples=["ci pipeline"]
    )
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=4,
        description="`read` (GET), `write` (and read), `admin` (its project's keys, and read "
        'and write; admin keys of project "default" also manage projects), `metrics` '
        '(`GET /metrics` alone, with a key of project "default": for a monitoring host).',
        examples=[["read", "write"]],
    )
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="Days until it stops working; null: it works until revoked. Never later "
        "than the expiry of the key that makes it.",
        examples=[90],
    )


class KeyRead(BaseModel):
    """An API key as stored: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    key_id: str = Field(
        description="Public id: the 12 hex digits after `rl_` in the key.",
        examples=[KEY_ID_EXAMPLE],
    )
    project_id: int = Field(description="The project it acts for.", examples=[2])
    name: str = Field(description="What it is for.", examples=["ci pipeline"])
    scopes: list[Scope] = Field(description="What it may do.", examples=[["read", "write"]])
    created_at: datetime = Field(description="When it was made (UTC).")
    expires_at: datetime | None = Field(description="When it stops working; null: never.")
    revoked_at: datetime | None = Field(description="When it was revoked; null: it was not.")
    last_used_at: datetime | None = Field(
        description="Its last accepted request, to the minute; null: never used."
    )


class KeyCreated(KeyRead):
    """A key just made: the only response that ever holds its secret."""

    key: str = Field(
        description="The key itself, `rl_<key id>_<secret>`: store it now, it is not shown "
        "again (only a keyed hash of it is kept). Send it as `Authorization: Bearer <key>`.",
        examples=[f"rl_{KEY_ID_EXAMPLE}_" + "x" * 43],
    )


class ProjectCreated(ProjectRead):
    """A project just made, with its first admin key: the only response that holds that key."""

    admin_key: KeyCreated = Field(
        description="The new project's first key (all scopes): its objects are reached only "
        "with its own keys, so this is how anyone gets in. Store it now."
    )
