"""The spec's meaning pinned on torch: L2/L1 terms, decoupled decay, BN momentum, dropout."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from models.spec.plan import BatchNorm, Dense, Dropout
from tests.factories import plan_of
from workers.backends.torch_backend import TorchTrainer, build_module
from workers.datasets import DatasetArrays, Split
from workers.init_weights import LayerWeights


def tiny_data(x: np.ndarray, y: np.ndarray) -> DatasetArrays:
    split = Split(x=x.astype(np.float32), y=y.astype(np.int64))
    return DatasetArrays(train=split, val=split, test=split, n_classes=2)


def dense_trainer(
    x: np.ndarray, *, l1: float = 0.0, l2: float = 0.0, **sections: dict[str, object]
) -> TorchTrainer:
    """One Dense(3 -> 2) layer, kernel and bias all ones, trained on (x, labels 0/1)."""
    regularization = {"l1": l1, "l2": l2, **sections.pop("regularization", {})}
    plan = plan_of(
        [Dense(3, 2)],
        input_shape=(3,),
        n_classes=2,
        training={"epochs": 1, "batch_size": len(x)},
        regularization=regularization,
        **sections,
    )
    weights = [LayerWeights(kernel=np.ones((2, 3), np.float32), bias=np.ones(2, np.float32))]
    y = np.arange(len(x)) % 2
    return TorchTrainer(plan, tiny_data(x, y), weights, device="cpu", threads=1)


def data_gradients(trainer: TorchTrainer) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of the mean cross-entropy alone, on a copy of the model."""
    layer = trainer.model[0]
    w = layer.weight.detach().clone().requires_grad_(True)
    b = layer.bias.detach().clone().requires_grad_(True)
    x, y = trainer.splits["train"]
    F.cross_entropy(x @ w.T + b, y).backward()
    assert w.grad is not None and b.grad is not None
    return w.grad, b.grad


SGD = {"optimizer": {"name": "sgd", "lr": 0.1}}
X = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0], [2.0, 0.0, 1.0], [-1.0, 1.0, 1.0]])


@pytest.mark.parametrize(("l1", "l2"), [(0.0, 0.05), (0.03, 0.0)])
def test_penalty_gradient_reaches_kernels_only(l1: float, l2: float) -> None:
    trainer = dense_trainer(X, l1=l1, l2=l2, **SGD)
    layer = trainer.model[0]
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    gw, gb = data_gradients(trainer)
    trainer.train_epoch(np.arange(len(X)))
    penalty_grad = 2 * l2 * w0 + l1 * torch.sign(w0)
    torch.testing.assert_close(layer.weight.detach(), w0 - 0.1 * (gw + penalty_grad))
    torch.testing.assert_close(layer.bias.detach(), b0 - 0.1 * gb)  # biases unpenalized


def test_penalty_value_is_over_kernels_only() -> None:
    trainer = dense_trainer(X, l1=0.5, l2=0.25)
    # Kernel: six ones. Bias (two ones) is excluded: 0.5 * 6 + 0.25 * 6.
    assert trainer.penalty() == pytest.approx(4.5)


def test_decoupled_decay_with_sgd_momentum_matches_the_brief() -> None:
    # Zero inputs give the kernel a zero data gradient: only the decay moves it.
    zeros = np.zeros((4, 3))
    trainer = dense_trainer(
        zeros,
        optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
        regularization={"weight_decay": 0.5},
    )
    trainer.train_epoch(np.arange(4))
    trainer.train_epoch(np.arange(4))
    kernel = trainer.model[0].weight.detach()
    torch.testing.assert_close(kernel, torch.full((2, 3), 0.9025))  # (1 - 0.1 * 0.5) ** 2
    bias = trainer.model[0].bias.detach()
    torch.testing.assert_close(bias, torch.ones(2))  # balanced labels, zero logits: no change


def test_decoupled_decay_with_adam_is_adamw_on_kernels_only() -> None:
    zeros = np.zeros((4, 3))
    trainer = dense_trainer(
        zeros, optimizer={"name": "adam", "lr": 0.1}, regularization={"weight_decay": 0.5}
    )
    trainer.train_epoch(np.arange(4))
    trainer.train_epoch(np.arange(4))
    # Zero gradients make Adam's own step zero: only the decay moves the kernel.
    torch.testing.assert_close(trainer.model[0].weight.detach(), torch.full((2, 3), 0.9025))
    torch.testing.assert_close(trainer.model[0].bias.detach(), torch.ones(2))


def test_batchnorm_parameters_are_not_penalized() -> None:
    ops = (Dense(3, 2, bias=False), BatchNorm(2, momentum=0.1, eps=1e-5))
    plan = plan_of(ops, input_shape=(3,), n_classes=2, regularization={"l1": 0.5, "l2": 0.25})
    weights = [LayerWeights(kernel=np.ones((2, 3), np.float32), bias=None)]
    trainer = TorchTrainer(plan, tiny_data(X, np.arange(4) % 2), weights, device="cpu", threads=1)
    assert trainer.penalty() == pytest.approx(4.5)  # gamma (ones) would add 0.5 * 2 + 0.25 * 2


def test_torch_coupled_sgd_decay_is_a_different_regularizer() -> None:
    # What the spec must NOT mean: torch SGD's weight_decay goes through momentum.
    w = torch.ones(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.5)
    for _ in range(2):
        w.grad = torch.zeros(1)
        opt.step()
    assert w.item() == pytest.approx(0.8575)


def test_bn_momentum_weighs_the_new_batch() -> None:
    plan = plan_of([BatchNorm(3, momentum=0.3, eps=1e-5)], input_shape=(3,), n_classes=3)
    module = build_module(plan)
    batch = torch.tensor([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
    module.train()
    module(batch)
    layer = module[0]
    torch.testing.assert_close(layer.running_mean, 0.3 * batch.mean(dim=0))
    assert layer.eps == 1e-5


def test_dropout_is_inverted_and_identity_in_eval() -> None:
    torch.manual_seed(0)
    module = build_module(plan_of([Dropout(0.3)], input_shape=(1,), n_classes=1))
    ones = torch.ones(200_000)
    module.train()
    out = module(ones)
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / 0.7))
    dropped_share = (out == 0).float().mean().item()
    assert abs(dropped_share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / len(ones))
    module.eval()
    torch.testing.assert_close(module(ones), ones)
