"""The embedded broker loses nothing while another process publishes into it."""

import multiprocessing
from pathlib import Path
from queue import Empty

from kombu import Connection

N_MESSAGES = 400


def connect(folder: Path) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.0,  # consume as eagerly as possible: the race needs it
    }
    return Connection(
        "filesystem://",
        transport="models.messaging.embedded_broker:Transport",
        transport_options=options,
    )


def publish(folder: str) -> None:
    with connect(Path(folder)) as conn:
        queue = conn.SimpleQueue("reglab.test")
        for i in range(N_MESSAGES):
            queue.put({"i": i, "padding": "x" * 200_000})  # slow writes widen the window


def test_consumer_racing_a_publisher_gets_every_message_whole(tmp_path: Path) -> None:
    publisher = multiprocessing.get_context("spawn").Process(target=publish, args=(str(tmp_path),))
    received: list[int] = []
    with connect(tmp_path) as conn:
        queue = conn.SimpleQueue("reglab.test")
        publisher.start()
        while len(received) < N_MESSAGES:
            try:
                message = queue.get(block=True, timeout=30)
            except Empty:
                break
            received.append(message.payload["i"])
            message.ack()
    publisher.join(timeout=30)
    assert sorted(received) == list(range(N_MESSAGES))
