"""Cancelled runs' messages leave their queues; every other message stays, in order."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from models.messaging.broker import Broker
from models.messaging.queue import TRAIN_RUN_TASK, queue_for
from models.settings import Settings
from tests.integration.servers import PrivateRedis
from tests.integration.stack import free_port

QUEUES = [queue_for("torch"), queue_for("tensorflow", "cuda")]


@pytest.fixture(params=["embedded", "redis"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """The embedded file broker, or a Redis of the test's own."""
    if request.param == "embedded":
        yield Settings(home=tmp_path)
        return
    with PrivateRedis(free_port(), tmp_path / "redis.log") as server:
        yield Settings(home=tmp_path, broker_url=server.url)


def queued_run_ids(settings: Settings, queue: str) -> list[int]:
    """Drain `queue` as a consumer would: the run ids of its messages, in order."""
    options = settings.broker_transport_options()
    transport = settings.broker_transport()
    ids = []
    with Connection(
        settings.resolved_broker_url(), transport=transport, transport_options=options
    ) as conn:
        simple = conn.SimpleQueue(queue)
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                return ids
            ids.append(message.payload[0][0])
            message.ack()


def test_withdraw_removes_only_the_cancelled_runs_messages(settings: Settings) -> None:
    broker = Broker(settings, "test")
    broker.lay_marker()
    for run_id in range(1, 41):
        broker.send_task(TRAIN_RUN_TASK, args=[run_id], queue=QUEUES[run_id % 2], retry=False)
    cancelled = set(range(1, 41, 3)) | {999}  # 999: a run with no message (running, say)
    assert broker.withdraw(cancelled) == len(cancelled) - 1
    for parity, queue in enumerate(QUEUES):
        kept = [i for i in range(1, 41) if i % 2 == parity and i not in cancelled]
        assert queued_run_ids(settings, queue) == kept
    assert not broker.marker_missing()  # other queues' messages are untouched


def test_withdraw_from_an_unreachable_broker_answers_zero(tmp_path: Path) -> None:
    broker = Broker(Settings(home=tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0"), "t")
    assert broker.withdraw({1, 2}) == 0


def test_message_files_are_the_owners_and_foreign_files_are_left(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    broker = Broker(settings, "test")
    broker.send_task(TRAIN_RUN_TASK, args=[7], queue=QUEUES[0], retry=False)
    folder = settings.embedded_broker_folder()
    assert folder is not None
    (message,) = folder.glob("*.msg")
    assert message.stat().st_mode & 0o777 == 0o600
    (folder / "1_x.reglab.torch.msg").write_text("not json")
    (folder / "2_y.reglab.torch.msg").write_text("[1, 2]")
    assert broker.withdraw({7}) == 1
    assert sorted(p.name for p in folder.glob("*.msg")) == [
        "1_x.reglab.torch.msg",
        "2_y.reglab.torch.msg",
    ]
