"""ExperimentSpec validation (fields and cross-field rules) and resolution against a catalog."""

from typing import Any

import pytest
from pydantic import ValidationError

from models.spec import ExperimentSpec, SpecError
from models.spec.catalog import BuiltinCatalog, DatasetShape
from models.spec.dataset import DatasetSpec
from models.spec.plan import Dense
from models.spec.resolve import MAX_DATASET_VALUES, MAX_PARAMS, resolve
from tests.factories import make_spec, spec_dict


def errors_of(spec: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        ExperimentSpec.model_validate(spec)
    return str(info.value)


def resolve_error(**sections: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        resolve(make_spec(**sections), BuiltinCatalog())
    return info.value


class OneDatasetCatalog:
    """A catalog with one dataset the built-in catalog lacks (as an uploaded one would be)."""

    def __init__(self, name: str, shape: DatasetShape) -> None:
        self.name, self.shape = name, shape

    def describe(self, dataset: DatasetSpec) -> DatasetShape:
        if dataset.name != self.name:
            raise SpecError(("dataset", "name"), f"dataset.name: unknown {dataset.name!r}")
        return self.shape

    def pinned(self, dataset: DatasetSpec) -> DatasetSpec:
        return dataset  # one version only


def test_example_in_the_docs_is_valid() -> None:
    example = ExperimentSpec.model_config["json_schema_extra"]["example"]  # type: ignore[index]
    spec = ExperimentSpec.model_validate(example)
    assert spec.regularization.dropout == 0.2
    assert spec.regularization.dropout_rates(spec.model.n_hidden_layers) == [0.2, 0.2]
    assert resolve(spec, BuiltinCatalog()).dataset == DatasetShape((8, 8), 10, 1797)


@pytest.mark.parametrize(
    ("sections", "fragment"),
    [
        ({"regularization": {"dropout": 1.0}}, "regularization.dropout"),
        ({"regularization": {"l2": -1e-4}}, "regularization.l2"),
        ({"regularization": {"label_smoothing": 1.0}}, "regularization.label_smoothing"),
        ({"regularization": {"max_norm": 0}}, "regularization.max_norm"),
        ({"regularization": {"input_noise": -0.1}}, "regularization.input_noise"),
        ({"regularization": {"input_noise": 11}}, "regularization.input_noise"),
        ({"regularization": {"dropout_kind": "channel"}}, "regularization.dropout_kind"),
        ({"regularization": {"mixup": -0.1}}, "regularization.mixup"),
        ({"regularization": {"mixup": 11}}, "regularization.mixup"),
        ({"dataset": {"name": "no such/name"}}, "dataset.name"),
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


def test_parameter_bound_is_applied_when_resolving() -> None:
    make_spec(model={"hidden": [4096, 4096]})  # valid field by field
    error = resolve_error(model={"hidden": [4096, 4096]})
    assert error.loc == ("model",) and f"{MAX_PARAMS:,}" in error.message


def test_unknown_dataset_is_named_when_resolving() -> None:
    error = resolve_error(dataset={"name": "imagenet"})
    assert error.loc == ("dataset", "name") and "imagenet" in error.message
    assert "digits" in error.message  # the known ones are listed


def test_data_size_bound_is_applied_when_resolving() -> None:
    error = resolve_error(dataset={"name": "blobs", "n_samples": 200_000, "n_features": 1024})
    assert error.loc == ("dataset",) and f"{MAX_DATASET_VALUES:,}" in error.message


def test_a_spec_resolves_against_an_injected_catalog_entry() -> None:
    catalog = OneDatasetCatalog("my-spectra", DatasetShape((1000,), 7, 5000))
    spec = make_spec(dataset={"name": "my-spectra", "n_samples": None}, model={"hidden": [64]})
    resolved = resolve(spec, catalog)
    assert resolved.plan.input_shape == (1000,) and resolved.plan.n_classes == 7
    assert resolved.plan.n_params == 1000 * 64 + 64 + 64 * 7 + 7
    with pytest.raises(SpecError):  # the built-in catalog has no such dataset
        resolve(spec, BuiltinCatalog())
    # The parameter bound is applied from the entry's shape: 1000 inputs x 4096 x 2 layers.
    wide = make_spec(
        dataset={"name": "my-spectra", "n_samples": None}, model={"hidden": [4096, 1024]}
    )
    with pytest.raises(SpecError, match="parameters exceed the bound"):
        resolve(wide, catalog)
    narrow_input = OneDatasetCatalog("my-spectra", DatasetShape((10,), 7, 5000))
    assert resolve(wide, narrow_input).plan.n_params < MAX_PARAMS


def test_dropout_list_must_match_hidden_layers() -> None:
    assert "2 rates given for 1 hidden layers" in errors_of(
        spec_dict(regularization={"dropout": [0.1, 0.2]})
    )


def test_dataset_params_must_apply_to_the_dataset() -> None:
    error = resolve_error(dataset={"name": "digits", "noise": 0.3, "n_samples": None})
    assert error.message == "dataset.noise does not apply to dataset 'digits'"
    assert error.loc == ("dataset", "noise")


def test_cnn_needs_channels_and_mlp_has_none() -> None:
    assert "model.channels" in errors_of(spec_dict(model={"kind": "cnn", "channels": []}))
    assert "model.channels" in errors_of(spec_dict(model={"kind": "mlp", "channels": [4]}))


def test_only_a_cnn_pools() -> None:
    with pytest.raises(ValidationError) as info:
        ExperimentSpec.model_validate(spec_dict(model={"kind": "mlp", "pool": "max"}))
    assert [error["loc"] for error in info.value.errors()] == [("model", "pool")]
    assert make_spec(model={"kind": "cnn", "channels": [4], "pool": "avg"}).model.pool == "avg"
    assert make_spec(model={"kind": "mlp", "pool": None}).model.pool is None


def test_pooling_past_one_pixel_is_refused_when_resolving() -> None:
    digits = {"name": "digits", "n_samples": None}
    error = resolve_error(dataset=digits, model={"kind": "cnn", "channels": [2] * 4, "pool": "max"})
    assert error.loc == ("model", "pool")
    assert "8x8" in error.message and "at most 3" in error.message
    spec = make_spec(dataset=digits, model={"kind": "cnn", "channels": [2] * 3, "pool": "max"})
    assert resolve(spec, BuiltinCatalog()).plan.ops[-3] == Dense(2 * 1 * 1, 16)  # 8 -> 4 -> 2 -> 1


def test_pooling_lets_larger_images_fit_the_parameter_bound() -> None:
    catalog = OneDatasetCatalog("photos", DatasetShape((64, 64), 5, 2000))
    model = {"kind": "cnn", "channels": [16, 32], "hidden": [128]}
    plain = make_spec(dataset={"name": "photos", "n_samples": None}, model=model)
    with pytest.raises(SpecError, match="parameters exceed the bound"):
        resolve(plain, catalog)  # 32 x 64 x 64 x 128 = 16.8M in the first dense layer
    pooled = make_spec(
        dataset={"name": "photos", "n_samples": None}, model={**model, "pool": "max"}
    )
    convs = 1 * 16 * 9 + 16 + 16 * 32 * 9 + 32
    dense = 32 * 16 * 16 * 128 + 128 + 128 * 5 + 5
    assert resolve(pooled, catalog).plan.n_params == convs + dense < MAX_PARAMS


def test_decay_step_must_stay_below_one() -> None:
    message = errors_of(
        spec_dict(optimizer={"name": "sgd", "lr": 5.0}, regularization={"weight_decay": 0.5})
    )
    assert "optimizer.lr x regularization.weight_decay = 2.5 must be < 1" in message


def test_momentum_is_sgd_only() -> None:
    assert "sgd only" in errors_of(spec_dict(optimizer={"name": "adam", "momentum": 0.9}))


def test_bounds_count_every_channel_of_colour_images() -> None:
    dataset = {"name": "photos", "n_samples": None}
    spec = make_spec(dataset=dataset, model={"hidden": [2048]})
    grey = OneDatasetCatalog("photos", DatasetShape((32, 32), 5, 7000))
    assert resolve(spec, grey).plan.n_params == 1024 * 2048 + 2048 + 2048 * 5 + 5
    # 7,000 x 3 x 32 x 32 = 21.5M input values; 3,072 inputs x 2,048 = 6.3M parameters.
    many = OneDatasetCatalog("photos", DatasetShape((3, 32, 32), 5, 7000))
    with pytest.raises(
        SpecError, match=f"21,504,000 input values exceed the bound of {MAX_DATASET_VALUES:,}"
    ):
        resolve(spec, many)
    fewer = OneDatasetCatalog("photos", DatasetShape((3, 32, 32), 5, 6000))
    with pytest.raises(SpecError, match=f"6,303,749 parameters exceed the bound of {MAX_PARAMS:,}"):
        resolve(spec, fewer)
    cnn = make_spec(dataset=dataset, model={"kind": "cnn", "channels": [8], "pool": "max"})
    convs, dense = 3 * 8 * 9 + 8, 8 * 16 * 16 * 16 + 16 + 16 * 5 + 5
    assert resolve(cnn, fewer).plan.n_params == convs + dense
