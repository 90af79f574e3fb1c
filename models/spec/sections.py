"""The network, regularization, optimizer and training sections of a spec."""

from typing import Annotated, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from models.spec.base import StrictModel

Probability = Annotated[float, Field(ge=0.0, lt=1.0)]


class ModelSpec(StrictModel):
    """The network: an MLP, or convolutions followed by an MLP head."""

    kind: Literal["mlp", "cnn"] = Field(
        examples=["mlp"],
        default="mlp",
        description="`mlp`: dense layers on the flattened input. `cnn`: same-padded "
        "convolutions, then the dense layers; the example's shape decides them: (L,) is a "
        "one-channel sequence (1-D), (H, W) a grayscale image and (C, H, W) an image of C <= 4 "
        "channels, channels first (2-D).",
    )
    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        examples=[[128, 64]],
        default=[128, 64],
        max_length=8,
        description="Widths of the hidden dense layers (after the convolutions for `cnn`).",
    )
    channels: list[Annotated[int, Field(ge=1, le=512)]] = Field(
        examples=[[16, 32]],
        default=[],
        max_length=6,
        description="`cnn` only: output channels of each convolution layer.",
    )
    kernel_size: int = Field(
        examples=[3],
        default=3,
        ge=1,
        le=7,
        description="`cnn` only: convolution window (odd, same padding).",
    )
    pool: Literal["max", "avg"] | None = Field(
        examples=["max"],
        default=None,
        description="`cnn` only: 2x2 (2 for 1-D) max or average pooling with stride 2 at the "
        "end of each convolution block, after its activation and before its dropout; odd sizes "
        "round down (7x7 -> 3x3). Null: no pooling, every convolution keeps the input's size.",
    )
    activation: Literal["relu", "tanh", "sigmoid", "gelu", "elu"] = Field(
        examples=["relu"],
        default="relu",
        description="Activation after each hidden layer (GELU is the exact erf).",
    )

    @field_validator("pool")
    @classmethod
    def _check_pool(cls, pool: str | None, info: ValidationInfo) -> str | None:
        # A field validator (kind is validated first) so the error's loc is model.pool itself.
        if pool is not None and info.data.get("kind") != "cnn":
            raise ValueError("model.pool: only a cnn pools (set model.kind to cnn, or pool null)")
        return pool

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        if self.kind == "cnn" and not self.channels:
            raise ValueError("model.channels: a cnn needs at least one convolution layer")
        if self.kind == "mlp" and self.channels:
            raise ValueError("model.channels: only a cnn has convolution layers")
        if self.kernel_size % 2 == 0:
            raise ValueError("model.kernel_size must be odd (same padding is symmetric)")
        return self

    @property
    def n_hidden_layers(self) -> int:
        """Layers that get an activation, batch norm and dropout: convolutions, then dense."""
        return len(self.channels) + len(self.hidden)


class RegularizationSpec(StrictModel):
    """The regularization recipe; every field means the same on every backend."""

    dropout: Probability | list[Probability] = Field(
        examples=[0.2],
        default=0.0,
        description="Inverted dropout after each hidden activation: units drop with "
        "probability p and kept units are scaled by 1/(1-p) in training; identity in "
        "evaluation. One p for all hidden layers, or one per hidden layer.",
    )
    dropout_kind: Literal["standard", "spatial"] = Field(
        examples=["spatial"],
        default="standard",
        description="`standard`: dropout drops single units. `spatial`: after a convolution "
        "block it drops whole channels (feature maps) with probability p, kept ones scaled by "
        "1/(1-p), identity in evaluation; units next to each other in a map are correlated, "
        "so dropping them one by one barely regularizes. Dense layers have no channels: their "
        "dropout stays standard, so on an `mlp` `spatial` means the same as `standard`.",
    )
    batchnorm: bool = Field(
        examples=[True],
        default=False,
        description="Batch normalization after each hidden layer's Dense/Conv.",
    )
    bn_momentum: float = Field(
        examples=[0.1],
        default=0.1,
        gt=0.0,
        le=1.0,
        description="Weight of the NEW batch statistic in the running averages (torch's "
        "convention; Keras receives 1 - m). 0.1 is torch's default.",
    )
    bn_eps: float = Field(
        examples=[1e-5],
        default=1e-5,
        gt=0.0,
        le=0.1,
        description="Added to the variance in batch norm. Set explicitly on every backend "
        "because their defaults differ (torch 1e-5, Keras 1e-3).",
    )
    l1: float = Field(
        examples=[1e-5],
        default=0.0,
        ge=0.0,
        le=1.0,
        description="`loss += l1 * sum(|w|)` over kernels only.",
    )
    l2: float = Field(
        examples=[1e-4],
        default=0.0,
        ge=0.0,
        le=1.0,
        description="`loss += l2 * sum(w**2)` over kernels only (no 1/2 factor; biases and "
        "batch-norm parameters are not penalized).",
    )
    weight_decay: float = Field(
        examples=[1e-2],
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Decoupled decay each step, `w <- w - lr * weight_decay * w`, kernels "
        "only, for every optimizer (AdamW-style; not torch SGD's coupled weight_decay).",
    )
    max_norm: float | None = Field(
        examples=[3.0],
        default=None,
        gt=0.0,
        le=1000.0,
        description="Max-norm constraint c: after each optimizer step, every unit's incoming "
        "kernel vector (a Dense unit's weights over its inputs; a Conv output channel's over "
        "in_channels x window) with L2 norm above c is rescaled to norm c; shorter ones are "
        "left as they are. All kernels, the output layer's included; biases and batch-norm "
        "parameters never. Null: no constraint. 3 to 4 is the usual range with dropout.",
    )
    input_noise: float = Field(
        examples=[0.1],
        default=0.0,
        ge=0.0,
        le=10.0,
        description="Standard deviation sigma of Gaussian noise added to every input value in "
        "training (fresh each step, from the run's seeded generator); identity in evaluation. "
        "Inputs are standardized, so sigma is in units of a feature's standard deviation; "
        "0 is off.",
    )
    mixup: float = Field(
        examples=[0.2],
        default=0.0,
        ge=0.0,
        le=10.0,
        description="Mixup alpha: each training batch becomes `lam * x + (1 - lam) * x[perm]` "
        "with targets mixed the same way (label smoothing applied first), lam ~ Beta(alpha, "
        "alpha) and the permutation drawn per batch from the run's seeded generator. "
        "train_acc counts a prediction right when it is the dominant label (that of x if "
        "lam >= 0.5, else of x[perm]); evaluation never mixes. 0 is off; 0.1 to 0.4 is usual.",
    )
    label_smoothing: float = Field(
        examples=[0.1],
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Cross-entropy against softened targets `(1 - eps) * onehot + eps / K` "
        "(K classes) instead of one-hot ones; 0 is plain cross-entropy. Every reported loss "
        "(train, val, test) uses the same targets.",
    )

    def dropout_rates(self, n_hidden_layers: int) -> list[float]:
        """The dropout probability of each of `n_hidden_layers` hidden layers."""
        p = self.dropout
        return list(p) if isinstance(p, list) else [p] * n_hidden_layers


class OptimizerSpec(StrictModel):
    """The optimizer and its constant learning rate."""

    name: Literal["sgd", "adam"] = Field(
        examples=["adam"], default="adam", description="`sgd` or `adam`."
    )
    lr: float = Field(
        examples=[0.001], default=1e-3, gt=0.0, le=10.0, description="Learning rate (constant)."
    )
    momentum: float = Field(
        examples=[0.9], default=0.0, ge=0.0, lt=1.0, description="`sgd` only: classical momentum."
    )
    nesterov: bool = Field(
        examples=[False], default=False, description="`sgd` only: Nesterov momentum."
    )
    beta1: float = Field(
        examples=[0.9], default=0.9, ge=0.0, lt=1.0, description="`adam` only: beta1."
    )
    beta2: float = Field(
        examples=[0.999], default=0.999, ge=0.0, lt=1.0, description="`adam` only: beta2."
    )
    eps: float = Field(
        examples=[1e-8],
        default=1e-8,
        gt=0.0,
        le=1.0,
        description="`adam` only: added to sqrt(v_hat).",
    )

    @model_validator(mode="after")
    def _check_momentum(self) -> Self:
        if self.name == "adam" and (self.momentum or self.nesterov):
            raise ValueError("optimizer.momentum/nesterov apply to sgd only (adam uses beta1)")
        if self.nesterov and self.momentum == 0:
            raise ValueError("optimizer.nesterov needs optimizer.momentum > 0")
        return self


class EarlyStoppingSpec(StrictModel):
    """Stop when the monitored validation metric stops improving."""

    metric: Literal["val_loss", "val_acc"] = Field(
        examples=["val_loss"],
        default="val_loss",
        description="Monitored metric; loss is minimized, accuracy maximized.",
    )
    patience: int = Field(
        examples=[5],
        default=5,
        ge=1,
        le=1000,
        description="Epochs without improvement before stopping.",
    )
    min_delta: float = Field(
        examples=[0.001],
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Smallest change that counts as improvement.",
    )
    restore_best: bool = Field(
        examples=[True],
        default=False,
        description="Restore the weights of the epoch with the best monitored metric when "
        "training ends (early or not), so that the summary (test figures, weight norms) "
        "describes them; the run then stores them as `best.safetensors` beside the final "
        "weights. Off by default: the summary describes the last epoch's weights.",
    )


class TrainingSpec(StrictModel):
    """How long and in what batches to train."""

    epochs: int = Field(
        examples=[15], default=20, ge=1, le=1000, description="Maximum number of epochs."
    )
    batch_size: int = Field(
        examples=[64], default=64, ge=1, le=4096, description="Examples per step."
    )
    early_stopping: EarlyStoppingSpec | None = Field(
        examples=[{"metric": "val_loss", "patience": 5, "min_delta": 0}],
        default=None,
        description="Early stopping rule, or null to train every epoch.",
    )
    time_limit_seconds: float | None = Field(
        examples=[3600],
        default=None,
        gt=0,
        le=7 * 86400,
        description="Wall-clock limit of the run; past it the run fails with error `timeout` "
        "(its curves kept). Null: the worker's limit (REGLAB_RUN_TIME_LIMIT_SECONDS) applies, "
        "which also caps this.",
    )
