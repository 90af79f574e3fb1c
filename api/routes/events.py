"""Live events (Server-Sent Events): a run's or an experiment's epochs and status changes."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse

from api.events import (
    Opened,
    SettingsDep,
    StreamSlot,
    open_experiment_stream,
    open_run_stream,
    relay,
    stream_responses,
)
from api.schemas.events import ExperimentEventRead, RunEventRead

router = APIRouter(tags=["events"])
RUN_EXAMPLE = """event: status
data: {"run_id": 7, "status": "running", "attempt": 1, "epochs_done": 0, "error": null}
id: 0.1.running

event: epoch
data: {"run_id": 7, "epoch": 1, "metrics": {"train_loss": 0.62, "val_acc": 0.81, "lr": 0.01}}
id: 1.1.running

: keep-alive

: (epochs 2 to 15: a comment, as a stream may hold)

event: status
data: {"run_id": 7, "status": "succeeded", "attempt": 1, "epochs_done": 15, "error": null}
id: 15.1.succeeded

event: end
data: {"run_id": 7, "status": "succeeded", "epochs_done": 15}
id: 15.1.succeeded.end
"""
EXPERIMENT_EXAMPLE = """event: status
data: {"run_id": 7, "status": "queued", "attempt": 0, "epochs_done": 0, "error": null}
id: eAEDAAAAAAE.BwAB

event: status
data: {"run_id": 8, "status": "queued", "attempt": 0, "epochs_done": 0, "error": null}
id: eAEDAAAAAAE.BwABAQAB

event: status
data: {"run_id": 7, "status": "running", "attempt": 1, "epochs_done": 0, "error": null}
id: eAFjZ2BkZGAEAAA4AAs.BwAK

event: epoch
data: {"run_id": 7, "epoch": 1, "metrics": {"train_loss": 0.62, "val_acc": 0.81, "lr": 0.01}}
id: eAFjZ2BkZGAEAAA4AAs.BwEK

: (the rest of both runs' events: a comment, as a stream may hold)

event: status
data: {"run_id": 8, "status": "succeeded", "attempt": 1, "epochs_done": 15, "error": null}
id: eAFjZ-Bm5OcCAACHAC0.CAAL

event: end
data: {"experiment_id": 3, "progress": {"queued": 0, "running": 0, "succeeded": 2, \
"failed": 0, "cancelled": 0, "pruned": 0}}
id: eAFjZ-Bm5OcCAACHAC0.CAAL.end
"""


@router.get(
    "/runs/{run_id}/events",
    response_class=EventSourceResponse,
    responses=stream_responses("run", RUN_EXAMPLE),
)
async def follow_run(
    _slot: StreamSlot,  # before the stream: a 429 costs no poll
    stream: Annotated[Opened, Depends(open_run_stream)],
    settings: SettingsDep,
) -> AsyncIterator[RunEventRead]:
    """Follow a run live: `status` at each change (with the error of a failed run), `epoch`
    once per finished epoch with its metrics, then `end`, and the stream closes. Send the
    last `id` back as `Last-Event-ID` to resume exactly after it."""
    async for event in relay(stream, settings):
        yield event


@router.get(
    "/experiments/{experiment_id}/events",
    response_class=EventSourceResponse,
    responses=stream_responses("experiment", EXPERIMENT_EXAMPLE),
)
async def follow_experiment(
    _slot: StreamSlot,  # before the stream: a 429 costs no poll
    stream: Annotated[Opened, Depends(open_experiment_stream)],
    settings: SettingsDep,
) -> AsyncIterator[ExperimentEventRead]:
    """Follow every run of an experiment (a search's runs as they start): each run's
    `status` and `epoch` events, with its `run_id`, then one `end` once every run has ended
    and the search starts no more. Resumable with `Last-Event-ID` like a run's stream."""
    async for event in relay(stream, settings):
        yield event
