"""TensorFlow/Keras 3 backend: builds the plan as a functional Keras model, trains in-memory."""

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import NDArray

from models.spec.plan import Plan
from workers.backends.base import (
    EVAL_BATCH,
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
from workers.backends.tensorflow_layers import build_model
from workers.backends.tensorflow_optimizer import build_optimizer
from workers.backends.tensorflow_runtime import (
    GPU_SCOPE,
    configure_threads,
    device_name,
    device_scope,
)
from workers.backends.tensorflow_weights import KerasWeights
from workers.datasets import DatasetArrays
from workers.init_weights import LayerWeights

__all__ = ["KerasTrainer", "build_model", "create_trainer", "max_norm_"]


def _keras_kernel(kernel: NDArray[np.float32]) -> NDArray[np.float32]:
    """Torch layout (out, in, *window) to Keras layout (*window, in, out)."""
    axes = (*range(2, kernel.ndim), 1, 0)
    return np.ascontiguousarray(np.transpose(kernel, axes))


def max_norm_(kernels: list[keras.Variable], limit: float) -> None:
    """Scale each unit's incoming kernel vector whose L2 norm exceeds `limit` down to it.

    Keras keeps the output unit LAST, (in, out) or (*window, in, out): the norm runs over
    every axis but the last (Keras' MaxNorm defaults to axis 0, wrong for a Conv kernel, and
    scales by c / (eps + n) even below c). A norm of 0 gives limit/0 = inf, capped at 1.
    """
    for kernel in kernels:
        value = kernel.value
        axes = list(range(len(value.shape) - 1))
        norms = tf.sqrt(tf.reduce_sum(tf.square(value), axis=axes, keepdims=True))
        kernel.assign(value * tf.minimum(1.0, limit / norms))


class KerasTrainer(KerasWeights):
    """The network, its optimizer and its data as tensors on one device."""

    def __init__(
        self,
        plan: Plan,
        data: DatasetArrays,
        weights: list[LayerWeights],
        device: str,
        threads: int,
    ) -> None:
        configure_threads(threads)
        keras.utils.set_random_seed(plan.seed)  # dropout masks
        self.max_norm, self.noise_std = plan.max_norm.limit, plan.input_noise.std
        self._scope = device_scope(device)
        self.device = "cuda" if self._scope == GPU_SCOPE else "cpu"
        with tf.device(self._scope):
            self.plan = plan
            self.model, weighted = build_model(plan)
            for layer, w in zip(weighted, weights, strict=True):
                layer.kernel.assign(_keras_kernel(w.kernel))
                if w.bias is not None:
                    layer.bias.assign(w.bias)
            self.kernels = [layer.kernel for layer in weighted]
            kernel_ids = {id(k) for k in self.kernels}
            others = [v for v in self.model.trainable_variables if id(v) not in kernel_ids]
            self.optimizer = build_optimizer(plan, others)
            self.optimizer.build(self.model.trainable_variables)
            # Its own generator for the input noise, seeded by the plan; state() keeps its state.
            self._noise = keras.random.SeedGenerator(plan.seed) if self.noise_std else None
            self._mixup = MixupDraws(plan.mixup.alpha, plan.seed) if plan.mixup.alpha else None
            self.splits = {
                name: (tf.constant(split.x), tf.constant(split.y))
                for name, split in (("train", data.train), ("val", data.val), ("test", data.test))
            }
        self.l1, self.l2 = plan.penalty.l1, plan.penalty.l2
        self.batch_size = plan.batch_size
        self.n_classes, self.label_smoothing = plan.n_classes, plan.loss.label_smoothing
        self._step = tf.function(self._train_step, reduce_retracing=True)
        self._labels = data.train.y  # host copy: train_acc's labels are picked per batch

    def _loss(self, labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """Per-example cross-entropy against (1 - eps) * onehot + eps / K targets.

        Keras' sparse cross-entropy takes no smoothing: the targets are built here.
        """
        if not self.label_smoothing:
            return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        eps = self.label_smoothing
        targets = tf.one_hot(labels, self.n_classes) * (1.0 - eps) + eps / self.n_classes
        return -tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=-1)

    def _train_step(
        self, x: tf.Tensor, y: tf.Tensor, mix: tuple[tf.Tensor, tf.Tensor, tf.Tensor] | None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        variables = self.model.trainable_variables
        if mix is not None:
            # Mixup on the clean batch, noise on what it gives (the torch order).
            lam, rest, perm = mix
            x = lam * x + rest * tf.gather(x, perm)
        if self._noise is not None:
            # Not a GaussianNoise layer: one Keras layer per plan op keeps weight names aligned.
            x = x + keras.random.normal(tf.shape(x), stddev=self.noise_std, seed=self._noise)
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            data_loss = tf.reduce_mean(self._loss(y, logits))
            if mix is not None:
                # Cross-entropy is linear in the targets: mixed targets mix the two losses.
                other = tf.reduce_mean(self._loss(tf.gather(y, perm), logits))
                data_loss = lam * data_loss + rest * other
            loss = data_loss + tf.add_n(self.model.losses) if self.model.losses else data_loss
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        if self.max_norm is not None:
            max_norm_(self.kernels, self.max_norm)  # after the update (and its decay)
        return data_loss, tf.argmax(logits, axis=1)

    def _batch(self, batch: NDArray[np.int64]) -> tuple[tf.Tensor, NDArray[Any], NDArray[np.int64]]:
        """One step on the examples `batch`: its loss, its predictions, the labels to count."""
        x, y = self.splits["train"]
        labels = self._labels[batch]
        draw = self._mixup.draw(len(batch)) if self._mixup is not None else None
        mix = None
        if draw is not None:
            mix = (tf.constant(draw.lam), tf.constant(draw.rest), tf.constant(draw.perm))
            labels = labels if draw.lam >= 0.5 else labels[draw.perm]
        index = tf.constant(batch)
        loss, predicted = self._step(tf.gather(x, index), tf.gather(y, index), mix)
        return loss, predicted, labels

    def train_epoch(self, order: NDArray[np.int64], interrupt: Interrupt | None = None) -> LossAcc:
        """One pass in the given order; penalties join the loss, decay and max-norm the step."""
        losses: list[tf.Tensor] = []
        predictions: list[tf.Tensor] = []
        labels: list[NDArray[np.int64]] = []
        with tf.device(self._scope):
            bounds = batch_bounds(len(order), self.batch_size)
            for start, stop in bounds:
                check_interrupt(interrupt)
                loss, predicted, counted = self._batch(order[start:stop])
                losses.append(loss)
                predictions.append(predicted)
                labels.append(counted)
        sizes = np.array([stop - start for start, stop in bounds], dtype=np.float64)
        loss_sum = float(np.dot(np.array([float(v) for v in losses]), sizes))
        # Read back once per epoch, not per batch (no per-step device syncs).
        hits = np.concatenate([p.numpy() for p in predictions]) == np.concatenate(labels)
        correct = int(np.sum(hits))
        return LossAcc(loss=loss_sum / len(order), acc=correct / len(order))

    def evaluate(self, split: SplitName) -> LossAcc:
        """Mean cross-entropy and accuracy over a whole split, eval mode."""
        x, y = self.splits[split]
        loss_sum, correct = 0.0, 0
        with tf.device(self._scope):
            for start in range(0, int(y.shape[0]), EVAL_BATCH):
                logits = self.model(x[start : start + EVAL_BATCH], training=False)
                labels = y[start : start + EVAL_BATCH]
                loss_sum += float(tf.reduce_sum(self._loss(labels, logits)))
                correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, 1) == labels, tf.int32)))
        n = int(y.shape[0])
        return LossAcc(loss=loss_sum / n, acc=correct / n)

    def _flat_kernels(self) -> NDArray[np.float32]:
        return np.concatenate([np.asarray(k.numpy()).ravel() for k in self.kernels])

    def penalty(self) -> float:
        """The L1 + L2 kernel penalty at the current weights."""
        flat = self._flat_kernels().astype(np.float64)
        return float(self.l1 * np.abs(flat).sum() + self.l2 * np.square(flat).sum())

    def kernel_stats(self) -> KernelStats:
        """L1 norm, L2 norm and share of near-zero entries over all kernels."""
        return kernel_stats_of(self._flat_kernels())

    def _variables(self) -> dict[str, tf.Variable]:
        """Every variable, named by position: layer names vary with what a process built before.

        Model variables include BN statistics and each Dropout's seed generator state; the
        input noise's generator state is `rng/input_noise` (only when the plan adds noise).
        """
        named = {f"model/{i}": v for i, v in enumerate(self.model.variables)}
        named.update({f"optim/{i}": v for i, v in enumerate(self.optimizer.variables)})
        if self._noise is not None:
            named["rng/input_noise"] = self._noise.state
        return named

    def state(self) -> dict[str, NDArray[Any]]:
        """Weights, BN statistics, dropout, noise and mixup RNG states, optimizer slots."""
        arrays = {name: np.asarray(v.numpy()) for name, v in self._variables().items()}
        if self._mixup is not None:
            arrays[STATE_KEY] = self._mixup.state()
        return arrays

    def load_state(self, tensors: Mapping[str, NDArray[Any]]) -> None:
        """Continue from `state()`; ValueError if it was taken from another model."""
        tensors = dict(tensors)
        mixup = tensors.pop(STATE_KEY) if self._mixup is not None else None
        variables = self._variables()
        expect_same_shapes(tensors, {name: tuple(v.shape) for name, v in variables.items()})
        if self._mixup is not None and mixup is not None:
            self._mixup.load_state(mixup)
        for name, variable in variables.items():
            variable.assign(tensors[name])

    def environment(self) -> dict[str, str]:
        """TensorFlow's and Keras's versions and the name of its device (a GPU's model)."""
        versions = {"framework_version": tf.__version__, "keras_version": keras.__version__}
        return {"framework": "tensorflow", **versions, "device": device_name(self._scope)}


def create_trainer(
    plan: Plan, data: DatasetArrays, weights: list[LayerWeights], device: str, threads: int
) -> KerasTrainer:
    """Build the Keras trainer for this plan and data."""
    return KerasTrainer(plan, data, weights, device, threads)
