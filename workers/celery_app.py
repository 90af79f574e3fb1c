"""The Celery application; queues come from the backends this worker serves."""

from celery import Celery
from kombu import Queue  # type: ignore[attr-defined]

from workers import registry
from workers.settings import get_settings

settings = get_settings()
# The runner stops a run at its time limit itself (error `timeout`); the hard limit only
# kills a child stuck past it, and the broker must not redeliver a message before that.
hard_time_limit = settings.run_time_limit_seconds + 600
transport_options = settings.broker_transport_options()
if settings.broker_url:
    transport_options["visibility_timeout"] = hard_time_limit + 600
served_queues = [Queue(name) for name in settings.served_queues()]  # type: ignore[no-untyped-call]
app = Celery("reglab", broker=settings.resolved_broker_url(), include=["workers.tasks"])
app.conf.update(
    broker_transport=settings.broker_transport(),
    broker_transport_options=transport_options,
    broker_connection_retry_on_startup=True,
    # Ack after the task: a message lost with a dying broker connection is redelivered. A
    # run whose worker died is found by its lapsed lease (the API's reconciler), not here.
    task_acks_late=True,
    task_time_limit=hard_time_limit,
    worker_max_tasks_per_child=settings.max_runs_per_child,
    worker_max_memory_per_child=settings.max_child_memory_mb * 1024,  # KiB
    worker_prefetch_multiplier=1,  # long tasks: never hold runs another worker could start
    task_ignore_result=True,  # results live in SQL, not in a result backend
    worker_concurrency=settings.concurrency,
    task_queues=served_queues,  # without -Q, a worker consumes exactly these
)
registry.connect()  # the worker registers in the store (GET /workers, waiting_for)
