"""The Celery application; queues come from the backends this worker serves."""

from celery import Celery
from kombu import Queue  # type: ignore[attr-defined]

from workers.settings import get_settings

settings = get_settings()
served_queues = [Queue(name) for name in settings.served_queues()]  # type: ignore[no-untyped-call]
app = Celery("reglab", broker=settings.resolved_broker_url(), include=["workers.tasks"])
app.conf.update(
    broker_transport=settings.broker_transport(),
    broker_transport_options=settings.broker_transport_options(),
    broker_connection_retry_on_startup=True,
    # Ack after the task: a message lost with a dying broker connection is redelivered. A
    # run whose worker died stays `running` (its claim is taken); the reconciler for such
    # runs is the fault-tolerance work, not this flag.
    task_acks_late=True,
    worker_prefetch_multiplier=1,  # long tasks: never hold runs another worker could start
    task_ignore_result=True,  # results live in SQL, not in a result backend
    worker_concurrency=settings.concurrency,
    task_queues=served_queues,  # without -Q, a worker consumes exactly these
)
