"""The queue contract between the API and the workers: task names and queues."""

TRAIN_RUN_TASK = "reglab.train_run"


def queue_for(backend: str, device: str = "auto") -> str:
    """The queue for runs of one backend; runs that demand CUDA wait in that backend's GPU queue.

    Workers serve one backend or several; only GPU workers consume the `.cuda` queues, so a
    CPU worker never takes (and fails) a run that needs a GPU.
    """
    return f"reglab.{backend}.cuda" if device == "cuda" else f"reglab.{backend}"
