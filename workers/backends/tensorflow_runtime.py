"""TensorFlow's process-wide setup: the device a trainer runs on, its threads, the device's name."""

import tensorflow as tf

from workers.backends.base import DeviceUnavailableError

GPU_SCOPE = "/GPU:0"


def device_scope(requested: str) -> str:
    """The `tf.device` scope for the spec's `device` (auto: the GPU if there is one)."""
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if requested == "cuda" and not has_gpu:
        raise DeviceUnavailableError("device 'cuda' requested but this worker has no GPU")
    return GPU_SCOPE if has_gpu and requested != "cpu" else "/CPU:0"


def configure_threads(threads: int) -> None:
    """Give TF `threads` intra-op threads, if it has not started running yet."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TF is already running in this process; it keeps its first budget


def device_name(scope: str) -> str:
    """The model of the GPU behind `scope` ("NVIDIA H200"), or "cpu"."""
    if scope != GPU_SCOPE:
        return "cpu"
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return str(details.get("device_name", "GPU"))  # absent on some builds: the kind still shows
