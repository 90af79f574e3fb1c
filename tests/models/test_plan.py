"""The layer plan: op order, shapes and parameter counts."""

from models.plan import (
    Activation,
    AddChannelAxis,
    BatchNorm,
    Conv,
    Dense,
    Dropout,
    Flatten,
    build_plan,
)
from tests.factories import make_spec


def test_mlp_hidden_block_order() -> None:
    spec = make_spec(
        dataset={"name": "digits", "n_samples": None},
        model={"hidden": [32]},
        regularization={"dropout": 0.25, "batchnorm": True, "bn_momentum": 0.2, "bn_eps": 1e-3},
    )
    plan = build_plan(spec)
    assert plan.ops == (
        Flatten(),
        Dense(64, 32, bias=False),  # batch norm's beta replaces the bias
        BatchNorm(32, momentum=0.2, eps=1e-3),
        Activation("relu"),
        Dropout(0.25),
        Dense(32, 10),
    )
    assert plan.n_params == 64 * 32 + 2 * 32 + 32 * 10 + 10


def test_cnn_on_images_is_2d_and_on_vectors_is_1d() -> None:
    images = build_plan(
        make_spec(
            dataset={"name": "digits", "n_samples": None},
            model={"kind": "cnn", "channels": [4], "hidden": []},
        )
    )
    assert images.ops[:2] == (AddChannelAxis(), Conv(1, 4, 3, dims=2))
    assert images.ops[-1] == Dense(4 * 8 * 8, 10)
    vectors = build_plan(make_spec(model={"kind": "cnn", "channels": [4], "hidden": []}))
    assert vectors.ops[1] == Conv(1, 4, 3, dims=1)
    assert vectors.ops[-1] == Dense(4 * 2, 2)


def test_zero_dropout_adds_no_op() -> None:
    plan = build_plan(make_spec(regularization={"dropout": 0.0}))
    assert not any(isinstance(op, Dropout) for op in plan.ops)
