"""Idempotency keys are scoped by project: another project's key of the same text is another
key, never a replay of (or a conflict with) this project's experiment."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.auth import secret_key
from models.services.keys import create_key, create_project
from models.store.tables import DEFAULT_PROJECT_ID, Experiment
from tests.factories import spec_dict


def project_b_headers(sessions: sessionmaker[Any]) -> tuple[int, dict[str, str]]:
    """A second project, and the headers of a key of its own."""
    project_b = create_project(sessions, name="project-b")
    _, raw_key = create_key(
        sessions, project_id=project_b, name="b", scopes=["write"], expires_at=None,
        secret_key=secret_key(), created_by=None,
    )  # fmt: skip
    return project_b, {"Authorization": f"Bearer {raw_key}"}


def post(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, bool]:
    """POST /experiments: the experiment's id, and whether it was a replay."""
    response = client.post("/experiments", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"], response.headers.get("Idempotent-Replayed") == "true"


def test_one_idempotency_key_in_two_projects_is_two_experiments(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    project_b, as_b = project_b_headers(sessions)
    same = {"name": "same body", "spec": spec_dict()}
    other = {"name": "another body", "spec": spec_dict(seed=3)}
    shared, reused = {"Idempotency-Key": "shared"}, {"Idempotency-Key": "reused"}

    a_same, b_same = post(client, same, shared), post(client, same, {**shared, **as_b})
    # Another body under a key project A used: neither a 409 nor A's experiment.
    a_other, b_other = post(client, same, reused), post(client, other, {**reused, **as_b})
    assert [a_same[1], b_same[1], a_other[1], b_other[1]] == [False] * 4
    assert len({a_same[0], b_same[0], a_other[0], b_other[0]}) == 4

    # Retries replay each project's own experiment.
    assert post(client, same, shared) == (a_same[0], True)
    assert post(client, same, {**shared, **as_b}) == (b_same[0], True)
    assert post(client, other, {**reused, **as_b}) == (b_other[0], True)
    conflict = client.post("/experiments", json=other, headers=reused)
    assert conflict.status_code == 409 and f"experiment {a_other[0]} " in conflict.text

    # Each project sees only its own.
    mine = {e["id"] for e in client.get("/experiments").json()["items"]}
    theirs = {e["id"] for e in client.get("/experiments", headers=as_b).json()["items"]}
    assert (mine, theirs) == ({a_same[0], a_other[0]}, {b_same[0], b_other[0]})
    assert client.get(f"/experiments/{b_same[0]}").status_code == 404
    with sessions() as session:
        rows = session.execute(
            select(Experiment.idempotency_key, Experiment.project_id, Experiment.name)
            .where(Experiment.idempotency_key.is_not(None))
            .order_by(Experiment.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("shared", DEFAULT_PROJECT_ID, "same body"),
        ("shared", project_b, "same body"),
        ("reused", DEFAULT_PROJECT_ID, "same body"),
        ("reused", project_b, "another body"),
    ]
