"""Followers of runs and experiments on both stores: events in order, and from any event's id
exactly the events after it."""

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.services.events import (
    POLL_EPOCHS,
    EpochEvent,
    Event,
    ExperimentEnd,
    ExperimentFollower,
    Follower,
    RunEnd,
    RunFollower,
    Sent,
    StatusEvent,
)
from models.store import RunError
from models.store.experiments import SearchRecord
from models.store.tables import DEFAULT_PROJECT_ID, Experiment, Run, RunStatus, utcnow
from tests.factories import create_run, make_spec, spec_dict


def drain(follower: Follower) -> list[Sent]:
    """Everything the follower has now: polls until nothing more is ready at once."""
    sent: list[Sent] = []
    while True:
        batch = follower.poll()
        sent += batch.sent
        if batch.ended or not batch.more:
            return sent


def run_follower(sessions: sessionmaker[Any], run_id: int, after: str | None = None) -> RunFollower:
    return RunFollower(sessions, project_id=DEFAULT_PROJECT_ID, run_id=run_id, last_event_id=after)


def kinds(sent: list[Sent]) -> list[tuple[Any, ...]]:
    """Each event as a short tuple: ("epoch", run, epoch), ("status", run, status), ("end",)."""

    def short(event: Event) -> tuple[Any, ...]:
        if isinstance(event, EpochEvent):
            return ("epoch", event.run_id, event.epoch)
        if isinstance(event, StatusEvent):
            return ("status", event.run_id, event.status)
        return ("end",)

    return [short(s.event) for s in sent]


def write(sessions: sessionmaker[Any], run_id: int, first: int, last: int) -> None:
    with sessions.begin() as session:
        values = {e: {"train_loss": 1 / e, "val_acc": e / 100} for e in range(first, last + 1)}
        store.record_epochs(session=session, run_id=run_id, epochs=values)


def claim(sessions: sessionmaker[Any], run_id: int) -> None:
    with sessions.begin() as session:
        assert store.claim_run(session=session, run_id=run_id, worker="w", lease_seconds=60)


def finish(sessions: sessionmaker[Any], run_id: int, status: RunStatus, **kw: Any) -> None:
    with sessions.begin() as session:
        assert store.finish_run(session=session, run_id=run_id, worker="w", status=status, **kw)


def test_a_runs_events_come_as_they_happen_then_the_end(sessions: sessionmaker[Any]) -> None:
    with sessions.begin() as session:
        run_id = create_run(session).id
    follower = run_follower(sessions, run_id)
    assert kinds(drain(follower)) == [("status", run_id, "queued")]
    assert drain(follower) == []
    claim(sessions, run_id)
    write(sessions, run_id, 1, 2)
    assert kinds(drain(follower)) == [
        ("status", run_id, "running"),
        ("epoch", run_id, 1),
        ("epoch", run_id, 2),
    ]
    write(sessions, run_id, 3, 3)
    error = RunError("diverged", "train_loss is NaN", 3)
    finish(sessions, run_id, RunStatus.FAILED, error=error)
    sent = drain(follower)
    assert kinds(sent) == [("epoch", run_id, 3), ("status", run_id, "failed"), ("end",)]
    assert sent[0].event == EpochEvent(run_id, 3, {"train_loss": 1 / 3, "val_acc": 0.03})
    assert sent[1].event == StatusEvent(run_id, "failed", 1, 3, error)
    assert sent[2].event == RunEnd(run_id, "failed", 3)
    assert [s.id for s in sent] == ["3.1.running", "3.1.failed", "3.1.failed.end"]
    assert follower.poll().ended


def test_from_any_id_a_run_replays_exactly_the_rest(sessions: sessionmaker[Any]) -> None:
    with sessions.begin() as session:
        run_id = create_run(session).id
    claim(sessions, run_id)
    write(sessions, run_id, 1, 5)
    finish(sessions, run_id, RunStatus.SUCCEEDED)
    everything = drain(run_follower(sessions, run_id))
    assert kinds(everything)[-2:] == [("status", run_id, "succeeded"), ("end",)]
    assert len(everything) == 7
    for seen, last in enumerate(everything):
        rest = drain(run_follower(sessions, run_id, last.id))
        assert [s.event for s in rest] == [s.event for s in everything[seen + 1 :]]


def test_epochs_a_new_attempt_rewrites_are_not_sent_again(sessions: sessionmaker[Any]) -> None:
    with sessions.begin() as session:
        run_id = create_run(session).id
    claim(sessions, run_id)
    write(sessions, run_id, 1, 5)
    follower = run_follower(sessions, run_id)
    assert kinds(drain(follower))[-1] == ("epoch", run_id, 5)
    # The worker dies; another resumes from the checkpoint of epoch 3 and trains on.
    with sessions.begin() as session:
        later = utcnow() + timedelta(hours=1)
        store.expire_leases(session=session, now=later, max_attempts=3)
    claim(sessions, run_id)
    with sessions.begin() as session:
        store.mark_started(session=session, run_id=run_id, worker="w", epoch=3, environment={})
    write(sessions, run_id, 4, 6)
    sent = drain(follower)
    assert kinds(sent) == [("status", run_id, "running"), ("epoch", run_id, 6)]
    assert sent[0].event == StatusEvent(run_id, "running", 2, 6, None)


def test_a_long_history_is_sent_in_steps(sessions: sessionmaker[Any]) -> None:
    with sessions.begin() as session:
        run_id = create_run(session).id
    claim(sessions, run_id)
    write(sessions, run_id, 1, POLL_EPOCHS * 2 + 10)
    follower = run_follower(sessions, run_id)
    batches = [follower.poll() for _ in range(4)]
    assert [(len(b.sent), b.more) for b in batches] == [
        (POLL_EPOCHS + 1, True),  # the start of training, then its first epochs
        (POLL_EPOCHS, True),
        (10, False),
        (0, False),
    ]


def search_with_runs(session: Session, configurations: int, started: int) -> Experiment:
    """A search of `configurations` with two seeds each, the first `started` of them queued."""
    record = SearchRecord(definition={"space": {}}, configurations=configurations, study_name=None)
    experiment = store.create_experiment(
        session=session, project_id=DEFAULT_PROJECT_ID, name="s", spec=spec_dict(), search=record
    )
    for index in range(started):
        start_configuration(session, experiment, index)
    return experiment


def start_configuration(session: Session, experiment: Experiment, index: int) -> list[int]:
    assert store.claim_configuration(session=session, experiment_id=experiment.id, index=index)
    specs = [make_spec(seed=seed).model_dump() for seed in (0, 1)]
    runs = store.add_configuration_runs(
        session=session, experiment=experiment, index=index, specs=specs, trial_ids=[1, 2]
    )
    return [run.id for run in runs]


def experiment_follower(
    sessions: sessionmaker[Any], experiment_id: int, after: str | None = None
) -> ExperimentFollower:
    return ExperimentFollower(
        sessions, project_id=DEFAULT_PROJECT_ID, experiment_id=experiment_id, last_event_id=after
    )


def test_an_experiment_replays_exactly_the_rest_from_any_id(sessions: sessionmaker[Any]) -> None:
    with sessions.begin() as session:
        experiment = search_with_runs(session, configurations=3, started=2)
        a, b, c, d = sorted(run.id for run in experiment.runs)
    for run_id in (a, b):
        claim(sessions, run_id)
    write(sessions, b, 1, 3)
    finish(sessions, b, RunStatus.SUCCEEDED)
    write(sessions, a, 1, 2)
    everything = drain(experiment_follower(sessions, experiment.id))
    assert kinds(everything) == [
        ("status", a, "running"),
        ("epoch", a, 1),
        ("epoch", a, 2),
        *[("epoch", b, e) for e in (1, 2, 3)],
        ("status", b, "succeeded"),
        ("status", c, "queued"),
        ("status", d, "queued"),
    ]
    for seen, last in enumerate(everything):
        rest = drain(experiment_follower(sessions, experiment.id, last.id))
        assert [s.event for s in rest] == [s.event for s in everything[seen + 1 :]], seen
    # More happens: the client resumes from its last id and gets just that, then the end.
    write(sessions, a, 3, 3)
    finish(sessions, a, RunStatus.PRUNED)
    with sessions.begin() as session:
        row = session.get(Experiment, experiment.id)
        assert row is not None
        e, f = start_configuration(session, row, 2)
        store.cancel_runs(session=session, project_id=DEFAULT_PROJECT_ID, where=Run.id.in_([c, d]))
    resumed = experiment_follower(sessions, experiment.id, everything[-1].id)
    sent = drain(resumed)
    assert kinds(sent) == [
        ("epoch", a, 3),
        ("status", a, "pruned"),
        ("status", c, "cancelled"),
        ("status", d, "cancelled"),
        ("status", e, "queued"),
        ("status", f, "queued"),
    ]
    assert not resumed.poll().ended
    for run_id in (e, f):
        claim(sessions, run_id)
        finish(sessions, run_id, RunStatus.SUCCEEDED)
    sent = drain(resumed)
    assert kinds(sent)[-1] == ("end",)
    progress = {"queued": 0, "running": 0, "succeeded": 3, "failed": 0, "cancelled": 2}
    assert sent[-1].event == ExperimentEnd(experiment.id, {**progress, "pruned": 1})
    # After the end, a reconnect finds nothing more: the stream is over.
    after_end = experiment_follower(sessions, experiment.id, sent[-1].id).poll()
    assert (after_end.sent, after_end.ended) == ([], True)
