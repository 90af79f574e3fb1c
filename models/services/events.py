"""Live events of a run or an experiment, found by polling the store from the client's mark.

Nothing is logged for the streams: a poll compares what the store holds now with what the
client has (`RunMark`s, see `models.services.event_ids`) and sends the difference, in the
order it happened. Epochs are numbered by the run's own epoch, never by a sequence shared
across runs: one worker writes a run's epochs in order, so "epochs after e" misses nothing,
whereas rows of a global sequence commit out of order under concurrent writers and a reader
past one id may never see a smaller one committed later. An epoch rewritten by a new attempt
after its worker died (resuming from an earlier checkpoint) is not sent again. A status is
sent as the poll finds it: a change undone before the next poll (a run handed back and
claimed again) is not seen. Each poll is one short session: indexed reads, no lock, nothing
held while the stream waits.
"""

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from models.services.errors import NotFoundError
from models.services.event_ids import (
    ENDED,
    PollIds,
    RunMark,
    parse_experiment_event_id,
    parse_run_event_id,
    run_event_id,
)
from models.store.events import (
    ExperimentState,
    RunState,
    epoch_values,
    experiment_state,
    run_states,
)
from models.store.runs import RunError
from models.store.tables import RunStatus

# Epochs one poll reads at most: a reconnect to a long run catches up in steps, sent at once.
POLL_EPOCHS = 500
# Runs one poll sends events of at most: bounds the `changes` part of an experiment's ids.
POLL_RUNS = 64


@dataclass(frozen=True)
class EpochEvent:
    """A finished epoch of a run, with its metrics by name."""

    run_id: int
    epoch: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class StatusEvent:
    """A run's status (and attempt) changed; `error` says why a failed run failed."""

    run_id: int
    status: str
    attempt: int
    epochs_done: int
    error: RunError | None


@dataclass(frozen=True)
class RunEnd:
    """The run has ended and every event of it was sent; its stream closes."""

    run_id: int
    status: str
    epochs_done: int


@dataclass(frozen=True)
class ExperimentEnd:
    """Every run of the experiment has ended and it will start no more; its stream closes."""

    experiment_id: int
    progress: dict[str, int]


Event = EpochEvent | StatusEvent | RunEnd | ExperimentEnd


@dataclass(frozen=True)
class Sent:
    """An event and its id."""

    event: Event
    id: str


@dataclass(frozen=True)
class Batch:
    """What one poll found; `ended`: the stream is over; `more`: more is ready at once."""

    sent: list[Sent]
    ended: bool = False
    more: bool = False


class Follower(Protocol):
    """Polls one stream's object for what is new since the last poll."""

    def poll(self) -> Batch:
        """Events since the client's mark, in one short session."""
        ...


def _has_news(state: RunState, mark: RunMark) -> bool:
    return (state.status, state.attempts) != (mark.status, mark.attempts) or (
        state.epochs_done > mark.epoch
    )


def _span(state: RunState, mark: RunMark, budget: int) -> tuple[int, int]:
    """The epochs to read next, `after < epoch <= upto`, at most `budget` of them."""
    return mark.epoch, max(mark.epoch, min(state.epochs_done, mark.epoch + budget))


def advance(
    state: RunState, mark: RunMark, epochs: Mapping[int, Mapping[str, float]], caught_up: bool
) -> Iterator[tuple[Event, RunMark]]:
    """The run's events since `mark`, each with the mark it leaves the client at.

    A new attempt's start comes before its epochs; any other status came after the epochs
    stored before it, so it waits until they are all sent (`caught_up`).
    """
    status = StatusEvent(state.run_id, state.status, state.attempts, state.epochs_done, state.error)
    changed = (state.status, state.attempts) != (mark.status, mark.attempts)
    if changed and state.status == RunStatus.RUNNING:
        mark = replace(mark, status=state.status, attempts=state.attempts)
        yield status, mark
        changed = False
    for epoch in sorted(epochs):
        mark = replace(mark, epoch=epoch)
        yield EpochEvent(state.run_id, epoch, dict(epochs[epoch])), mark
    if changed and caught_up:
        yield status, replace(mark, status=state.status, attempts=state.attempts)


class RunFollower:
    """A run's events after a run stream's Last-Event-ID (EventIdError if it is not one)."""

    def __init__(
        self,
        sessions: sessionmaker[Any],
        *,
        project_id: int,
        run_id: int,
        last_event_id: str | None,
    ) -> None:
        self.sessions, self.project_id, self.run_id = sessions, project_id, run_id
        self.mark, self.ended = parse_run_event_id(last_event_id)

    def poll(self) -> Batch:
        """What is new; NotFoundError if the run is not the project's."""
        with self.sessions() as session:
            found = run_states(session=session, project_id=self.project_id, run_ids=[self.run_id])
            if not found:
                raise NotFoundError(f"run {self.run_id} not found")
            state = found[0]
            span = _span(state, self.mark, POLL_EPOCHS)
            epochs = epoch_values(session=session, spans={self.run_id: span})
        caught_up = span[1] >= state.epochs_done
        sent = []
        for event, mark in advance(state, self.mark, epochs.get(self.run_id, {}), caught_up):
            sent.append(Sent(event, run_event_id(mark)))
            self.mark = mark
        over = caught_up and state.status in ENDED
        if over and (sent or not self.ended):  # after the end, only new late epochs end it again
            self.ended = True
            end = RunEnd(self.run_id, state.status, state.epochs_done)
            sent.append(Sent(end, run_event_id(self.mark, end=True)))
        return Batch(sent, ended=over, more=not caught_up)


class ExperimentFollower:
    """An experiment's runs' events after an experiment stream's Last-Event-ID.

    Only the runs still open to the client are read at each poll (by primary key); the
    experiment's whole run list is read again when it has started a configuration since.
    """

    def __init__(
        self,
        sessions: sessionmaker[Any],
        *,
        project_id: int,
        experiment_id: int,
        last_event_id: str | None,
    ) -> None:
        self.sessions, self.project_id, self.experiment_id = sessions, project_id, experiment_id
        self.marks, self.ended = parse_experiment_event_id(last_event_id)
        self.run_ids: list[int] = []
        self.configurations = -1  # configurations_started when run_ids was read; -1: never

    def _done(self, run_id: int) -> bool:
        mark = self.marks.get(run_id)
        return mark is not None and mark.status in ENDED

    def _states(self, session: Session, experiment: ExperimentState) -> list[RunState]:
        if experiment.configurations_started == self.configurations:
            open_ids = [run_id for run_id in self.run_ids if not self._done(run_id)]
            return run_states(session=session, project_id=self.project_id, run_ids=open_ids)
        states = run_states(
            session=session, project_id=self.project_id, experiment_id=self.experiment_id
        )
        self.run_ids = [state.run_id for state in states]
        self.marks = {run_id: self.marks[run_id] for run_id in self.run_ids if run_id in self.marks}
        self.configurations = experiment.configurations_started
        return states

    def _plan(self, states: list[RunState]) -> tuple[dict[int, tuple[int, int]], bool]:
        """The epochs to read per run with news, within the poll's budgets; and whether
        some news waits for the next poll."""
        spans: dict[int, tuple[int, int]] = {}
        budget = POLL_EPOCHS
        for state in states:
            mark = self.marks.get(state.run_id, RunMark())
            if self._done(state.run_id) or not _has_news(state, mark):
                continue
            if len(spans) == POLL_RUNS or not budget:
                return spans, True
            spans[state.run_id] = after, upto = _span(state, mark, budget)
            budget -= upto - after
        return spans, False

    def poll(self) -> Batch:
        """What is new; NotFoundError if the experiment is not the project's."""
        with self.sessions() as session:
            experiment = experiment_state(
                session=session, project_id=self.project_id, experiment_id=self.experiment_id
            )
            if experiment is None:
                raise NotFoundError(f"experiment {self.experiment_id} not found")
            states = self._states(session, experiment)
            spans, more = self._plan(states)
            epochs = epoch_values(session=session, spans=spans)
        ids: PollIds | None = None
        changes, sent = {}, []
        for state in states:
            if state.run_id not in spans:
                continue
            caught_up = spans[state.run_id][1] >= state.epochs_done
            more = more or not caught_up
            seen = self.marks.get(state.run_id, RunMark())
            for event, mark in advance(state, seen, epochs.get(state.run_id, {}), caught_up):
                ids = ids or PollIds(self.marks)  # the marks before this poll
                changes[state.run_id] = mark
                sent.append(Sent(event, ids.after(state.run_id, mark)))
        self.marks.update(changes)
        over = not (more or experiment.more_to_start) and all(map(self._done, self.run_ids))
        if over and (sent or not self.ended):
            self.ended = True
            sent.append(self._end(ids or PollIds(self.marks)))
        return Batch(sent, ended=over, more=more)

    def _end(self, ids: PollIds) -> Sent:
        counts = Counter(self.marks[run_id].status for run_id in self.run_ids)
        end = ExperimentEnd(self.experiment_id, {s: counts[s] for s in RunStatus})
        return Sent(end, ids.end())
