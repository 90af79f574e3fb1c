"""Event ids of the live streams: what a client has seen, written so that a reconnect resumes it.

A run's events are numbered by what they leave the client knowing, its `RunMark`: the last
epoch received, and the status (with its attempt) last received. A run stream's id is that
mark as text, `<epoch>.<attempt>.<status>` (`-` for no status yet), with `.end` after the
final event: `12.1.running`, `15.1.succeeded.end`.

An experiment stream's id holds the mark of every run of the experiment, since its runs
progress independently: no single number orders their events without a shared sequence,
which concurrent writers commit out of order (see `models.services.events`). Written out,
a mark is three small integers per run (the gap from the previous run id, the epoch, the
status with its attempt; an ended run's epoch is dropped, nothing more of it is sent) and
the whole is compressed with zlib, so runs in the same state cost next to nothing and the
size follows the runs in flight, bounded by the search's bound on runs: 2,000 ended runs of
mixed outcomes take about 1 KB, with 64 of them still training 1.2 KB, and 2,000 all
training at scattered epochs 5.5 KB. Compressing that for each event would cost a large
search milliseconds per event, so an id is the marks as the poll that found the event began
(`base`, compressed once per poll) and the marks that poll changed so far (`changes`, one per
run it reached, at most `POLL_RUNS`, uncompressed): `<base>.<changes>[.end]`.
"""

import base64
import binascii
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from models.search.spec import MAX_SEARCH_RUNS
from models.store.tables import MAX_INT, RunStatus

END = "end"
UNSEEN = "-"
STATUSES = tuple(RunStatus)
ENDED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PRUNED})
# Three varints of at most 5 bytes each per run: what an honest id can decompress to.
MAX_MARKS_BYTES = MAX_SEARCH_RUNS * 15


class EventIdError(ValueError):
    """A Last-Event-ID this stream did not hand out."""


@dataclass(frozen=True)
class RunMark:
    """What a client has of a run: the last epoch, and the last status and attempt, received."""

    epoch: int = 0
    status: str | None = None
    attempts: int = 0


Marks = dict[int, RunMark]


def _number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or int(text) > MAX_INT:
        raise EventIdError(f"{text[:20]!r} is not an epoch or attempt number")
    return int(text)


def run_event_id(mark: RunMark, *, end: bool = False) -> str:
    """A run stream's id for `mark`; `end` for its final event."""
    text = f"{mark.epoch}.{mark.attempts}.{mark.status or UNSEEN}"
    return f"{text}.{END}" if end else text


def parse_run_event_id(text: str | None) -> tuple[RunMark, bool]:
    """The mark a run stream's id stands for, and whether it was the final event's."""
    if text is None:
        return RunMark(), False
    parts = text.split(".")
    end = len(parts) == 4 and parts[3] == END
    if len(parts) != 3 + end:
        raise EventIdError("a run's event id is <epoch>.<attempt>.<status>[.end]")
    epoch, attempts, status = _number(parts[0]), _number(parts[1]), parts[2]
    if status == UNSEEN and not attempts:
        return RunMark(epoch), end
    if status not in STATUSES:
        raise EventIdError(f"{status[:20]!r} is not a run status")
    return RunMark(epoch, status, attempts), end


def _varint(number: int) -> bytes:
    out = bytearray()
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _entry(gap: int, mark: RunMark) -> bytes:
    """A mark as (run id gap, epoch, attempts x 8 + status code); 0 for the epoch of an ended
    run (nothing more of it is sent: its epoch is no longer needed)."""
    code = STATUSES.index(RunStatus(mark.status)) + 1 if mark.status else 0
    epoch = 0 if mark.status in ENDED else mark.epoch
    return _varint(gap) + _varint(epoch) + _varint(mark.attempts * 8 + code)


def _varints(data: bytes) -> Iterator[int]:
    number = shift = 0
    for byte in data:
        number |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            yield number
            number = shift = 0
        elif shift > 35:
            raise EventIdError("an experiment's event id holds a number out of range")
    if shift:
        raise EventIdError("an experiment's event id is cut short")


def _unpack(data: bytes) -> Marks:
    numbers = list(_varints(data))
    if len(numbers) % 3:
        raise EventIdError("an experiment's event id is cut short")
    marks: Marks = {}
    run_id = 0
    for gap, epoch, packed in zip(*[iter(numbers)] * 3, strict=True):
        run_id += gap
        attempts, code = divmod(packed, 8)
        if not gap or code > len(STATUSES) or max(run_id, epoch, attempts) > MAX_INT:
            raise EventIdError("an experiment's event id holds a mark out of range")
        marks[run_id] = RunMark(epoch, STATUSES[code - 1] if code else None, attempts)
    return marks


def _text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _bytes(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise EventIdError("an experiment's event id is not base64url") from None


class PollIds:
    """The ids of one poll's events: the marks as the poll began (`base`) and the changes so
    far, which come run by run in run id order, so that each id extends the previous one's."""

    def __init__(self, marks: Mapping[int, RunMark]) -> None:
        packed, previous = bytearray(), 0
        for run_id in sorted(marks):
            packed += _entry(run_id - previous, marks[run_id])
            previous = run_id
        self.base = _text(zlib.compress(packed, 1))
        self._before = b""  # the changes of the runs before the current one
        self._current = b""
        self._run = self._previous = 0

    def after(self, run_id: int, mark: RunMark) -> str:
        """The id of an event that leaves run `run_id` at `mark`."""
        if run_id != self._run:
            if run_id < self._run:
                raise ValueError("a poll's changes come in run id order")
            self._before += self._current
            self._previous, self._run = self._run, run_id
        self._current = _entry(run_id - self._previous, mark)
        return f"{self.base}.{_text(self._before + self._current)}"

    def end(self) -> str:
        """The id of the final event, after every change so far."""
        return f"{self.base}.{_text(self._before + self._current)}.{END}"


def parse_experiment_event_id(text: str | None) -> tuple[Marks, bool]:
    """The marks an experiment stream's id stands for, and whether it was the final event's."""
    if text is None:
        return {}, False
    parts = text.split(".")
    end = len(parts) == 3 and parts[2] == END
    if len(parts) != 2 + end:
        raise EventIdError("an experiment's event id is <base>.<changes>[.end]")
    inflate = zlib.decompressobj()
    try:
        packed = inflate.decompress(_bytes(parts[0]), MAX_MARKS_BYTES)
    except zlib.error:
        raise EventIdError("an experiment's event id does not decompress") from None
    if not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
        raise EventIdError("an experiment's event id is cut short or too long")
    return {**_unpack(packed), **_unpack(_bytes(parts[1]))}, end
