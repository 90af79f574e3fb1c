"""PyTorch backend: builds the plan as an nn.Sequential and trains on in-memory tensors."""

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from numpy.typing import NDArray
from torch import nn

from models.spec.plan import Plan
from workers.backends.base import (
    EVAL_BATCH,
    DeviceUnavailableError,
    Interrupt,
    KernelStats,
    LossAcc,
    SplitName,
    batch_bounds,
    check_interrupt,
    expect_same_shapes,
    kernel_stats_of,
)
from workers.backends.mixup import STATE_KEY, MixupDraws
from workers.backends.torch_modules import build_module
from workers.backends.torch_weights import TorchWeights
from workers.datasets import DatasetArrays
from workers.init_weights import LayerWeights

__all__ = ["TorchTrainer", "build_module", "create_trainer", "max_norm_"]


@torch.no_grad()
def max_norm_(kernels: list[torch.Tensor], limit: float) -> None:
    """Scale each unit's incoming kernel vector whose L2 norm exceeds `limit` down to it.

    torch keeps the output unit first, (out, in) or (out, in, *window): the norm runs over
    every other axis. A norm of 0 gives limit/0 = inf, clamped to 1 (no NaN).
    """
    for kernel in kernels:
        norms = torch.linalg.vector_norm(kernel, dim=tuple(range(1, kernel.ndim)), keepdim=True)
        kernel.mul_(torch.clamp(limit / norms, max=1.0))


def _device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError("device 'cuda' requested but this worker has no CUDA GPU")
    if requested == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def _optimizer(plan: Plan, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """The plan's optimizer over `params`, without weight decay (the plan's is decoupled)."""
    opt = plan.optimizer
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov)
    return torch.optim.Adam(params, lr=opt.lr, betas=(opt.beta1, opt.beta2), eps=opt.eps)


class TorchTrainer(TorchWeights):
    """The network, its optimizer and its data as tensors on one device."""

    def __init__(
        self,
        plan: Plan,
        data: DatasetArrays,
        weights: list[LayerWeights],
        device: str,
        threads: int,
    ) -> None:
        torch.set_num_threads(threads)
        torch.manual_seed(plan.seed)  # dropout masks and input noise
        self._device = _device(device)
        self.device = self._device.type
        self.plan = plan
        self.model = build_module(plan).to(self._device)
        weighted = [m for m in self.model if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d)]
        with torch.no_grad():
            for module, w in zip(weighted, weights, strict=True):
                module.weight.copy_(torch.from_numpy(w.kernel))
                if module.bias is not None and w.bias is not None:
                    module.bias.copy_(torch.from_numpy(w.bias))
        self.kernels = [m.weight for m in weighted]
        self.l1, self.l2 = plan.penalty.l1, plan.penalty.l2
        self.label_smoothing = plan.loss.label_smoothing
        self.decay = 1.0 - plan.optimizer.lr * plan.decay.rate
        self.batch_size = plan.batch_size
        self.max_norm, self.noise_std = plan.max_norm.limit, plan.input_noise.std
        self.optimizer = _optimizer(plan, list(self.model.parameters()))
        alpha = plan.mixup.alpha
        self._mixup = MixupDraws(alpha, plan.seed) if alpha else None
        self.splits = {
            name: (
                torch.from_numpy(split.x).to(self._device),
                torch.from_numpy(split.y).to(self._device),
            )
            for name, split in (("train", data.train), ("val", data.val), ("test", data.test))
        }

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The plan's cross-entropy: torch smooths targets to (1 - eps) * onehot + eps / K."""
        return F.cross_entropy(logits, y, reduction=reduction, label_smoothing=self.label_smoothing)

    def _kernel_total(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        # A chain of adds: cheaper per batch than stacking the sums (measured, small nets).
        total = fn(self.kernels[0]).sum()
        for kernel in self.kernels[1:]:
            total = total + fn(kernel).sum()
        return total

    def _penalty_term(self) -> torch.Tensor:
        """l1 * sum|w| + l2 * sum(w^2) over kernels, as a differentiable scalar."""
        term = self.l2 * self._kernel_total(torch.square) if self.l2 else None
        if self.l1:
            l1_term = self.l1 * self._kernel_total(torch.abs)
            term = l1_term if term is None else term + l1_term
        return term if term is not None else torch.zeros((), device=self._device)

    def _forward(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Train-mode data loss, logits and the labels train_acc counts, for one batch.

        Mixup (if on) mixes the clean batch first, input noise is added to what it gives;
        the labels are the batch's own, or mixup's dominant ones.
        """
        draw = self._mixup.draw(len(y)) if self._mixup is not None else None
        if draw is not None:
            perm = torch.from_numpy(draw.perm).to(self._device)
            x = float(draw.lam) * x + float(draw.rest) * x[perm]
        if self.noise_std:
            # randn_like draws from torch's seeded generator, the one dropout draws from,
            # whose state checkpoints keep (`rng/cpu`, `rng/cuda`).
            x = x + self.noise_std * torch.randn_like(x)
        logits = self.model(x)
        data_loss = self._loss(logits, y)
        if draw is None:
            return data_loss, logits, y
        # Cross-entropy is linear in the targets: mixed (smoothed) targets mix the two losses.
        data_loss = float(draw.lam) * data_loss + float(draw.rest) * self._loss(logits, y[perm])
        return data_loss, logits, y if draw.lam >= 0.5 else y[perm]

    def _step(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One training step on a batch, the plan's rules in order: (data loss, logits, labels)."""
        data_loss, logits, labels = self._forward(x, y)
        loss = data_loss + self._penalty_term() if self.l1 or self.l2 else data_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        if self.decay != 1.0:
            # Decoupled decay before the update, kernels only: the spec's AdamW-style rule.
            with torch.no_grad():
                torch._foreach_mul_(self.kernels, self.decay)
        self.optimizer.step()
        if self.max_norm is not None:
            max_norm_(self.kernels, self.max_norm)  # after the update, as the spec says
        return data_loss.detach(), logits.detach(), labels

    def train_epoch(self, order: NDArray[np.int64], interrupt: Interrupt | None = None) -> LossAcc:
        """One pass in the given order, train mode, a `_step` per batch."""
        x, y = self.splits["train"]
        self.model.train()
        index = torch.from_numpy(order).to(self._device)
        # Per-batch results stay on the device and are reduced once per epoch (no syncs).
        losses, hits = [], []
        bounds = batch_bounds(len(index), self.batch_size)
        for start, stop in bounds:
            check_interrupt(interrupt)
            batch = index[start:stop]
            data_loss, logits, labels = self._step(x[batch], y[batch])
            losses.append(data_loss)
            hits.append(logits.argmax(dim=1) == labels)
        sizes = torch.tensor([stop - start for start, stop in bounds], device=self._device)
        n = len(index)
        loss_sum = torch.dot(torch.stack(losses), sizes.to(torch.float32))
        correct = torch.cat(hits).sum()
        return LossAcc(loss=loss_sum.item() / n, acc=correct.item() / n)

    @torch.no_grad()
    def evaluate(self, split: SplitName) -> LossAcc:
        """Mean cross-entropy and accuracy over a whole split, eval mode."""
        x, y = self.splits[split]
        self.model.eval()
        loss_sum, correct = 0.0, 0
        for start in range(0, len(y), EVAL_BATCH):
            logits = self.model(x[start : start + EVAL_BATCH])
            yb = y[start : start + EVAL_BATCH]
            loss_sum += self._loss(logits, yb, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == yb).sum().item())
        return LossAcc(loss=loss_sum / len(y), acc=correct / len(y))

    @torch.no_grad()
    def penalty(self) -> float:
        """The L1 + L2 kernel penalty at the current weights."""
        return float(self._penalty_term().item())

    @torch.no_grad()
    def kernel_stats(self) -> KernelStats:
        """L1 norm, L2 norm and share of near-zero entries over all kernels."""
        return kernel_stats_of(torch.cat([k.flatten() for k in self.kernels]).cpu().numpy())

    def state(self) -> dict[str, NDArray[Any]]:
        """Weights, BN statistics, optimizer slots (`optim/<param>/<slot>`), RNG states."""
        tensors = {f"model/{name}": value for name, value in self.model.state_dict().items()}
        tensors["rng/cpu"] = torch.get_rng_state()
        if self._device.type == "cuda":
            tensors["rng/cuda"] = torch.cuda.get_rng_state(self._device)
        for index, slots in self.optimizer.state_dict()["state"].items():
            for slot, value in slots.items():
                if isinstance(value, torch.Tensor):  # SGD without momentum keeps None
                    tensors[f"optim/{index}/{slot}"] = value
        arrays = {name: value.detach().cpu().numpy() for name, value in tensors.items()}
        if self._mixup is not None:
            arrays[STATE_KEY] = self._mixup.state()
        return arrays

    def load_state(self, tensors: Mapping[str, NDArray[Any]]) -> None:
        """Continue from `state()`; ValueError if it was taken from another model.

        A state taken on another device kind loads too; only the generator of this one is set.
        """
        model = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
        expect_same_shapes(model, {k: tuple(v.shape) for k, v in self.model.state_dict().items()})
        params = list(self.model.parameters())
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for name, array in tensors.items():
            if name.startswith("optim/"):
                index, slot = name.split("/")[1:]
                if int(index) >= len(params) or array.shape not in ((), params[int(index)].shape):
                    raise ValueError(f"checkpoint does not fit this optimizer: {name}")
                slots.setdefault(int(index), {})[slot] = torch.tensor(array)
        self.model.load_state_dict({k: torch.tensor(v) for k, v in model.items()})
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": slots, "param_groups": groups})
        torch.set_rng_state(torch.tensor(tensors["rng/cpu"]))
        if self._mixup is not None:
            self._mixup.load_state(tensors[STATE_KEY])
        if "rng/cuda" in tensors and self._device.type == "cuda":
            torch.cuda.set_rng_state(torch.tensor(tensors["rng/cuda"]), self._device)

    def environment(self) -> dict[str, str]:
        """torch's version and the name of its device (a GPU's model)."""
        on_gpu = self._device.type == "cuda"
        device = torch.cuda.get_device_name(self._device) if on_gpu else "cpu"
        return {"framework": "torch", "framework_version": str(torch.__version__), "device": device}


def create_trainer(
    plan: Plan, data: DatasetArrays, weights: list[LayerWeights], device: str, threads: int
) -> TorchTrainer:
    """Build the torch trainer for this plan and data."""
    return TorchTrainer(plan, data, weights, device, threads)
