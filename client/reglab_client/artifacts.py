"""Artifacts: what a run left behind (weights, manifest), listed and downloaded, checked."""

import hashlib
from pathlib import Path
from typing import cast

from reglab_client.errors import ReglabError
from reglab_client.http import Http
from reglab_client.types import Artifact


class Artifacts:
    """`client.artifacts`: the files of the project's runs."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def download(self, run_id: int, folder: str | Path) -> list[Path]:
        """Download every file of the run into `folder` (made if missing), each checked
        against its sha256 before it takes its name; the paths written."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        return [self._fetch(artifact, target) for artifact in self.list(run_id)]

    def _fetch(self, artifact: Artifact, folder: Path) -> Path:
        """One file, streamed to a partial file, renamed once its hash matches; the partial
        file is removed if anything fails (a dropped connection, a full disk, a bad hash)."""
        path, partial = folder / artifact["name"], folder / f".{artifact['name']}.part"
        digest = hashlib.sha256()
        try:
            with self._http.stream(artifact["url"]) as response, partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != artifact["sha256"]:
                raise ReglabError(f"{artifact['url']}: the bytes received do not match its sha256")
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    # Last in the class: below it, `list` would name this method, not the builtin type.
    def list(self, run_id: int) -> list[Artifact]:
        """The run's files: name, size, sha256 (empty until it has ended)."""
        return cast(list[Artifact], self._http.json("GET", f"/runs/{run_id}/artifacts"))
