"""Compare runs side by side: aligned curves, differing spec fields, largest deviation."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import ProjectDep, SessionDep, parse_metric_keys
from api.schemas import CompareRead, MetricsRead
from models import store
from models.compare import differing_fields, max_relative_deviation

router = APIRouter(tags=["compare"])


def _ids(raw: str) -> list[int]:
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "run_ids: integers") from exc
    if not 2 <= len(set(ids)) <= 50:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "run_ids: 2 to 50 distinct ids")
    return list(dict.fromkeys(ids))


@router.get("/compare", response_model=CompareRead)
def compare_runs(
    session: SessionDep,
    project_id: ProjectDep,
    run_ids: Annotated[
        str, Query(description="Comma-separated run ids (2-50); the first is the reference.")
    ],
    keys: Annotated[
        str, Query(max_length=500, description="Comma-separated per-epoch series to compare.")
    ] = "train_loss,val_loss,val_acc",
) -> CompareRead:
    """Curves of several runs, the spec fields that differ, and each key's largest deviation."""
    ids = _ids(run_ids)
    wanted = parse_metric_keys(keys)
    runs = [store.get_run(session=session, project_id=project_id, run_id=i) for i in ids]
    missing = [i for i, run in zip(ids, runs, strict=True) if run is None]
    if missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"runs {missing} not found")
    curves = [store.read_metrics(session=session, run_id=i, keys=wanted) for i in ids]
    return CompareRead(
        run_ids=ids,
        curves=[
            MetricsRead(run_id=i, epochs=c.epochs, series=c.series)
            for i, c in zip(ids, curves, strict=True)
        ],
        differing_spec=differing_fields({run.id: run.spec for run in runs if run is not None}),
        max_relative_deviation={key: max_relative_deviation(curves, key) for key in wanted},
    )
