"""Experiments: submit a spec (and a search), read, cancel, report, plot, follow."""

import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Literal, cast

from reglab_client.events import Event, follow
from reglab_client.http import Http, query
from reglab_client.pages import Pager
from reglab_client.types import Experiment, Page, Report

ImageFormat = Literal["png", "svg"]


class Experiments:
    """`client.experiments`: the experiments of the key's project."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def submit(
        self,
        name: str,
        spec: dict[str, Any],
        search: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Experiment:
        """Queue a spec's run (or a search's runs) and return the experiment at once.

        One Idempotency-Key is sent with every attempt of this call (a fresh UUID unless given),
        so a retry after a lost response returns the experiment instead of making a second one.
        """
        body: dict[str, Any] = {"name": name, "spec": spec}
        if search is not None:
            body["search"] = search
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        response = self._http.json(
            "POST", "/experiments", json=body, headers=headers, idempotent=True
        )
        return cast(Experiment, response)

    def get(self, experiment_id: int) -> Experiment:
        """One experiment with the status of each of its runs."""
        return cast(Experiment, self._http.json("GET", f"/experiments/{experiment_id}"))

    def cancel(self, experiment_id: int) -> Experiment:
        """Cancel its queued and running runs; a search starts no more."""
        path = f"/experiments/{experiment_id}/cancel"
        return cast(Experiment, self._http.json("POST", path))

    def report(self, experiment_id: int, *, target_val_acc: float | None = None) -> Report:
        """Its settings, best first, with seed means and 95% intervals, and a verdict."""
        params = query(target_val_acc=target_val_acc)
        path = f"/experiments/{experiment_id}/report"
        return cast(Report, self._http.json("GET", path, params=params))

    def plot(
        self,
        experiment_id: int,
        x: str,
        *,
        y: Sequence[str] | None = None,
        format: ImageFormat = "png",
        target_val_acc: float | None = None,
    ) -> bytes:
        """The image of summary figures (`y`) against the swept spec path `x`."""
        params = query(
            x=x, y=",".join(y) if y else None, format=format, target_val_acc=target_val_acc
        )
        return self._http.request(
            "GET", f"/experiments/{experiment_id}/plot", params=params
        ).content

    def events(self, experiment_id: int, *, last_event_id: str | None = None) -> Iterator[Event]:
        """Every run's events as they happen, then one end once all have ended."""
        return follow(self._http, f"/experiments/{experiment_id}/events", last_event_id)

    # Last in the class: below it, `list` would name this method, not the builtin type.
    def list(self, *, page_size: int = 100) -> Pager[Experiment]:
        """Every experiment, newest first, fetched page by page."""

        def fetch(cursor: str | None) -> Page[Experiment]:
            params = query(limit=page_size, cursor=cursor)
            return cast(Page[Experiment], self._http.json("GET", "/experiments", params=params))

        return Pager(fetch)
