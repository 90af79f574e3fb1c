"""Event ids: every mark survives the round trip, malformed ids are refused, sizes stay small."""

import base64
import random
import zlib

import pytest

from models.services.event_ids import (
    EventIdError,
    PollIds,
    RunMark,
    parse_experiment_event_id,
    parse_run_event_id,
    run_event_id,
)


@pytest.mark.parametrize(
    ("mark", "end", "text"),
    [
        (RunMark(), False, "0.0.-"),
        (RunMark(3), False, "3.0.-"),
        (RunMark(0, "queued", 0), False, "0.0.queued"),
        (RunMark(12, "running", 2), False, "12.2.running"),
        (RunMark(15, "succeeded", 1), True, "15.1.succeeded.end"),
    ],
)
def test_a_run_id_reads_back_as_its_mark(mark: RunMark, end: bool, text: str) -> None:
    assert run_event_id(mark, end=end) == text
    assert parse_run_event_id(text) == (mark, end)


def test_no_run_id_is_the_start() -> None:
    assert parse_run_event_id(None) == (RunMark(), False)
    assert parse_experiment_event_id(None) == ({}, False)


@pytest.mark.parametrize(
    "text",
    ["", "1.1", "1.1.running.end.x", "1.1.running.stop", "-1.1.running", "1.x.running",
     "1.1.walking", "99999999999.1.running", "1.1.-", "\uff11.1.running", "9" * 5000 + ".1.-"],
)  # fmt: skip
def test_a_malformed_run_id_is_refused(text: str) -> None:
    with pytest.raises(EventIdError):
        parse_run_event_id(text)


def test_an_experiment_id_is_its_base_updated_with_its_changes() -> None:
    before = {1: RunMark(3, "running", 1), 2: RunMark(0, "queued"), 9: RunMark(7, "pruned", 1)}
    ids = PollIds(before)
    first = ids.after(2, RunMark(0, "running", 1))
    ids.after(4, RunMark(1, "running", 1))
    last = ids.after(4, RunMark(2, "running", 1))
    # An ended run's epoch is not kept: nothing more of it is sent.
    expected = {**before, 2: RunMark(0, "running", 1), 9: RunMark(0, "pruned", 1)}
    assert parse_experiment_event_id(first) == (expected, False)
    expected[4] = RunMark(2, "running", 1)
    assert parse_experiment_event_id(last) == (expected, False)
    assert parse_experiment_event_id(ids.end()) == (expected, True)
    with pytest.raises(ValueError, match="run id order"):
        ids.after(3, RunMark(1, "running", 1))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


EMPTY = PollIds({}).base
ONE_MARK = bytes([1, 1, 1])  # run 1 at epoch 1, status unseen


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "a.b.c.d",
        f"{EMPTY}.AQEA.stop",
        "!!!.AQEA",  # not base64url
        f"{_b64(b'not zlib')}.",
        f"{_b64(zlib.compress(bytes(10**6)))}.",  # inflates past any honest id
        f"{_b64(zlib.compress(ONE_MARK)[:-2])}.",  # cut short
        f"{_b64(zlib.compress(ONE_MARK) + b'x')}.",  # trailing bytes
        f"{EMPTY}.{_b64(ONE_MARK[:2])}",  # a mark cut short
        f"{EMPTY}.{_b64(bytes([1, 1, 0x81]))}",  # a number cut short
        f"{EMPTY}.{_b64(ONE_MARK + bytes([0, 1, 1]))}",  # the same run twice
        f"{EMPTY}.{_b64(bytes([1, 1, 7]))}",  # no such status
        f"{EMPTY}.{_b64(bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 1]))}",  # run id too large
    ],
)
def test_a_malformed_experiment_id_is_refused(text: str) -> None:
    with pytest.raises(EventIdError):
        parse_experiment_event_id(text)


def test_experiment_ids_grow_with_the_runs_in_flight_only() -> None:
    draw = random.Random(0)
    outcomes = ["succeeded"] * 8 + ["pruned", "failed"]
    ended = {i: RunMark(draw.randint(1, 200), draw.choice(outcomes), 1) for i in range(1, 2001)}
    training = {i: RunMark(draw.randint(1, 100), "running", 1) for i in range(1, 65)}
    sizes = [len(PollIds(marks).end()) for marks in (ended, ended | training)]
    assert sizes[0] < 1500 and sizes[1] < 2000, sizes
