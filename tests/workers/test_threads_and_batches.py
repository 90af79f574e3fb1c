"""Worker settings (threads, queues, Celery limits) and the batch cut shared by backends."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from workers.backends.base import batch_bounds
from workers.settings import Settings


@pytest.mark.parametrize("concurrency", [1, 2, 3, 64])
def test_threads_never_oversubscribe_the_cores(concurrency: int) -> None:
    threads = Settings(concurrency=concurrency).thread_budget()
    cores = os.cpu_count() or 1
    assert threads >= 1
    assert concurrency * threads <= max(cores, concurrency)


def test_explicit_threads_win() -> None:
    assert Settings(concurrency=4, threads_per_run=3).thread_budget() == 3


def test_trailing_single_example_joins_the_previous_batch() -> None:
    assert batch_bounds(65, 32) == [(0, 32), (32, 65)]
    assert batch_bounds(66, 32) == [(0, 32), (32, 64), (64, 66)]
    assert batch_bounds(1, 32) == [(0, 1)]


def test_workers_consume_only_their_backends_queues() -> None:
    assert Settings(backends="torch").served_queues() == ["reglab.torch"]
    assert Settings(backends="torch,tensorflow", cuda=True).served_queues() == [
        "reglab.torch",
        "reglab.torch.cuda",
        "reglab.tensorflow",
        "reglab.tensorflow.cuda",
    ]


def test_celery_limits_are_consistent() -> None:
    code = (
        "from workers.celery_app import app; c = app.conf; "
        "assert c.task_time_limit < c.broker_transport_options['visibility_timeout'], c; "
        "assert c.task_acks_late and c.worker_prefetch_multiplier == 1; "
        "assert c.worker_max_tasks_per_child == 7; "
        "assert c.worker_max_memory_per_child == 512 * 1024; "
        "assert c.task_time_limit == 3600 + 600"
    )
    env = {
        **os.environ,
        "REGLAB_BROKER_URL": "redis://127.0.0.1:6379/15",
        "REGLAB_RUN_TIME_LIMIT_SECONDS": "3600",
        "REGLAB_MAX_RUNS_PER_CHILD": "7",
        "REGLAB_MAX_CHILD_MEMORY_MB": "512",
    }
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
