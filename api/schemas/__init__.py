"""Request and response bodies of REST v1, one module per resource."""

from api.schemas.analysis import (
    BandRead,
    CompareRead,
    IntervalRead,
    ReportRead,
    SeedGroupRead,
    SettingRead,
    VerdictRead,
)
from api.schemas.common import SPEC_EXAMPLE, JsonFloat
from api.schemas.experiments import (
    BestRunRead,
    ExperimentCreate,
    ExperimentRead,
    RunStatusRead,
)
from api.schemas.runs import (
    MetricsRead,
    RunErrorRead,
    RunRead,
)
from api.schemas.system import (
    DatasetRead,
    HealthRead,
    ReconcilerRead,
    StoreUnavailableRead,
    WorkerRead,
)

__all__ = [
    "SPEC_EXAMPLE",
    "BandRead",
    "BestRunRead",
    "CompareRead",
    "DatasetRead",
    "ExperimentCreate",
    "ExperimentRead",
    "HealthRead",
    "IntervalRead",
    "JsonFloat",
    "MetricsRead",
    "ReconcilerRead",
    "ReportRead",
    "RunErrorRead",
    "RunRead",
    "RunStatusRead",
    "SeedGroupRead",
    "SettingRead",
    "StoreUnavailableRead",
    "VerdictRead",
    "WorkerRead",
]
