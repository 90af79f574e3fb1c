"""The plan: op order, shapes, parameter counts, and the training rules it carries."""

from models.spec.plan import (
    Activation,
    AddChannelAxis,
    BatchNorm,
    Conv,
    CrossEntropy,
    DecoupledDecay,
    Dense,
    Dropout,
    Flatten,
    KernelPenalty,
    Pool,
)
from tests.factories import make_plan


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
    assert images.ops[:2] == (AddChannelAxis(), Conv(1, 4, 3, dims=2))
    assert images.ops[-1] == Dense(4 * 8 * 8, 10)
    vectors = make_plan(model={"kind": "cnn", "channels": [4], "hidden": []})
    assert vectors.ops[1] == Conv(1, 4, 3, dims=1)
    assert vectors.ops[-1] == Dense(4 * 2, 2)


def test_pooling_ends_each_conv_block_and_shrinks_the_dense_input() -> None:
    plan = make_plan(
        dataset={"name": "digits", "n_samples": None},
        model={"kind": "cnn", "channels": [4, 6], "hidden": [16], "pool": "max"},
        regularization={"dropout": 0.1, "batchnorm": True},
    )
    block = (BatchNorm(4, momentum=0.1, eps=1e-5), Activation("relu"), Pool("max", dims=2))
    assert plan.ops[:6] == (
        AddChannelAxis(),
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
        regularization={"l1": 1e-5, "l2": 1e-4, "weight_decay": 0.01, "label_smoothing": 0.1},
        optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9},
        training={"batch_size": 16},
    )
    assert plan.penalty == KernelPenalty(l1=1e-5, l2=1e-4)
    assert plan.decay == DecoupledDecay(rate=0.01)
    assert plan.loss == CrossEntropy(label_smoothing=0.1)
    assert (plan.optimizer.name, plan.optimizer.lr, plan.optimizer.momentum) == ("sgd", 0.05, 0.9)
    assert (plan.batch_size, plan.seed) == (16, 7)
