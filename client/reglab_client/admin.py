"""Projects and API keys: what an admin key may do (a key's secret is shown once)."""

from collections.abc import Sequence
from typing import TypedDict, cast

from reglab_client.http import Http


class Project(TypedDict):
    """A project."""

    id: int
    name: str
    created_at: str


class Key(TypedDict):
    """An API key as stored (never its secret)."""

    key_id: str
    project_id: int
    name: str
    scopes: list[str]
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class KeyCreated(Key):
    """A key just made, with its secret (shown once)."""

    key: str


class ProjectCreated(Project):
    """A project just made, with its first admin key."""

    admin_key: KeyCreated


class Admin:
    """`client.admin`: the caller's project's keys; projects, for project default's admins."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def projects(self) -> list[Project]:
        """Every project (operators only: admin keys of project default)."""
        return cast(list[Project], self._http.json("GET", "/admin/projects"))

    def create_project(self, name: str) -> ProjectCreated:
        """A new project, with its first admin key (its only showing)."""
        body = {"name": name}
        return cast(ProjectCreated, self._http.json("POST", "/admin/projects", json=body))

    def keys(self) -> list[Key]:
        """The caller's project's keys (never their secrets)."""
        return cast(list[Key], self._http.json("GET", "/admin/keys"))

    def create_key(
        self, name: str, scopes: Sequence[str], *, expires_in_days: int | None = None
    ) -> KeyCreated:
        """A new key of the caller's project (`read`, `write`, `admin`, `metrics` scopes)."""
        body = {"name": name, "scopes": list(scopes), "expires_in_days": expires_in_days}
        return cast(KeyCreated, self._http.json("POST", "/admin/keys", json=body))

    def revoke_key(self, key_id: str) -> Key:
        """Revoke a key of the caller's project: it stops working at once."""
        return cast(Key, self._http.json("POST", f"/admin/keys/{key_id}/revoke"))
