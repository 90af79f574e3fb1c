"""The client's result types and events hold exactly the fields the API's OpenAPI gives."""

import dataclasses
from types import NoneType
from typing import Any, get_args, get_type_hints

import pytest
from reglab_client import EpochEvent, ExperimentEnd, RunEnd, StatusEvent, admin, types

from api.main import app

SCHEMAS: dict[str, Any] = app.openapi()["components"]["schemas"]
TYPED = {
    "Run": "RunRead",
    "RunError": "RunErrorRead",
    "RunStatusItem": "RunStatusRead",
    "BestRun": "BestRunRead",
    "Experiment": "ExperimentRead",
    "Metrics": "MetricsRead",
    "Interval": "IntervalRead",
    "Band": "BandRead",
    "SeedGroup": "SeedGroupRead",
    "Comparison": "CompareRead",
    "Setting": "SettingRead",
    "Verdict": "VerdictRead",
    "Report": "ReportRead",
    "BuiltinDataset": "BuiltinDatasetRead",
    "UploadedDataset": "UploadedDatasetRead",
    "Split": "SplitRead",
    "Splits": "SplitsRead",
    "DatasetVersion": "DatasetVersionRead",
    "Dataset": "DatasetRead",
    "DatasetList": "DatasetListRead",
    "Artifact": "ArtifactRead",
    "Worker": "WorkerRead",
    "Reconciler": "ReconcilerRead",
    "Health": "HealthRead",
    "Project": "ProjectRead",
    "Key": "KeyRead",
    "KeyCreated": "KeyCreated",
    "ProjectCreated": "ProjectCreated",
    "Page": "Page_RunRead_",
}
EVENTS = {
    StatusEvent: "StatusEventRead",
    EpochEvent: "EpochEventRead",
    RunEnd: "RunEndEventRead",
    ExperimentEnd: "ExperimentEndEventRead",
}


def nullable_in_schema(schema: dict[str, Any]) -> dict[str, bool]:
    """Each property of a schema, and whether null is one of its values."""
    return {
        name: any(option.get("type") == "null" for option in prop.get("anyOf", []))
        for name, prop in schema["properties"].items()
    }


def nullable_in_hints(hints: dict[str, Any]) -> dict[str, bool]:
    return {name: NoneType in get_args(hint) for name, hint in hints.items()}


@pytest.mark.parametrize(("name", "schema"), TYPED.items())
def test_a_result_type_has_the_schema_s_fields_and_nulls(name: str, schema: str) -> None:
    typed = getattr(types, name, None) or getattr(admin, name)
    assert nullable_in_hints(get_type_hints(typed)) == nullable_in_schema(SCHEMAS[schema])
    # Every field is always sent: a TypedDict with every key required says so.
    assert set(SCHEMAS[schema]["required"]) == typed.__required_keys__


def test_every_response_schema_has_its_type() -> None:
    responses = {n for n in SCHEMAS if n.endswith("Read") or n.endswith("Created")}
    untyped = responses - set(TYPED.values()) - set(EVENTS.values())
    # The 503 body of a store outage: its text is read into UnavailableError.
    assert untyped == {"StoreUnavailableRead"}


@pytest.mark.parametrize(("event", "schema"), EVENTS.items())
def test_an_event_has_the_schema_s_fields_and_its_id(event: type, schema: str) -> None:
    hints = {f.name: get_type_hints(event)[f.name] for f in dataclasses.fields(event)}
    assert hints.pop("id") is str
    assert nullable_in_hints(hints) == nullable_in_schema(SCHEMAS[schema])
