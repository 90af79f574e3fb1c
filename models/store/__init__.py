"""Every SQL query reglab makes; callers pass a session and own the transaction."""

from models.store.experiments import create_experiment, get_experiment, list_experiments
from models.store.health import ping
from models.store.metrics import MetricSeries, read_metrics, record_epochs
from models.store.pages import Page
from models.store.runs import (
    RunError,
    claim_run,
    finish_run,
    get_run,
    list_runs,
    load_run,
)

__all__ = [
    "MetricSeries",
    "Page",
    "RunError",
    "claim_run",
    "create_experiment",
    "finish_run",
    "get_experiment",
    "get_run",
    "list_experiments",
    "list_runs",
    "load_run",
    "ping",
    "read_metrics",
    "record_epochs",
]
