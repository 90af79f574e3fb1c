"""Page loads of the browser view with many runs, in a real headless Chromium (issue 14, point 3).

Seeds a fresh Postgres database through the store's own functions: 100 runs of 200 epochs
(train_loss, val_loss, val_acc; 25 settings x 4 seeds) and one run of 100,000 epochs (the five
series the run page draws). Starts the API (uvicorn, `python -m api`) on it, signs in through
the form, and times, over several loads each:

- the compare page of the 100 runs, seed groups drawn as bands (the default) and one line
  per run (`group_seeds=false`);
- the run page of the 100,000-epoch run (read with `max_points=1000`).

A load is timed from navigation start until every plot on the page has drawn its traces
(measured in the page, `performance.now()`); the first load (plotly.js not yet cached) is
shown apart. Also the server's time for the HTML alone (httpx) and the page's size.

    python bench/ui_load.py [--loads 10]
"""

import argparse
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import Page  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench import query_data  # noqa: E402
from bench.api_latency import percentiles, timings  # noqa: E402
from models import store  # noqa: E402
from models.spec import ExperimentSpec  # noqa: E402
from models.store.db import make_engine, make_sessionmaker  # noqa: E402
from models.store.tables import Experiment, Run, RunStatus  # noqa: E402
from tests.conftest import migrate, scratch_postgres  # noqa: E402
from tests.integration.browser import chromium, sign_in  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    api_client,
    bootstrap_key,
    free_port,
    process_env,
    running,
    wait_healthy,
)

BASE_SPEC = ExperimentSpec.model_validate(
    {"dataset": {"name": "digits"}, "model": {"hidden": [64]}, "training": {"epochs": 200}}
).model_dump()
COMPARE_RUNS, SEEDS = 100, 4
LONG_EPOCHS = 100_000
CHUNK = 10_000  # epochs per record_epochs call while seeding the long run
# Every plot of the page has drawn its traces (the moment a person sees the curves): then
# when the HTML had arrived and the time since navigation start, in milliseconds.
DRAWN = """() => {
  const plots = Array.from(document.querySelectorAll('.figure'));
  const ready = plots.length > 0 && plots.every(
    (p) => p.data && p.querySelectorAll('.scatterlayer .trace').length === p.data.length);
  const html = performance.getEntriesByType('navigation')[0];
  return ready && [html.responseEnd, performance.now()];
}"""


def spec_of(index: int) -> dict[str, Any]:
    """Run `index`'s spec: one of 25 settings of dropout and L2, with one of 4 seeds."""
    setting, seed = divmod(index, SEEDS)
    spec: dict[str, Any] = {**BASE_SPEC, "seed": seed}
    spec["regularization"] = {
        **BASE_SPEC["regularization"],
        "dropout": [0.0, 0.1, 0.2, 0.3, 0.5][setting % 5],
        "l2": [0.0, 1e-5, 1e-4, 1e-3, 1e-2][setting // 5],
    }
    return spec


def new_runs(session: Any, specs: list[dict[str, Any]], epochs: int) -> list[int]:
    """Succeeded runs with these specs (their metrics are written next)."""
    experiment = Experiment(project_id=1, name="ui-bench", spec=BASE_SPEC)
    session.add(experiment)
    session.flush()
    rows = [
        {
            "project_id": 1,
            "experiment_id": experiment.id,
            "status": RunStatus.SUCCEEDED,
            "backend": "torch",
            "seed": spec["seed"],
            "spec": spec,
            "epochs_done": epochs,
        }
        for spec in specs
    ]
    return list(session.scalars(insert(Run).returning(Run.id), rows))


def load(url: str) -> dict[str, Any]:
    """Write the runs through the store's write path; the ids the pages need."""
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        compare_ids = new_runs(session, [spec_of(i) for i in range(COMPARE_RUNS)], 200)
        curves = query_data.compare_curves(runs=COMPARE_RUNS, epochs=200)
        for run_id, series in zip(compare_ids, curves, strict=True):
            epochs = {e: {k: v[e - 1] for k, v in series.items()} for e in range(1, 201)}
            store.record_epochs(session=session, run_id=run_id, epochs=epochs)
        [long_id] = new_runs(session, [BASE_SPEC], LONG_EPOCHS)
    loss = query_data.long_history(LONG_EPOCHS)
    for start in range(0, LONG_EPOCHS, CHUNK):
        with sessions.begin() as session:
            epochs = {
                e + 1: {
                    "train_loss": loss[e],
                    "val_loss": loss[e] * 1.1,
                    "penalty": 0.01,
                    "train_acc": 1 - loss[e] / 2,
                    "val_acc": 1 - loss[e] / 1.8,
                }
                for e in range(start, start + CHUNK)
            }
            store.record_epochs(session=session, run_id=long_id, epochs=epochs)
    with sessions.begin() as session:
        session.execute(text("ANALYZE"))
    return {"compare": compare_ids, "long": long_id}


def drawn_after(page: Page, path: str) -> tuple[float, float]:
    """Milliseconds from navigation start until the HTML of `path` has arrived, and until
    every plot has drawn."""
    page.goto(path, wait_until="commit")
    html, drawn = page.wait_for_function(DRAWN, polling="raf", timeout=60_000).json_value()
    return float(html), float(drawn)


def points(page: Page) -> list[int]:
    """How many points each plot of the page holds, trace by trace, summed."""
    script = """Array.from(document.querySelectorAll('.figure')).map(
        (p) => p.data.reduce((n, t) => n + t.x.length, 0))"""
    return [int(n) for n in page.evaluate(script)]


def time_pages(base_url: str, key: str, pages: dict[str, str], loads: int) -> dict[str, Any]:
    """Per page: the first load, then `loads` more, in one signed-in browser."""
    figures: dict[str, Any] = {}
    with chromium() as browser:
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, key)
        for name, path in pages.items():
            first = drawn_after(page, path)
            again = [drawn_after(page, path) for _ in range(loads)]
            figures[name] = {"first": first, "loads": again, "points": points(page)}
        context.close()
    return figures


def html_timings(client: httpx.Client, pages: dict[str, str], repeats: int) -> dict[str, Any]:
    """Per page: seconds for the server's HTML alone, and its size."""
    found = {}
    for name, path in pages.items():
        size = len(client.get(path).content)
        found[name] = (timings(partial(client.get, path), repeats), size)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    with scratch_postgres() as url, tempfile.TemporaryDirectory() as home:
        migrate(url)
        started = time.perf_counter()
        ids = load(url)
        print(
            f"seeded {COMPARE_RUNS} x 200 epochs and 1 x {LONG_EPOCHS:,} epochs "
            f"in {time.perf_counter() - started:.0f} s"
        )
        compare = f"/ui/compare?run_ids={','.join(map(str, ids['compare']))}"
        pages = {
            "compare, 100 runs, seed bands": f"{compare}&metric=val_loss",
            "compare, 100 runs, 100 lines": f"{compare}&metric=val_loss&group_seeds=false",
            f"run page, {LONG_EPOCHS:,} epochs": f"/ui/runs/{ids['long']}",
        }
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = process_env(
            {"REGLAB_DATABASE_URL": url, "REGLAB_HOME": home, "REGLAB_PORT": str(port)}
        )
        key = bootstrap_key(env)
        with running([sys.executable, "-m", "api"], env, Path(home) / "api.log"):
            wait_healthy(base_url)
            with api_client(base_url, key, timeout=60) as client:
                served = html_timings(client, pages, args.loads)
            browser = time_pages(base_url, key, pages, args.loads)
    print("\nHTML from the server (httpx, Postgres)")
    for name, (samples, size) in served.items():
        print(f"  {name:<32} {percentiles(samples)}   {size / 1024:6.0f} KiB")
    print("\nnavigation start -> HTML arrived -> every plot drawn (headless Chromium), ms")
    for name, found in browser.items():
        html, drawn = (statistics.median(load[i] for load in found["loads"]) for i in (0, 1))
        worst = max(load[1] for load in found["loads"])
        print(
            f"  {name:<32} p50 {html:5.0f} -> {drawn:5.0f}   max {worst:5.0f}   "
            f"first load {found['first'][1]:5.0f}   points per plot {found['points']}"
        )


if __name__ == "__main__":
    main()
