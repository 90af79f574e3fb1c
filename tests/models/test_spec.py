"""ExperimentSpec validation: bounds, unknown fields and cross-field rules."""

from typing import Any

import pytest
from pydantic import ValidationError

from models.spec import MAX_PARAMS, ExperimentSpec
from tests.factories import spec_dict


def errors_of(spec: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        ExperimentSpec.model_validate(spec)
    return str(info.value)


def test_example_in_the_docs_is_valid() -> None:
    example = ExperimentSpec.model_config["json_schema_extra"]["example"]  # type: ignore[index]
    spec = ExperimentSpec.model_validate(example)
    assert spec.regularization.dropout == 0.2
    assert spec.dropout_rates() == [0.2, 0.2]


@pytest.mark.parametrize(
    ("sections", "fragment"),
    [
        ({"regularization": {"dropout": 1.0}}, "regularization.dropout"),
        ({"regularization": {"l2": -1e-4}}, "regularization.l2"),
        ({"dataset": {"name": "imagenet"}}, "dataset.name"),
        ({"surprise": 1}, "surprise"),
        ({"model": {"hidden": [16], "depth": 3}}, "model.depth"),
        ({"training": {"epochs": 100_000}}, "training.epochs"),
        ({"optimizer": {"name": "sgd", "lr": 0}}, "optimizer.lr"),
    ],
)
def test_field_errors_name_the_field(sections: dict[str, Any], fragment: str) -> None:
    assert fragment in errors_of(spec_dict(**sections))


def test_bound_is_in_the_message() -> None:
    message = errors_of(spec_dict(training={"epochs": 100_000}))
    assert "less than or equal to 1000" in message


def test_parameter_bound() -> None:
    message = errors_of(spec_dict(model={"hidden": [4096, 4096]}))
    assert f"{MAX_PARAMS:,}" in message


def test_dropout_list_must_match_hidden_layers() -> None:
    assert "2 rates given for 1 hidden layers" in errors_of(
        spec_dict(regularization={"dropout": [0.1, 0.2]})
    )
    spec = ExperimentSpec.model_validate(
        spec_dict(model={"hidden": [8, 8]}, regularization={"dropout": [0.1, 0.3]})
    )
    assert spec.dropout_rates() == [0.1, 0.3]


def test_dataset_params_must_apply_to_the_dataset() -> None:
    assert "dataset.noise does not apply to dataset 'digits'" in errors_of(
        spec_dict(dataset={"name": "digits", "noise": 0.3, "n_samples": None})
    )


def test_cnn_needs_channels_and_mlp_has_none() -> None:
    assert "model.channels" in errors_of(spec_dict(model={"kind": "cnn", "channels": []}))
    assert "model.channels" in errors_of(spec_dict(model={"kind": "mlp", "channels": [4]}))


def test_decay_step_must_stay_below_one() -> None:
    message = errors_of(
        spec_dict(optimizer={"name": "sgd", "lr": 5.0}, regularization={"weight_decay": 0.5})
    )
    assert "optimizer.lr x regularization.weight_decay = 2.5 must be < 1" in message


def test_momentum_is_sgd_only() -> None:
    assert "sgd only" in errors_of(spec_dict(optimizer={"name": "adam", "momentum": 0.9}))
