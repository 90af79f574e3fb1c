"""The plan's layer ops as Keras 3 layers: one layer per op, channels-last, in plan order.

One Keras layer per op is what `tensorflow_weights` relies on to name the weights.
"""

import keras

from models.spec.plan import (
    Activation,
    BatchNorm,
    ChannelsFirst,
    Conv,
    Dense,
    Dropout,
    Flatten,
    Op,
    Plan,
    Pool,
)

ACTIVATIONS = {
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "sigmoid": keras.activations.sigmoid,
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),  # torch's exact GELU
    "elu": keras.activations.elu,
}
# By spatial dims, channels-last; stride defaults to the window and "valid" rounds odd sizes down.
POOLS: dict[tuple[str, int], type[keras.layers.Layer]] = {
    ("max", 1): keras.layers.MaxPooling1D,
    ("max", 2): keras.layers.MaxPooling2D,
    ("avg", 1): keras.layers.AveragePooling1D,
    ("avg", 2): keras.layers.AveragePooling2D,
}


def _channels_last(op: ChannelsFirst) -> keras.layers.Layer:
    """Keras convolves channels-last: (N, *spatial) or (N, C, *spatial) to (N, *spatial, C)."""
    if op.channels == 1:
        # One channel lies the same in memory first or last: a reshape, with or without the axis.
        return keras.layers.Reshape((*op.spatial, 1))
    return keras.layers.Permute((*range(2, len(op.spatial) + 2), 1))


def _layer(op: Op, plan: Plan, spatial_dims: int) -> keras.layers.Layer:
    """The Keras layer for one plan op; activations are channels-last here."""
    l1, l2 = plan.penalty.l1, plan.penalty.l2
    penalty = keras.regularizers.L1L2(l1=l1, l2=l2) if l1 or l2 else None
    if isinstance(op, ChannelsFirst):
        return _channels_last(op)
    if isinstance(op, Conv):
        conv = keras.layers.Conv1D if op.dims == 1 else keras.layers.Conv2D
        return conv(
            op.out_channels,
            op.kernel_size,
            padding="same",
            use_bias=op.bias,
            kernel_regularizer=penalty,
        )
    if isinstance(op, Pool):
        return POOLS[op.kind, op.dims](op.size)
    if isinstance(op, Flatten):
        if spatial_dims == 0:
            return keras.layers.Flatten()
        # The plan flattens channels-first: move the channel axis to the front first.
        order = (spatial_dims + 1, *range(1, spatial_dims + 1))
        return keras.Sequential([keras.layers.Permute(order), keras.layers.Flatten()])
    if isinstance(op, Dense):
        return keras.layers.Dense(op.out_features, use_bias=op.bias, kernel_regularizer=penalty)
    if isinstance(op, BatchNorm):
        # Keras weighs the OLD statistic by `momentum`: the spec's m becomes 1 - m.
        return keras.layers.BatchNormalization(momentum=1.0 - op.momentum, epsilon=op.eps)
    if isinstance(op, Activation):
        return keras.layers.Activation(ACTIVATIONS[op.name])
    return _dropout(op)


def _dropout(op: Dropout) -> keras.layers.Layer:
    """Standard dropout, or spatial dropout on the channels-last maps of a conv block."""
    if not op.spatial:
        return keras.layers.Dropout(op.p)
    # Activations are (N, *spatial, C) here: one mask entry per (example, channel), the
    # entries torch's Dropout1d/2d draw on (N, C, *spatial). Explicit, whatever Keras's
    # configured image_data_format.
    if op.spatial == 1:
        return keras.layers.SpatialDropout1D(op.p)
    return keras.layers.SpatialDropout2D(op.p, data_format="channels_last")


def build_model(plan: Plan) -> tuple[keras.Model, list[keras.layers.Layer]]:
    """The plan as a functional model, and its Dense/Conv layers in plan order."""
    inputs = keras.Input(shape=plan.input_shape)
    x = inputs
    spatial_dims = 0
    weighted = []
    for op in plan.ops:
        if isinstance(op, ChannelsFirst):
            spatial_dims = len(op.spatial)
        layer = _layer(op, plan, spatial_dims)
        if isinstance(op, Flatten):
            spatial_dims = 0
        if isinstance(op, Dense | Conv):
            weighted.append(layer)
        x = layer(x)
    return keras.Model(inputs, x), weighted
