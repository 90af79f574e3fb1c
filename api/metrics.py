"""What `GET /metrics` serves: HTTP requests counted and timed by prometheus-fastapi-instrumentator,
and the deployment's figures read from the store at each scrape, so that every API process
gives the same answer."""

import logging
from collections import Counter
from collections.abc import Iterator
from typing import get_args

from fastapi import FastAPI
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.auth import METRICS_PATH
from models.messaging.queue import ALL_QUEUES, queue_for
from models.services.reconciler import FAILURES, PASSES, RUNS_SENT
from models.spec.experiment import Backend
from models.store import counters, gauges
from models.store.db import is_outage
from models.store.tables import RunStatus, utcnow

log = logging.getLogger(__name__)
RECONCILER_COUNTERS = {
    PASSES: "Reconciler passes completed, by every API process of the deployment.",
    FAILURES: "Reconciler passes that raised (counted once the store takes the count).",
    RUNS_SENT: "Runs the reconciler sent to their queues again (lost, lapsed or unsent).",
}
STORE_UP = "1 if the store answered this scrape, else 0 (and no store figures this time)."
EPOCHS_PER_SECOND = (
    "Training speed of the deployment: the sum over running runs of 1 / the seconds their "
    "latest recorded epoch took (their epoch_seconds at epochs_done)."
)


def instrument(app: FastAPI) -> CollectorRegistry:
    """Count and time the app's requests by route template and status class (2xx, 4xx, ...),
    in a registry of the app's own, with this process's CPU, memory and GC figures."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    Instrumentator(
        should_group_status_codes=True,
        # An event stream is timed to its first byte, not for as long as a client follows it.
        should_exclude_streaming_duration=True,
        excluded_handlers=[f"^{METRICS_PATH}$"],
        registry=registry,
    ).instrument(app)
    return registry


class StoreCollector(Collector):
    """The deployment's runs, queues, workers, training speed and reconciler totals, asked of
    the store (a few grouped queries) each time it is collected."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        """One family per figure; every known status, queue, backend and device appears, 0 if
        none, so that a series never vanishes from a graph. While the store is away, only
        `reglab_store_up 0`: the scrape still brings the process's own figures."""
        try:
            families = [*self._store_figures()]
        except OperationalError as exc:
            if not is_outage(exc):
                raise
            log.warning("metrics: the store is unavailable (%s)", exc.orig)
            families = []
        yield GaugeMetricFamily("reglab_store_up", STORE_UP, value=1 if families else 0)
        yield from families

    def _store_figures(self) -> Iterator[Metric]:
        yield self._runs()
        yield self._queued()
        yield self._workers()
        speed = gauges.epochs_per_second(session=self.session)
        yield GaugeMetricFamily("reglab_epochs_per_second", EPOCHS_PER_SECOND, value=speed)
        yield from self._reconciler()

    def _runs(self) -> Metric:
        counts = gauges.runs_by_status(session=self.session)
        family = GaugeMetricFamily(
            "reglab_runs", "Runs by status, every project.", labels=["status"]
        )
        for status in sorted({*RunStatus, *counts}):
            family.add_metric([status], counts.get(status, 0))
        return family

    def _queued(self) -> Metric:
        counts: Counter[str] = Counter()
        for (backend, device), n in gauges.queued_runs_by_target(session=self.session).items():
            counts[queue_for(backend, device)] += n
        help_text = "Queued runs by the queue they wait in (reglab.<backend>[.cuda])."
        family = GaugeMetricFamily("reglab_queued_runs", help_text, labels=["queue"])
        for queue in sorted({*ALL_QUEUES, *counts}):
            family.add_metric([queue], counts[queue])
        return family

    def _workers(self) -> Metric:
        counts = gauges.live_workers_by_backend(session=self.session, now=utcnow())
        help_text = (
            "Live workers by backend served and device (cuda: the worker has a GPU); a worker "
            "serving both backends counts under each."
        )
        family = GaugeMetricFamily("reglab_live_workers", help_text, labels=["backend", "device"])
        for backend in sorted({*get_args(Backend), *(b for b, _ in counts)}):
            for cuda in (False, True):
                device = "cuda" if cuda else "cpu"
                family.add_metric([backend, device], counts.get((backend, cuda), 0))
        return family

    def _reconciler(self) -> Iterator[Metric]:
        totals = counters.read_counts(session=self.session)
        for name, help_text in RECONCILER_COUNTERS.items():
            total = totals[name].value if name in totals else 0
            yield CounterMetricFamily(f"reglab_{name}", help_text, value=total)
        if PASSES in totals:
            last = totals[PASSES].updated_at.timestamp()
            help_text = "When the deployment's last reconciler pass ended (Unix time)."
            yield GaugeMetricFamily(
                "reglab_reconciler_last_pass_timestamp_seconds", help_text, value=last
            )


def scrape(http: CollectorRegistry, session: Session) -> bytes:
    """The Prometheus text format: this process's HTTP metrics, then the store's figures."""
    return generate_latest(http) + generate_latest(StoreCollector(session))
