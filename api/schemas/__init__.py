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
from api.schemas.artifacts import ArtifactRead
from api.schemas.common import SPEC_EXAMPLE, JsonFloat
from api.schemas.datasets import (
    BuiltinDatasetRead,
    DatasetListRead,
    DatasetRead,
    DatasetVersionRead,
    SplitRead,
    SplitsRead,
    UploadedDatasetRead,
)
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
    HealthRead,
    ReconcilerRead,
    StoreUnavailableRead,
    WorkerRead,
)

__all__ = [
    "SPEC_EXAMPLE",
    "ArtifactRead",
    "BandRead",
    "BestRunRead",
    "BuiltinDatasetRead",
    "CompareRead",
    "DatasetListRead",
    "DatasetRead",
    "DatasetVersionRead",
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
    "SplitRead",
    "SplitsRead",
    "StoreUnavailableRead",
    "UploadedDatasetRead",
    "VerdictRead",
    "WorkerRead",
]
