"""The plan's training rules: what a backend applies around the layers, step by step."""

from dataclasses import dataclass


@dataclass(frozen=True)
class KernelPenalty:
    """`loss += l1 * sum|w| + l2 * sum(w^2)` over kernels only: no biases, no BN gamma/beta."""

    l1: float = 0.0
    l2: float = 0.0


@dataclass(frozen=True)
class DecoupledDecay:
    """Each step, before the optimizer's update: `w <- w - lr * rate * w`.

    Kernels only (biases and BN gamma/beta are excluded), whatever the optimizer: never
    folded into the gradient, so momentum and Adam's scaling do not touch it.
    """

    rate: float = 0.0


@dataclass(frozen=True)
class MaxNorm:
    """After each optimizer step, each unit's incoming kernel vector is scaled to norm <= limit.

    A unit is a Dense output (its weights over the inputs) or a Conv output channel (over
    in_channels x window); a vector of norm n > limit becomes `w * limit / n`, others stay
    as they are. Every kernel, the output layer's included; never biases or BN gamma/beta.
    None: no constraint.
    """

    limit: float | None = None


@dataclass(frozen=True)
class InputNoise:
    """Training steps add N(0, std^2) noise to every input value; evaluation sees clean inputs.

    Drawn from the framework's generator seeded with the plan's seed (that of dropout), whose
    state checkpoints keep. 0: off.
    """

    std: float = 0.0


@dataclass(frozen=True)
class CrossEntropy:
    """Softmax cross-entropy of the logits against `(1 - eps) * onehot + eps / K` targets."""

    label_smoothing: float = 0.0


@dataclass(frozen=True)
class Mixup:
    """Each training batch becomes `lam * x + (1 - lam) * x[perm]`, its targets likewise.

    The targets are the loss's (smoothed) one-hot ones, so the loss is `lam * CE(y) +
    (1 - lam) * CE(y[perm])`. lam ~ Beta(alpha, alpha) once per batch and perm (a permutation
    of the batch) come from a numpy generator seeded with `[seed, 2]`, the same on every
    backend, whose state checkpoints keep. Training accuracy counts the dominant label
    (y if lam >= 0.5, else y[perm]); evaluation never mixes. 0: off.
    """

    alpha: float = 0.0
