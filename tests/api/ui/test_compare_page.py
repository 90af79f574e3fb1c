"""GET /ui/compare: overlaid curves labelled by the differing spec fields, seed groups as mean
and band, the largest differences between runs and groups, downsampled long curves."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.ui.compare import short_names
from api.ui.curves import line as curve_line
from models import store
from tests.api.test_compare import SEED_CURVES, run_with_losses
from tests.api.ui.pages import embedded_figure
from tests.api.ui.test_run_page import new_run


def deviation_rows(html: str) -> dict[str, list[str]]:
    """The max-deviation table: each row's label and its cells."""
    table = html.split('<table class="deviations">', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in table.split("<tr>")[2:]:
        cells = [c.split("</td>")[0].strip() for c in row.split("<td")[1:]]
        rows[cells[0].lstrip(">")] = [c.split(">", 1)[1] for c in cells[1:]]
    return rows


def test_two_backends_side_by_side(client: TestClient, sessions: sessionmaker[Any]) -> None:
    a = run_with_losses(client, sessions, "torch", [1.0, 0.5, 0.25])
    b = run_with_losses(client, sessions, "tensorflow", [1.0, 0.5005, 0.25])
    params = {"run_ids": f"{a},{b}", "metric": "train_loss", "group_seeds": False}
    page = client.get("/ui/compare", params=params)
    assert page.status_code == 200, page.text
    [line_a, line_b] = embedded_figure(page.text, "compare")["data"]
    assert (line_a["name"], line_b["name"]) == (f"{a}: backend=torch", f"{b}: backend=tensorflow")
    assert line_b["y"] == [1.0, 0.5005, 0.25]
    rows = deviation_rows(page.text)
    assert list(rows) == [f"run {b} vs run {a}"]
    assert rows[f"run {b} vs run {a}"][0] == "0.0005"  # train_loss; the others have no values
    assert f'href="/ui/runs/{b}"' in page.text


def test_seed_groups_are_mean_and_band_with_their_spread(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    curves = SEED_CURVES
    ids = [
        run_with_losses(
            client, sessions, "torch", losses, seed=seed, regularization={"dropout": dropout}
        )
        for (dropout, seed), losses in curves.items()
    ]
    page = client.get(
        "/ui/compare", params={"run_ids": ",".join(map(str, ids)), "metric": "train_loss"}
    )
    data = embedded_figure(page.text, "compare")["data"]
    assert len(data) == 6  # low edge, high edge (filled to the low one), mean: per group
    low, high, mean = data[3:]
    assert mean["name"] == "dropout=0.5 (2 seeds)"
    assert mean["y"] == pytest.approx([2.0, 1.3]) and high["fill"] == "tonexty"
    assert low["y"][1] < 1.3 < high["y"][1] and not low["showlegend"]
    rows = deviation_rows(page.text)
    first, second = "dropout=0.0 (2 seeds)", "dropout=0.5 (2 seeds)"
    assert [cells[0] for cells in rows.values()] == ["0.2", "0.6", "0.9"]
    assert list(rows) == [f"seeds of {first}", f"seeds of {second}", f"{second} vs {first}"]


def test_long_curves_are_downsampled_and_the_metric_is_chosen(
    client: TestClient, sessions: sessionmaker[Any]
) -> None:
    ids = [new_run(client, seed=seed) for seed in (0, 1)]
    with sessions.begin() as session:
        for run_id in ids:
            epochs = {e: {"val_acc": 1 - 1 / e, "val_loss": 1 / e} for e in range(1, 3001)}
            store.record_epochs(session=session, run_id=run_id, epochs=epochs)
    params = {"run_ids": f"{ids[0]},{ids[1]}", "metric": "val_acc", "group_seeds": False}
    data = embedded_figure(client.get("/ui/compare", params=params).text, "compare")["data"]
    assert len(data) == 2
    for line in data:
        assert len(line["x"]) <= 500 and (line["x"][0], line["x"][-1]) == (1, 3000)
        assert line["y"][-1] == pytest.approx(1 - 1 / 3000)


@pytest.mark.parametrize(
    "params", [{"metric": "loss"}, {"metric": "val_acc,val_loss"}, {"keys": "nope"}]
)
def test_bad_choices_are_a_422(client: TestClient, params: dict[str, str]) -> None:
    ids = [new_run(client), new_run(client)]
    response = client.get("/ui/compare", params={"run_ids": f"{ids[0]},{ids[1]}", **params})
    assert response.status_code == 422, response.text


def test_legend_names_are_short_where_unambiguous() -> None:
    paths = ["regularization.dropout", "dataset.seed", "seed", "optimizer.lr"]
    assert short_names(paths) == {
        "regularization.dropout": "dropout",
        "dataset.seed": "dataset.seed",
        "seed": "seed",
        "optimizer.lr": "lr",
    }


def test_a_legend_name_is_shown_as_text_never_as_plotly_markup() -> None:
    link = "<a href='https://elsewhere.example'>x</a>"
    shown = "&lt;a href='https://elsewhere.example'&gt;x&lt;/a&gt;"
    assert curve_line(link, [1], [0.5], 0)["name"] == shown
