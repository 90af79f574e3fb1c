"""GET /ui/runs/{id}: the run's curves (downsampled), spec, summary, error, artifacts, and the
cancel button and live stream only while it is queued or running."""

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from models import store
from models.store.artifacts import ArtifactFile, add_artifacts
from models.store.tables import Run, RunStatus, RunSummary
from tests.api.ui.pages import embedded_figure
from tests.factories import spec_dict

METRICS = ("train_loss", "val_loss", "penalty", "train_acc", "val_acc")


def figures(html: str) -> dict[str, Any]:
    """The run page's two figures, by the id of the element they are drawn in."""
    return {name: embedded_figure(html, name) for name in ("plot-loss", "plot-accuracy")}


def traces(figure: dict[str, Any]) -> dict[str, Any]:
    return {trace["name"]: trace for trace in figure["data"]}


def new_run(client: TestClient, **spec: Any) -> int:
    body = {"name": "page", "spec": spec_dict(**spec)}
    return int(client.post("/experiments", json=body).json()["runs"][0]["id"])


def record(sessions: sessionmaker[Any], run_id: int, epochs: int, **extra: float) -> None:
    with sessions.begin() as session:
        values = {
            e: {**{k: 1 / e for k in METRICS[:3]}, **{k: 1 - 1 / e for k in METRICS[3:]}, **extra}
            for e in range(1, epochs + 1)
        }
        store.record_epochs(session=session, run_id=run_id, epochs=values)


def test_a_queued_run_is_live_with_a_cancel_button_and_empty_curves(client: TestClient) -> None:
    run_id = new_run(client, regularization={"dropout": 0.25})
    page = client.get(f"/ui/runs/{run_id}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-live="true"' in page.text and 'data-last-epoch="0"' in page.text
    assert f'data-url="/runs/{run_id}/cancel"' in page.text
    drawn = figures(page.text)
    # Every series has its (empty) trace, for the event stream to extend.
    assert set(traces(drawn["plot-loss"])) == {"train_loss", "val_loss", "penalty"}
    assert set(traces(drawn["plot-accuracy"])) == {"train_acc", "val_acc"}
    assert all(t["x"] == [] for f in drawn.values() for t in f["data"])
    assert "&#34;dropout&#34;: 0.25" in page.text  # the spec, escaped as HTML


def test_a_run_with_epochs_summary_and_artifacts(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    run_id = new_run(client)
    record(sessions, run_id, 3)
    with sessions.begin() as session:
        session.add(RunSummary(run_id=run_id, name="test_acc", value=0.875))
        file = ArtifactFile(name="model.safetensors", sha256="0" * 64, bytes=1234,
                            media_type="application/octet-stream")  # fmt: skip
        add_artifacts(session=session, run_id=run_id, files=[file])
    assert client.post(f"/runs/{run_id}/cancel").status_code == 200
    page = client.get(f"/ui/runs/{run_id}").text
    loss = traces(figures(page)["plot-loss"])
    assert loss["train_loss"]["x"] == [1, 2, 3]
    assert loss["val_loss"]["y"] == [1.0, 0.5, 1 / 3]
    assert 'data-live="false"' in page and 'data-last-epoch="3"' in page
    assert "cancel-run" not in page  # nothing left to cancel
    assert f'href="/runs/{run_id}/artifacts/model.safetensors"' in page
    assert "0.875" in page and "test_acc" in page
    assert 'class="status cancelled"' in page


def test_a_long_history_arrives_downsampled_keeping_its_ends(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    run_id = new_run(client)
    record(sessions, run_id, 5000)
    drawn = figures(client.get(f"/ui/runs/{run_id}").text)
    for figure in drawn.values():
        for trace in figure["data"]:
            assert len(trace["x"]) <= 1000
            assert trace["x"][0] == 1 and trace["x"][-1] == 5000


def test_a_failed_runs_error_is_shown(client: TestClient, sessions: sessionmaker[Any]) -> None:
    run_id = new_run(client)
    with sessions.begin() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.status, run.error_type, run.error_epoch = RunStatus.FAILED, "diverged", 4
        run.error_message = "loss is nan <at> lr 10"
    page = client.get(f"/ui/runs/{run_id}").text
    assert "diverged at epoch 4: loss is nan &lt;at&gt; lr 10" in page


def test_another_projects_or_a_missing_run_is_a_404(client: TestClient) -> None:
    assert client.get("/ui/runs/999999").status_code == 404


def test_the_live_stream_starts_after_what_the_page_drew(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    run_id = new_run(client)
    with sessions.begin() as session:
        store.claim_run(session=session, run_id=run_id, worker="w", lease_seconds=60)
    record(sessions, run_id, 3)
    page = client.get(f"/ui/runs/{run_id}").text
    [after] = re.findall(r'data-follow-after="([^"]+)"', page)
    assert after == "3.1.running"
    record(sessions, run_id, 4)  # epoch 4 finishes after the page was drawn
    with sessions.begin() as session:
        store.finish_run(
            session=session, run_id=run_id, worker="w", status=RunStatus.SUCCEEDED, summary={}
        )
    with client.stream("GET", f"/runs/{run_id}/events", params={"after": after}) as stream:
        lines = [line for line in stream.iter_lines() if line.startswith("event:")]
    assert lines == ["event: epoch", "event: status", "event: end"]
