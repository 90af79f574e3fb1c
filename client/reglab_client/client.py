"""`Client`: every route of the reglab API as a typed method."""

from collections.abc import Sequence
from types import TracebackType
from typing import Literal, Self, cast

import httpx

from reglab_client.admin import Admin
from reglab_client.artifacts import Artifacts
from reglab_client.datasets import Datasets
from reglab_client.experiments import Experiments
from reglab_client.http import DEFAULT_RETRY, Http, Retry, query
from reglab_client.runs import Runs
from reglab_client.types import Comparison, Health, Worker


class Client:
    """A client of one reglab API, acting with one API key (a project's).

    `url` and `api_key` default to $REGLAB_URL (else http://127.0.0.1:8000) and
    $REGLAB_API_KEY. Reads, submissions (with an Idempotency-Key) and uploads are sent again
    after a 503 or a lost connection, with backoff; other writes only when the connection never
    reached the API. Refusals raise ApiError subclasses carrying the API's error list.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: Retry = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = Http(url, api_key, timeout=timeout, retry=retry, transport=transport)
        self.url = self._http.url
        self.experiments = Experiments(self._http)
        self.runs = Runs(self._http)
        self.datasets = Datasets(self._http)
        self.artifacts = Artifacts(self._http)
        self.admin = Admin(self._http)

    def compare(
        self,
        run_ids: Sequence[int],
        *,
        keys: Sequence[str] | None = None,
        group_seeds: bool = False,
        max_points: int | None = None,
    ) -> Comparison:
        """Curves and summaries of 2 or more runs side by side (the first is the reference),
        the spec fields that differ, and with `group_seeds` seed means and intervals."""
        params = query(
            run_ids=",".join(map(str, run_ids)),
            keys=",".join(keys) if keys else None,
            group_seeds=group_seeds,
            max_points=max_points,
        )
        return cast(Comparison, self._http.json("GET", "/compare", params=params))

    def compare_plot(
        self,
        run_ids: Sequence[int],
        *,
        key: str = "val_acc",
        format: Literal["png", "svg"] = "png",
        group_seeds: bool = False,
    ) -> bytes:
        """The image of one series of several runs overlaid, labelled by what differs."""
        params = query(
            run_ids=",".join(map(str, run_ids)), key=key, format=format, group_seeds=group_seeds
        )
        return self._http.request("GET", "/compare/plot", params=params).content

    def workers(self) -> list[Worker]:
        """The live workers: backends, CUDA, queues, last beat."""
        return cast(list[Worker], self._http.json("GET", "/workers"))

    def health(self) -> Health:
        """Store, broker and reconciler, and the live workers' count (no key needed); a
        degraded API raises UnavailableError, whose `body` is this same report."""
        return cast(Health, self._http.json("GET", "/health"))

    def metrics(self) -> str:
        """The Prometheus text of `GET /metrics` (a key with the `metrics` scope, or admin)."""
        return self._http.request("GET", "/metrics").text

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
