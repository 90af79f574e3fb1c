"""The plan's optimizer in Keras 3: SGD, or Adam with the spec's epsilon; decay on kernels only."""

import keras
import tensorflow as tf

from models.spec.plan import Plan


class SpecAdam(keras.optimizers.Adam):  # type: ignore[misc]
    """Adam with epsilon added to sqrt(v_hat), as the spec (and torch) define it.

    Keras adds epsilon to sqrt(v) instead, i.e. its epsilon is the spec's divided by
    sqrt(1 - beta2^t); that shows in the first epochs wherever gradients are small.
    """

    def update_step(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: float) -> None:
        """One Adam step for one variable (Keras's update, epsilon moved)."""
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, variable.dtype), step)
        beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        correction = ops.sqrt(1 - beta_2_power)
        alpha = lr * correction / (1 - beta_1_power)
        denominator = ops.add(ops.sqrt(v), self.epsilon * correction)
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), denominator))


def build_optimizer(plan: Plan, decayed_excluded: list[tf.Variable]) -> keras.Optimizer:
    """The plan's optimizer; decoupled decay skips `decayed_excluded` (biases, BN gamma/beta)."""
    opt, decay = plan.optimizer, plan.decay.rate or None
    optimizer: keras.Optimizer
    if opt.name == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov, weight_decay=decay
        )
    else:
        optimizer = SpecAdam(
            learning_rate=opt.lr,
            beta_1=opt.beta1,
            beta_2=opt.beta2,
            epsilon=opt.eps,
            weight_decay=decay,
        )
    # Keras 3 decay is decoupled (w -= lr * decay * w) but covers every variable by default.
    optimizer.exclude_from_weight_decay(var_list=decayed_excluded)
    return optimizer
