"""The plan: op order, shapes, parameter counts, and the training rules it carries."""

from math import prod

import pytest

from models.spec import SpecError
from models.spec.catalog import DatasetShape
from models.spec.plan import (
    Activation,
    BatchNorm,
    ChannelsFirst,
    Conv,
    CrossEntropy,
    DecoupledDecay,
    Dense,
    Dropout,
    Flatten,
    InputNoise,
    KernelPenalty,
    MaxNorm,
    Mixup,
    Plan,
    Pool,
)
from models.spec.resolve import plan_for
from tests.factories import make_plan, make_spec


def test_mlp_hidden_block_order() -> None:
    plan = make_plan(
        dataset={"name": "digits", "n_samples": None},
        model={"hidden": [32]},
        regularization={"dropout": 0.25, "batchnorm": True, "bn_momentum": 0.2, "bn_eps": 1e-3},
    )
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
    images = make_plan(
        dataset={"name": "digits", "n_samples": None},
        model={"kind": "cnn", "channels": [4], "hidden": []},
    )
    assert images.ops[:2] == (ChannelsFirst(1, (8, 8)), Conv(1, 4, 3, dims=2))
    assert images.ops[-1] == Dense(4 * 8 * 8, 10)
    vectors = make_plan(model={"kind": "cnn", "channels": [4], "hidden": []})
    assert vectors.ops[:2] == (ChannelsFirst(1, (2,)), Conv(1, 4, 3, dims=1))
    assert vectors.ops[-1] == Dense(4 * 2, 2)


def test_pooling_ends_each_conv_block_and_shrinks_the_dense_input() -> None:
    plan = make_plan(
        dataset={"name": "digits", "n_samples": None},
        model={"kind": "cnn", "channels": [4, 6], "hidden": [16], "pool": "max"},
        regularization={"dropout": 0.1, "batchnorm": True},
    )
    block = (BatchNorm(4, momentum=0.1, eps=1e-5), Activation("relu"), Pool("max", dims=2))
    assert plan.ops[:6] == (
        ChannelsFirst(1, (8, 8)),
        Conv(1, 4, 3, dims=2, bias=False),
        *block,
        Dropout(0.1),
    )
    assert plan.ops[9:12] == (Pool("max", dims=2), Dropout(0.1), Flatten())
    assert plan.ops[12] == Dense(6 * 2 * 2, 16, bias=False)  # 8x8 -> 4x4 -> 2x2
    # By hand: 3x3 kernels without biases (batch norm follows), gamma and beta per channel.
    convs = 1 * 4 * 9 + 2 * 4 + 4 * 6 * 9 + 2 * 6
    assert plan.n_params == convs + 24 * 16 + 2 * 16 + 16 * 10 + 10 == 858


def test_odd_sizes_round_down_when_pooling() -> None:
    vectors = make_plan(
        dataset={"name": "classification", "n_samples": 400, "n_features": 13},
        model={"kind": "cnn", "channels": [4, 5], "hidden": [], "pool": "avg"},
    )
    assert Pool("avg", dims=1) in vectors.ops
    assert vectors.ops[-1] == Dense(5 * 3, 2)  # 13 -> 6 -> 3


def test_zero_dropout_adds_no_op() -> None:
    plan = make_plan(regularization={"dropout": 0.0})
    assert not any(isinstance(op, Dropout) for op in plan.ops)


def test_per_layer_dropout_rates_follow_the_hidden_layers() -> None:
    plan = make_plan(model={"hidden": [8, 8]}, regularization={"dropout": [0.1, 0.3]})
    assert [op.p for op in plan.ops if isinstance(op, Dropout)] == [0.1, 0.3]


def test_plan_carries_every_training_rule() -> None:
    plan = make_plan(
        seed=7,
        regularization={
            "l1": 1e-5,
            "l2": 1e-4,
            "weight_decay": 0.01,
            "label_smoothing": 0.1,
            "max_norm": 3.0,
            "input_noise": 0.2,
            "mixup": 0.3,
        },
        optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9},
        training={"batch_size": 16},
    )
    assert plan.penalty == KernelPenalty(l1=1e-5, l2=1e-4)
    assert plan.max_norm == MaxNorm(limit=3.0)
    assert plan.input_noise == InputNoise(std=0.2)
    assert plan.mixup == Mixup(alpha=0.3)
    assert plan.decay == DecoupledDecay(rate=0.01)
    assert plan.loss == CrossEntropy(label_smoothing=0.1)
    assert (plan.optimizer.name, plan.optimizer.lr, plan.optimizer.momentum) == ("sgd", 0.05, 0.9)
    assert (plan.batch_size, plan.seed) == (16, 7)


def test_max_norm_and_input_noise_are_off_by_default_and_add_no_op() -> None:
    plain, on = make_plan(), make_plan(regularization={"max_norm": 2.0, "input_noise": 0.5})
    assert (plain.max_norm, plain.input_noise) == (MaxNorm(limit=None), InputNoise(std=0.0))
    assert on.ops == plain.ops  # training rules: the layers (and weight names) stay the same


def test_mixup_is_off_by_default_and_adds_no_op() -> None:
    plain, on = make_plan(), make_plan(regularization={"mixup": 0.2})
    assert (plain.mixup, on.mixup) == (Mixup(alpha=0.0), Mixup(alpha=0.2))
    assert on.ops == plain.ops


def test_spatial_dropout_drops_channels_after_convs_and_units_after_dense_layers() -> None:
    plan = make_plan(
        dataset={"name": "digits", "n_samples": None},
        model={"kind": "cnn", "channels": [4, 8], "hidden": [16], "pool": "max"},
        regularization={"dropout": [0.1, 0.2, 0.3], "dropout_kind": "spatial"},
    )
    dropouts = [op for op in plan.ops if isinstance(op, Dropout)]
    assert dropouts == [Dropout(0.1, spatial=2), Dropout(0.2, spatial=2), Dropout(0.3)]
    vectors = make_plan(
        model={"kind": "cnn", "channels": [4], "hidden": []},
        regularization={"dropout": 0.2, "dropout_kind": "spatial"},
    )
    assert [op for op in vectors.ops if isinstance(op, Dropout)] == [Dropout(0.2, spatial=1)]


def test_spatial_dropout_on_an_mlp_is_standard_dropout() -> None:
    spatial = make_plan(regularization={"dropout": 0.2, "dropout_kind": "spatial"})
    assert spatial.ops == make_plan(regularization={"dropout": 0.2}).ops
    assert Dropout(0.2) in spatial.ops


def plan_on(input_shape: tuple[int, ...], **model: object) -> Plan:
    """The plan of a spec with `model`, for a 4-class dataset of examples shaped `input_shape`."""
    spec = make_spec(model=model)
    return plan_for(spec, DatasetShape(input_shape=input_shape, n_classes=4, n_samples=100))


def test_a_cnn_reads_rank_3_examples_as_channels_first_images() -> None:
    plan = plan_on((3, 8, 6), kind="cnn", channels=[5], hidden=[16])
    assert plan.ops[:2] == (ChannelsFirst(3, (8, 6)), Conv(3, 5, 3, dims=2))
    assert plan.ops[-3:] == (Dense(5 * 8 * 6, 16), Activation("relu"), Dense(16, 4))
    # By hand: 3 input channels x 5 outputs x 3x3 windows, the flatten keeps 5 x 8 x 6.
    assert plan.n_params == 3 * 5 * 9 + 5 + 240 * 16 + 16 + 16 * 4 + 4 == 4_064
    # One channel stored with or without its axis is the same network.
    assert (
        plan_on((1, 8, 6), kind="cnn", channels=[5]).n_params
        == plan_on((8, 6), kind="cnn", channels=[5]).n_params
    )


def test_pooling_rgb_images_shrinks_only_their_spatial_axes() -> None:
    plan = plan_on((3, 8, 6), kind="cnn", channels=[4, 8], hidden=[], pool="avg")
    assert plan.ops[:3] == (ChannelsFirst(3, (8, 6)), Conv(3, 4, 3, dims=2), Activation("relu"))
    assert Pool("avg", dims=2) in plan.ops
    assert plan.ops[-1] == Dense(8 * 2 * 1, 4)  # 8x6 -> 4x3 -> 2x1, all 8 channels kept
    assert plan.n_params == (3 * 4 * 9 + 4) + (4 * 8 * 9 + 8) + (16 * 4 + 4) == 476


def test_pooling_bound_counts_spatial_sides_not_channels() -> None:
    # 4x6 images halve to 2x3, 1x1, then nothing: 2 blocks fit whatever the 3 channels say.
    assert plan_on((3, 4, 6), kind="cnn", channels=[2, 2], pool="max").ops[-3] == Dense(2, 16)
    with pytest.raises(SpecError) as info:
        plan_on((3, 4, 6), kind="cnn", channels=[2] * 3, pool="max")
    assert info.value.loc == ("model", "pool")
    assert "3x4x6 input" in info.value.message and "at most 2 fit" in info.value.message


def test_an_mlp_flattens_rgb_images_channels_first() -> None:
    plan = plan_on((3, 8, 6), hidden=[16])
    assert plan.ops[:2] == (Flatten(), Dense(3 * 8 * 6, 16))
    assert plan.n_params == 144 * 16 + 16 + 16 * 4 + 4


@pytest.mark.parametrize(
    ("input_shape", "hint"),
    [((8, 6, 3), True), ((5, 8, 8), False), ((2, 3, 4, 5), False)],
    ids=["channels-last", "five-channels", "rank-4"],
)
def test_a_cnn_refuses_examples_it_cannot_read_as_images(
    input_shape: tuple[int, ...], hint: bool
) -> None:
    with pytest.raises(SpecError) as info:
        plan_on(input_shape, kind="cnn", channels=[4])
    assert info.value.loc == ("model", "kind")
    assert f"this dataset's are {input_shape}" in info.value.message
    assert ("channels last?" in info.value.message) == hint
    assert plan_on(input_shape, hidden=[8]).ops[1] == Dense(
        prod(input_shape), 8
    )  # an mlp reads any
