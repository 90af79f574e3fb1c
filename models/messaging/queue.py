"""The queue contract between the API and the workers: task names and queues."""

from collections.abc import Collection
from typing import Any, Protocol, get_args

from models.spec.experiment import Backend

TRAIN_RUN_TASK = "reglab.train_run"


class TaskSender(Protocol):
    """What reglab needs of the broker: send a task by name, take runs' messages back."""

    def send_task(self, name: str, *, args: list[Any], queue: str, retry: bool) -> object:
        """Publish one task message."""
        ...

    def withdraw(self, run_ids: Collection[int]) -> int:
        """Remove the queued messages of these runs; returns how many went."""
        ...


def queue_for(backend: str, device: str = "auto") -> str:
    """The queue for runs of one backend; runs that demand CUDA wait in that backend's GPU queue.

    Workers serve one backend or several; only GPU workers consume the `.cuda` queues, so a
    CPU worker never takes (and fails) a run that needs a GPU.
    """
    return f"reglab.{backend}.cuda" if device == "cuda" else f"reglab.{backend}"


ALL_QUEUES = [
    queue_for(backend, device) for backend in get_args(Backend) for device in ("auto", "cuda")
]


def send_run(client: TaskSender, run_id: int, backend: str, device: str) -> None:
    """Publish one run id to its queue; raises if the broker refuses."""
    client.send_task(TRAIN_RUN_TASK, args=[run_id], queue=queue_for(backend, device), retry=False)
