"""The spec's meaning pinned on Keras: dropout, BN momentum convention, decay exclusions."""

import numpy as np
import pytest

from models.spec.plan import BatchNorm, Dense, Dropout
from tests.factories import plan_of
from workers.datasets import DatasetArrays, Split
from workers.init_weights import LayerWeights

tf = pytest.importorskip("tensorflow")
from workers.backends.tensorflow_backend import KerasTrainer, build_model  # noqa: E402


def test_dropout_is_inverted_and_identity_in_eval() -> None:
    tf.keras.utils.set_random_seed(0)
    model, _ = build_model(plan_of([Dropout(0.3)], input_shape=(1,), n_classes=1))
    ones = np.ones((200_000, 1), np.float32)
    out = np.asarray(model(ones, training=True)).ravel()
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 1 / 0.7, rtol=1e-6)
    assert abs((out == 0).mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / len(out))
    np.testing.assert_array_equal(np.asarray(model(ones, training=False)), ones)


def test_bn_momentum_weighs_the_new_batch() -> None:
    plan = plan_of([BatchNorm(3, momentum=0.3, eps=1e-5)], input_shape=(3,), n_classes=3)
    model, _ = build_model(plan)
    batch = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]], np.float32)
    model(batch, training=True)
    layer = model.layers[-1]
    np.testing.assert_allclose(np.asarray(layer.moving_mean), 0.3 * batch.mean(axis=0), rtol=1e-6)
    assert layer.epsilon == 1e-5


def test_decoupled_decay_skips_biases_and_batchnorm() -> None:
    ops = (Dense(3, 2), BatchNorm(2, momentum=0.1, eps=1e-5))
    plan = plan_of(
        ops,
        input_shape=(3,),
        n_classes=2,
        optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
        regularization={"weight_decay": 0.5},
        training={"batch_size": 4},
    )
    split = Split(x=np.zeros((4, 3), np.float32), y=(np.arange(4) % 2).astype(np.int64))
    data = DatasetArrays(train=split, val=split, test=split, n_classes=2)
    weights = [LayerWeights(kernel=np.ones((2, 3), np.float32), bias=np.ones(2, np.float32))]
    trainer = KerasTrainer(plan, data, weights, device="cpu", threads=1)
    trainer.train_epoch(np.arange(4))
    trainer.train_epoch(np.arange(4))
    np.testing.assert_allclose(np.asarray(trainer.kernels[0]), 0.9025, rtol=1e-6)
    # Bias and gamma get zero gradients here (batch norm cancels the constant input), so
    # any change would be decay: they must stay at 1.
    dense, bn = trainer.model.layers[-2], trainer.model.layers[-1]
    np.testing.assert_allclose(np.asarray(dense.bias), 1.0)
    np.testing.assert_allclose(np.asarray(bn.gamma), 1.0)
