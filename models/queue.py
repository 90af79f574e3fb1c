"""The queue contract between the API and the workers: task names and per-backend queues."""

TRAIN_RUN_TASK = "reglab.train_run"


def queue_for(backend: str) -> str:
    """The Celery queue that carries runs of one backend, so workers can serve one or all."""
    return f"reglab.{backend}"
