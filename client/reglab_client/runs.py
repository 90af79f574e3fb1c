"""Runs: find them with the filter language, read, cancel, their curves and live events."""

from collections.abc import Iterator, Sequence
from typing import cast

from reglab_client.events import Event, follow
from reglab_client.http import Http, query
from reglab_client.pages import Pager
from reglab_client.types import Metrics, Page, Run


class Runs:
    """`client.runs`: the runs of the key's project."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def get(self, run_id: int) -> Run:
        """One run: status, epochs done, summary, error."""
        return cast(Run, self._http.json("GET", f"/runs/{run_id}"))

    def cancel(self, run_id: int) -> Run:
        """Cancel a queued or running run (ConflictError if it has ended)."""
        return cast(Run, self._http.json("POST", f"/runs/{run_id}/cancel"))

    def metrics(
        self, run_id: int, *, keys: Sequence[str] | None = None, max_points: int | None = None
    ) -> Metrics:
        """The run's per-epoch curves (all series unless `keys`), downsampled to `max_points`."""
        params = query(keys=",".join(keys) if keys else None, max_points=max_points)
        return cast(Metrics, self._http.json("GET", f"/runs/{run_id}/metrics", params=params))

    def events(self, run_id: int, *, last_event_id: str | None = None) -> Iterator[Event]:
        """The run's events as they happen (status, epoch, then end), from the beginning or
        right after `last_event_id`; the iteration ends with the run."""
        return follow(self._http, f"/runs/{run_id}/events", last_event_id)

    def wait(self, run_id: int) -> Run:
        """Block until the run has ended (following its events), then return it."""
        for _ in self.events(run_id):
            pass
        return self.get(run_id)

    # Last in the class: below it, `list` would name this method, not the builtin type.
    def list(
        self,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        experiment_id: int | None = None,
        page_size: int = 100,
    ) -> Pager[Run]:
        """Every run that matches, e.g. `filter="summary.test_acc > 0.9 and backend = 'torch'"`,
        `order_by="summary.test_acc desc"` (newest first by default), fetched page by page."""
        params = query(
            filter=filter, order_by=order_by, experiment_id=experiment_id, limit=page_size
        )

        def fetch(cursor: str | None) -> Page[Run]:
            page = self._http.json("GET", "/runs", params={**params, **query(cursor=cursor)})
            return cast(Page[Run], page)

        return Pager(fetch)
