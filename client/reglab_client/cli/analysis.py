"""`reglab compare` and `reglab report`: runs side by side, a search's settings ranked."""

from pathlib import Path
from typing import Annotated, Literal

import typer

from reglab_client.cli.base import app, connect
from reglab_client.cli.output import (
    SUMMARY_COLUMNS,
    emit,
    err,
    fields,
    number,
    out,
    plain,
    table,
)
from reglab_client.cli.runs import Json
from reglab_client.types import Comparison, Interval, Report

Plot = Annotated[
    Path | None, typer.Option(help="Also save the plot to this file (.svg: SVG, else PNG).")
]
REPORT_FIGURES = ("objective", "test_acc", "generalization_gap", "epochs_to_target")


def image_format(path: Path) -> Literal["png", "svg"]:
    """The plot format a file name asks for."""
    return "svg" if path.suffix.lower() == ".svg" else "png"


def interval(figure: Interval | None) -> str:
    """A seed mean with its 95% interval's half-width."""
    if figure is None or figure["mean"] is None:
        return "-"
    low, high = figure["low"], figure["high"]
    if figure["n"] < 2 or low is None or high is None:
        return number(figure["mean"])
    return f"{number(figure['mean'])} ±{number((high - low) / 2)}"  # a t-interval: symmetric


def show_comparison(view: Comparison) -> None:
    """Each run's differing spec values and summary; the curves' largest deviations."""
    differing = view["differing_spec"]
    rows = [
        [
            str(run_id),
            *(plain(values.get(str(run_id))) for values in differing.values()),
            *(number(view["summaries"][str(run_id)].get(n)) for n in SUMMARY_COLUMNS),
        ]
        for run_id in view["run_ids"]
    ]
    out.print(table(None, ["run", *differing, *SUMMARY_COLUMNS.values()], rows))
    deviations = view["max_relative_deviation"].items()
    out.print(fields("largest relative deviation from the first run", deviations))
    for group in view["groups"] or []:
        pairs = [(name, interval(group["summary"].get(name))) for name in SUMMARY_COLUMNS]
        out.print(fields(f"runs {group['run_ids']} (seeds {group['seeds']})", pairs))


@app.command()
def compare(
    run_ids: Annotated[
        list[int], typer.Argument(help="Two or more run ids; the first is the reference.")
    ],
    keys: Annotated[
        str | None, typer.Option(help="Comma-separated series, e.g. train_loss,val_acc.")
    ] = None,
    group_seeds: Annotated[
        bool, typer.Option(help="Seed means and 95% intervals of runs differing only by seed.")
    ] = False,
    plot: Plot = None,
    key: Annotated[str, typer.Option(help="The series the plot draws.")] = "val_acc",
    json: Json = False,
) -> None:
    """Compare runs: what differs in their specs, their summaries, how far their curves part."""
    with connect() as client:
        wanted = keys.split(",") if keys else None
        view = client.compare(run_ids, keys=wanted, group_seeds=group_seeds)
        if plot is not None:
            image = client.compare_plot(
                run_ids, key=key, format=image_format(plot), group_seeds=group_seeds
            )
            plot.write_bytes(image)
            err.print(f"plot of {key}: {plot}")
    emit(view, json, show_comparison)


def show_report(report: Report) -> None:
    """The settings, best first, with their figures; the verdict on the best one."""
    swept = report["swept"]
    rows = [
        [
            *(plain(setting["values"].get(path)) for path in swept),
            str(len(setting["seeds"])),
            *(interval(setting["figures"].get(name)) for name in REPORT_FIGURES),
        ]
        for setting in report["settings"]
    ]
    title = (
        f"experiment {report['experiment_id']}: best {report['metric']} ({report['mode']}) first"
    )
    out.print(table(title, [*swept, "seeds", *REPORT_FIGURES], rows))
    if best := report["best"]:
        verdict = {True: "beyond seed noise", False: "within seed noise", None: "noise unknown"}
        margin = f"margin {number(best['margin'])} vs noise {number(best['noise'])}"
        out.print(f"best: {plain(best['values'])}: {margin}, {verdict[best['exceeds_noise']]}")


@app.command()
def report(
    experiment_id: int,
    target_val_acc: Annotated[
        float | None, typer.Option(help="epochs_to_target: the first epoch at this val_acc.")
    ] = None,
    plot: Plot = None,
    json: Json = False,
) -> None:
    """A search's settings ranked by its objective, seed means and 95% intervals, a verdict."""
    with connect() as client:
        result = client.experiments.report(experiment_id, target_val_acc=target_val_acc)
        if plot is not None and result["swept"]:
            image = client.experiments.plot(
                experiment_id,
                result["swept"][0],
                format=image_format(plot),
                target_val_acc=target_val_acc,
            )
            plot.write_bytes(image)
            err.print(f"plot against {result['swept'][0]}: {plot}")
        elif plot is not None:
            err.print("no plot: the experiment sweeps no spec field")
    emit(result, json, show_report)
