"""Searches over HTTP: validation up front, expansion into runs, Optuna samplers and pruners.

Runs are executed in this process by `execute_run`, the worker's own code path; the runs
a finished run starts are executed in turn, as a worker would take them from its queue.
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import optuna
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models import store
from models.messaging.dispatcher import Dispatcher
from models.search.study import storage
from models.services.reconciler import reconcile
from models.services.searches import add_proposal, database_url
from models.store.tables import Experiment, Run
from tests.api.conftest import client_on
from tests.factories import QueueRecorder, spec_dict
from workers.execution import execute_run

DIGITS = {"name": "digits", "n_samples": None, "train_limit": 400}


@pytest.fixture
def search_client(fresh_sessions: sessionmaker[Any]) -> Iterator[TestClient]:
    """The app on a fresh database, so search transactions and Optuna commit for real."""
    with client_on(fresh_sessions) as client:
        yield client


def run_search(client: TestClient, sessions: sessionmaker[Any], body: dict[str, Any]) -> Any:
    """POST the experiment, then train every run it starts (and those they start) in order."""
    response = client.post("/experiments", json=body)
    assert response.status_code == 202, response.text
    recorder = QueueRecorder()
    queue = recorder.run_ids
    queue += [run["id"] for run in response.json()["runs"]]
    in_flight = [len(queue)]
    while queue:
        run_id = queue.pop(0)
        execute_run(
            run_id, sessions=sessions, threads=1, worker="test", dispatcher=Dispatcher(recorder)
        )
        in_flight.append(len(queue))
    experiment = client.get(response.headers["location"]).json()
    experiment["max_in_flight"] = max(in_flight)
    return experiment


def test_grid_over_dropout_with_two_seeds_trains_six_runs(
    search_client: TestClient, fresh_sessions: sessionmaker[Any]
) -> None:
    body = {
        "name": "dropout-grid",
        "spec": spec_dict(dataset=DIGITS, training={"epochs": 3}),
        "search": {
            "method": "grid",
            "space": {"regularization.dropout": [0.0, 0.3, 0.6]},
            "seeds": [0, 1],
            "max_parallel": 2,
        },
    }
    experiment = run_search(search_client, fresh_sessions, body)
    assert experiment["runs_planned"] == 6
    assert experiment["progress"]["succeeded"] == 6
    assert experiment["max_in_flight"] <= 2 * 2  # two configurations of two seeds
    runs = [search_client.get(f"/runs/{r['id']}").json() for r in experiment["runs"]]
    combos = sorted((r["spec"]["regularization"]["dropout"], r["seed"]) for r in runs)
    assert combos == [(p, s) for p in (0.0, 0.3, 0.6) for s in (0, 1)]
    by_configuration = Counter(r["configuration"] for r in experiment["runs"])
    assert sorted(by_configuration.values()) == [2, 2, 2]
    best = experiment["best_run"]
    values = {r["id"]: r["objective_value"] for r in experiment["runs"]}
    assert best["objective"] == max(values.values()) == values[best["run_id"]]
    assert set(best["values"]) == {"regularization.dropout"}
    assert_report_ranks_settings(search_client, experiment, values)
    assert_plots_are_images(search_client, experiment)


def assert_report_ranks_settings(
    client: TestClient, experiment: dict[str, Any], objective: dict[int, float]
) -> None:
    """Three settings, best first by seed-mean objective, each with intervals over 2 seeds."""
    report = client.get(f"/experiments/{experiment['id']}/report").json()
    assert report["swept"] == ["regularization.dropout"] and report["metric"] == "objective"
    settings = report["settings"]
    assert sorted(s["values"]["regularization.dropout"] for s in settings) == [0.0, 0.3, 0.6]
    means = [s["figures"]["objective"]["mean"] for s in settings]
    assert means == sorted(means, reverse=True)
    for setting in settings:
        assert setting["statuses"] == {"succeeded": 2} and sorted(setting["seeds"]) == [0, 1]
        mean = sum(objective[i] for i in setting["run_ids"]) / 2
        assert setting["figures"]["objective"]["mean"] == pytest.approx(mean)
        for figure in ("test_acc", "generalization_gap", "best_epoch", "weight_l2", "sparsity"):
            found = setting["figures"][figure]
            assert found["n"] == 2 and found["low"] <= found["mean"] <= found["high"]
    best = report["best"]
    assert best["values"] == settings[0]["values"]
    assert best["margin"] == pytest.approx(means[0] - means[1])
    assert best["exceeds_noise"] == (best["margin"] > best["noise"])


def assert_plots_are_images(client: TestClient, experiment: dict[str, Any]) -> None:
    """Trade-off and compare plots come back as real PNG and SVG images."""
    run_ids = ",".join(str(r["id"]) for r in experiment["runs"])
    requests = [
        (f"/experiments/{experiment['id']}/plot", {"x": "regularization.dropout"}),
        ("/compare/plot", {"run_ids": run_ids, "key": "val_acc", "group_seeds": True}),
        ("/compare/plot", {"run_ids": run_ids, "key": "train_loss"}),
    ]
    for path, params in requests:
        png = client.get(path, params={**params, "format": "png"})
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 5000
        svg = client.get(path, params={**params, "format": "svg"})
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert b"<svg" in svg.content[:2000] and svg.content.rstrip().endswith(b"</svg>")
    bad = client.get(f"/experiments/{experiment['id']}/plot", params={"x": "nope"})
    assert bad.status_code == 422


def test_tpe_with_median_pruner_prunes_some_runs(
    search_client: TestClient, fresh_sessions: sessionmaker[Any]
) -> None:
    body = {
        "name": "tpe",
        "spec": spec_dict(training={"epochs": 8}, optimizer={"name": "sgd", "lr": 0.1}),
        "search": {
            "method": "tpe",
            "space": {
                "optimizer.lr": {"log_uniform": [1e-4, 1.0]},
                "regularization.l2": {"log_uniform": [1e-6, 1e-1]},
            },
            "trials": 12,
            "max_parallel": 1,
            "objective": {"metric": "val_acc", "mode": "max"},
            "pruner": {"kind": "median", "warmup_epochs": 2, "startup_trials": 3},
        },
    }
    experiment = run_search(search_client, fresh_sessions, body)
    progress = experiment["progress"]
    assert progress["succeeded"] + progress["pruned"] == 12, progress
    assert progress["pruned"] >= 1, progress
    pruned = [r for r in experiment["runs"] if r["status"] == "pruned"]
    assert all(2 <= r["epochs_done"] < 8 for r in pruned)  # stopped early, curves kept
    assert experiment["max_in_flight"] <= 1


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"space": {"regularization.dropuot": [0.1]}}, "no such spec field"),
        ({"space": {"regularization.dropout": [0.1, 1.0]}}, "regularization.dropout"),
        ({"space": {"optimizer.lr": {"log_uniform": [1e-4, 1.0]}}}, "a grid takes a list"),
        ({"method": "random", "space": {"optimizer.lr": [0.1]}}, "trials"),
        ({"space": {"training.epochs": list(range(1, 101)), "seed": list(range(21))}}, "exceed"),
        (
            {"method": "random", "trials": 3, "space": {"optimizer.lr": {"log_uniform": [0, 1]}}},
            "> 0",
        ),
        (
            {"space": {"optimizer.lr": [0.1]}, "pruner": {}, "objective": {"metric": "test_acc"}},
            "per-epoch",
        ),
    ],
)
def test_bad_search_is_422_and_writes_nothing(
    search_client: TestClient,
    fresh_sessions: sessionmaker[Any],
    search: dict[str, Any],
    message: str,
) -> None:
    body = {"name": "bad", "spec": spec_dict(), "search": search}
    response = search_client.post("/experiments", json=body)
    assert response.status_code == 422
    assert message in response.text
    with fresh_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 0
        assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_a_configuration_is_claimed_once(fresh_sessions: sessionmaker[Any]) -> None:
    with fresh_sessions.begin() as session:
        experiment = store.create_experiment(
            session=session,
            project_id=1,
            name="cas",
            spec={},
            search=store.SearchRecord({}, configurations=0, study_name=None),
        )
        first = store.claim_configuration(session=session, experiment_id=experiment.id, index=0)
        again = store.claim_configuration(session=session, experiment_id=experiment.id, index=0)
    assert (first, again) == (True, False)


def test_every_documented_example_is_accepted_as_it_stands(search_client: TestClient) -> None:
    schema = search_client.get("/openapi.json").json()
    body = schema["paths"]["/experiments"]["post"]["requestBody"]["content"]["application/json"]
    examples = body["examples"]
    assert {"one run", "dropout grid", "tpe with pruning"} <= set(examples)
    planned = {"one run": 1, "dropout grid": 6, "tpe with pruning": 12}
    for name, example in examples.items():
        response = search_client.post("/experiments", json=example["value"])
        assert response.status_code == 202, (name, response.text)
        assert response.json()["runs_planned"] == planned[name]


def test_random_search_with_successive_halving_prunes_laggards(
    search_client: TestClient, fresh_sessions: sessionmaker[Any]
) -> None:
    body = {
        "name": "random-sh",
        "spec": spec_dict(training={"epochs": 8}, optimizer={"name": "sgd", "lr": 0.1}),
        "search": {
            "method": "random",
            "space": {"optimizer.lr": {"log_uniform": [1e-4, 1.0]}},
            "trials": 10,
            "max_parallel": 1,
            "sampler_seed": 3,
            "pruner": {"kind": "successive_halving", "warmup_epochs": 1},
        },
    }
    experiment = run_search(search_client, fresh_sessions, body)
    progress = experiment["progress"]
    assert progress["succeeded"] + progress["pruned"] == 10 and progress["pruned"] >= 1, progress
    runs = [search_client.get(f"/runs/{r['id']}").json() for r in experiment["runs"]]
    rates = [r["spec"]["optimizer"]["lr"] for r in runs]
    assert len(set(rates)) == 10 and all(1e-4 <= lr <= 1.0 for lr in rates)
    # Same sampler seed, same draws: the search is reproducible.
    again = search_client.post("/experiments", json=body).json()
    first_rate = search_client.get(f"/runs/{again['runs'][0]['id']}").json()["spec"]["optimizer"]
    assert first_rate["lr"] == rates[0]


def test_reconciler_restarts_a_search_whose_continuation_was_lost(
    search_client: TestClient, fresh_sessions: sessionmaker[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {
        "name": "stalls",
        "spec": spec_dict(),
        "search": {"space": {"regularization.dropout": [0.0, 0.3, 0.6]}, "max_parallel": 1},
    }
    experiment = search_client.post("/experiments", json=body).json()
    (first,) = experiment["runs"]

    def store_down(*_: Any) -> list[Any]:
        raise RuntimeError("the store went away after the run's end was written")

    monkeypatch.setattr("models.services.searches.top_up", store_down)
    assert execute_run(first["id"], sessions=fresh_sessions, threads=1, worker="w") == "succeeded"
    recorder = QueueRecorder()
    dispatcher = Dispatcher(recorder)
    assert reconcile(fresh_sessions, dispatcher, max_attempts=3, requeue_after=3600) == 1
    again = search_client.get(f"/experiments/{experiment['id']}").json()
    assert [r["status"] for r in again["runs"]] == ["succeeded", "queued"]
    assert recorder.run_ids == [again["runs"][1]["id"]]
    assert reconcile(fresh_sessions, dispatcher, max_attempts=3, requeue_after=3600) == 0


def test_creation_is_all_or_nothing(
    search_client: TestClient, fresh_sessions: sessionmaker[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    added: list[int] = []

    def second_configuration_fails(**kwargs: Any) -> list[Run]:
        added.append(kwargs["proposal"].index)
        if len(added) == 2:
            raise RuntimeError("injected: the store failed while adding configuration 1")
        return add_proposal(**kwargs)

    monkeypatch.setattr("models.services.experiments.add_proposal", second_configuration_fails)
    body = {
        "name": "atomic",
        "spec": spec_dict(),
        "search": {"space": {"regularization.dropout": [0.0, 0.3, 0.6]}, "max_parallel": 2},
    }
    with pytest.raises(RuntimeError, match="injected"):
        search_client.post("/experiments", json=body)
    assert added == [0, 1]  # the first configuration's runs were written, then rolled back
    with fresh_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 0
        assert session.scalar(select(func.count()).select_from(Run)) == 0
    url = database_url(fresh_sessions)
    assert optuna.get_all_study_names(storage=storage(url)) == []  # its study is gone too
    monkeypatch.undo()
    created = search_client.post("/experiments", json=body)
    assert created.status_code == 202 and len(created.json()["runs"]) == 2


def test_large_sampler_seeds_are_accepted(search_client: TestClient) -> None:
    body = {
        "name": "seeded",
        "spec": spec_dict(),
        "search": {
            "method": "random",
            "trials": 2,
            "space": {"optimizer.lr": {"log_uniform": [1e-4, 1e-1]}},
            "sampler_seed": 5000,  # x the per-configuration stride: past numpy's 2^32 seeds
        },
    }
    response = search_client.post("/experiments", json=body)
    assert response.status_code == 202, response.text
    assert len(response.json()["runs"]) == 2
