"""GET /runs?filter=&order_by=: the grammar, executed as SQL on both databases, with paging."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from models import store
from models.store.tables import DEFAULT_PROJECT_ID, RunStatus, RunSummary
from tests.factories import make_spec

Row = dict[str, Any]


@pytest.fixture
def runs(sessions: sessionmaker[Any]) -> list[Row]:
    """18 runs over dropout x batchnorm x backend, most finished with a test accuracy."""
    rows: list[Row] = []
    with sessions.begin() as session:
        for i in range(18):
            dropout: Any = [0.0, 0.3, 0.6][i % 3] if i != 17 else [0.3]  # one per-layer list
            spec = make_spec(
                backend=["torch", "tensorflow"][i % 2],
                seed=i % 4,
                model={"hidden": [16 * (1 + i % 3)]},
                regularization={"dropout": dropout, "batchnorm": i % 4 == 0},
            )
            experiment = store.create_experiment(
                session=session, project_id=DEFAULT_PROJECT_ID, name=f"q{i}", spec=spec.model_dump()
            )
            run = experiment.runs[0]
            acc = None if i % 5 == 4 else round(0.5 + 0.03 * ((i * 7) % 16), 4)
            if acc is not None:
                run.status = RunStatus.SUCCEEDED
                session.add(RunSummary(run_id=run.id, name="test_acc", value=acc))
            session.flush()
            rows.append(
                {
                    "id": run.id,
                    "spec": run.spec,
                    "status": run.status,
                    "acc": acc,
                    "experiment": experiment.id,
                    "seed": run.seed,
                }
            )
    return rows


def matching(client: TestClient, expression: str, **params: Any) -> list[int]:
    """Every run id the filter returns, following cursors to the end."""
    ids: list[int] = []
    cursor = None
    while True:
        query = {
            "filter": expression,
            "limit": 4,
            **params,
            **({"cursor": cursor} if cursor else {}),
        }
        response = client.get("/runs", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [run["id"] for run in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            assert page["total"] == len(ids)
            return ids


def dropout(row: Row) -> Any:
    return row["spec"]["regularization"]["dropout"]


CASES: list[tuple[str, Callable[[Row], bool]]] = [
    (
        "spec.regularization.dropout in (0.3, 0.6) or spec.regularization.batchnorm = true",
        lambda r: dropout(r) in (0.3, 0.6) or r["spec"]["regularization"]["batchnorm"],
    ),
    (
        "(spec.regularization.dropout = 0 or backend = 'tensorflow') and summary.test_acc > 0.8",
        lambda r: (
            (dropout(r) == 0 or r["spec"]["backend"] == "tensorflow") and (r["acc"] or 0) > 0.8
        ),
    ),
    ("not (status = 'succeeded')", lambda r: r["status"] != "succeeded"),
    (
        "spec.regularization.dropout not in (0, 0.3)",
        lambda r: isinstance(dropout(r), float) and dropout(r) not in (0, 0.3),
    ),
    ("summary.test_acc = null", lambda r: r["acc"] is None),
    (
        "spec.model.hidden.0 >= 32 AND seed != 1",
        lambda r: r["spec"]["model"]["hidden"][0] >= 32 and r["seed"] != 1,
    ),
    ("spec.regularization.dropout.0 = 0.3", lambda r: dropout(r) == [0.3]),
]


@pytest.mark.parametrize(("expression", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_filter_returns_exactly_the_matching_runs(
    client: TestClient, runs: list[Row], expression: str, predicate: Callable[[Row], bool]
) -> None:
    expected = sorted((r["id"] for r in runs if predicate(r)), reverse=True)  # newest first
    assert expected, "the case must match something"
    assert matching(client, expression) == expected


def test_order_by_a_summary_value_pages_through_every_run_once(
    client: TestClient, runs: list[Row]
) -> None:
    ids = matching(client, "id > 0", order_by="summary.test_acc desc")
    with_acc = sorted(
        (r for r in runs if r["acc"] is not None), key=lambda r: (-r["acc"], -r["id"])
    )
    without = sorted((r["id"] for r in runs if r["acc"] is None), reverse=True)
    assert ids == [r["id"] for r in with_acc] + without  # missing values last
    ascending = matching(client, "status = 'succeeded'", order_by="summary.test_acc")
    assert ascending == [r["id"] for r in sorted(with_acc, key=lambda r: (r["acc"], r["id"]))]


def test_filter_on_an_experiment(client: TestClient, runs: list[Row]) -> None:
    target = runs[3]
    assert matching(client, f"experiment = {target['experiment']}") == [target["id"]]


@pytest.mark.parametrize(
    ("params", "position", "message"),
    [
        ({"filter": "spec.regularization.dropout = "}, 30, "expected a value"),
        ({"filter": "(status = 'queued'"}, 18, "expected ')'"),
        ({"filter": "status = 'queued' or"}, 20, "expected a field"),
        ({"filter": "summary.nope > 1"}, 0, "unknown summary key"),
        ({"filter": "status = 3"}, 9, "not a text value"),
        ({"filter": "spec.model.hidden = 3"}, 0, "is a list"),
        ({"filter": "spec.optimizer.lr > 'x'"}, 20, "not a number value"),
        ({"filter": "backend = 'torch' # x"}, 18, "unexpected character"),
        ({"filter": "seed < null"}, 7, "null compares only"),
        ({"order_by": "summary.test_acc sideways"}, 17, "neither asc nor desc"),
    ],
)
def test_malformed_query_is_422_with_position(
    client: TestClient, params: dict[str, str], position: int, message: str
) -> None:
    response = client.get("/runs", params=params)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", next(iter(params))]
    assert message in error["msg"] and error["ctx"]["position"] == position, error


def test_bad_cursor_is_422(client: TestClient) -> None:
    response = client.get("/runs", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "cursor"


def test_unfiltered_listing_still_pages(
    client: TestClient, session: Session, runs: list[Row]
) -> None:
    assert matching(client, "id > 0") == sorted((r["id"] for r in runs), reverse=True)
