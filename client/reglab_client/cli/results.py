"""The end of `--follow`: the runs' results, and the exit status they give."""

from reglab_client.cli.follow import follow_experiment
from reglab_client.cli.output import emit, err, out, plain
from reglab_client.cli.runs import error_line, runs_table, show_run
from reglab_client.client import Client
from reglab_client.types import Run

# Runs that ended without a result. (`pruned` is a search's normal verdict: a result.)
UNFINISHED = frozenset({"failed", "cancelled"})
INTERRUPTED = 130  # the shell's code for Ctrl-C


def summarize(runs: list[Run]) -> None:
    """One run in full (its summary, its error); several as a table and their errors."""
    if len(runs) == 1:
        show_run(runs[0])
        return
    out.print(runs_table(runs))
    for line in filter(None, map(error_line, runs)):
        out.print(plain(line), style="red")


def finish(client: Client, experiment_id: int, objective: str, as_json: bool = False) -> int:
    """Follow the experiment to its end, show its runs' results (`as_json`: as the API's JSON);
    1 if a run failed or was cancelled, else 0."""
    try:
        follow_experiment(client, experiment_id, objective)
    except KeyboardInterrupt:
        err.print(
            f"stopped following: experiment {experiment_id} goes on "
            f"(reglab experiments follow {experiment_id})"
        )
        return INTERRUPTED
    runs = sorted(client.runs.list(experiment_id=experiment_id), key=lambda run: run["id"])
    emit(runs, as_json, summarize)
    return 1 if any(run["status"] in UNFINISHED for run in runs) else 0
