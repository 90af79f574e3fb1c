"""Every SQL query reglab makes; callers pass a session and own the transaction."""

from models.store.experiments import (
    SearchRecord,
    create_experiment,
    find_by_idempotency_key,
    get_experiment,
    is_cancelled,
    list_experiments,
    load_experiment,
    mark_cancelled,
)
from models.store.health import ping
from models.store.leases import (
    WORKER_LOST,
    expire_leases,
    release_run,
    renew_lease,
    resend_queued,
)
from models.store.metrics import (
    MetricSeries,
    first_epoch_reaching,
    read_metrics,
    record_epochs,
)
from models.store.pages import Page
from models.store.runs import (
    RunAssignment,
    RunError,
    cancel_runs,
    claim_run,
    ended_runs,
    finish_run,
    get_run,
    list_runs,
    mark_started,
    run_assignment,
)
from models.store.searches import (
    add_configuration_runs,
    claim_configuration,
    configurations_in_flight,
    get_search,
    stalled_searches,
)
from models.store.workers import (
    WorkerRecord,
    live_queues,
    live_workers,
    register_worker,
    remove_worker,
    worker_seen,
)

__all__ = [
    "WORKER_LOST",
    "MetricSeries",
    "Page",
    "RunAssignment",
    "RunError",
    "SearchRecord",
    "WorkerRecord",
    "add_configuration_runs",
    "cancel_runs",
    "claim_configuration",
    "claim_run",
    "configurations_in_flight",
    "create_experiment",
    "ended_runs",
    "expire_leases",
    "find_by_idempotency_key",
    "finish_run",
    "first_epoch_reaching",
    "get_experiment",
    "get_run",
    "get_search",
    "is_cancelled",
    "list_experiments",
    "list_runs",
    "live_queues",
    "live_workers",
    "load_experiment",
    "mark_cancelled",
    "mark_started",
    "ping",
    "read_metrics",
    "record_epochs",
    "register_worker",
    "release_run",
    "remove_worker",
    "renew_lease",
    "resend_queued",
    "run_assignment",
    "stalled_searches",
    "worker_seen",
]
