"""What a checkpoint costs: state capture, store and read-back, against an epoch's time.

For models from small to the spec's parameter bound, with Adam (two slots per parameter),
prints the size of the tensors, milliseconds to take one checkpoint (trainer.state +
CheckpointStore.save: a safetensors file written from the arrays, published as one object)
and to load one (latest + load_state), on the blob store in a local folder and on S3 (moto's
standalone server, in memory on this machine: it measures the client path, not a network),
one epoch's training time on the same trainer, and the share of training time a checkpoint
every 10 s (REGLAB_CHECKPOINT_MIN_SECONDS's default) would take on each.

    python bench/checkpoint_cost.py [--backend torch] [--repeats 5]
"""

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.blobs import BlobStore  # noqa: E402
from models.spec import ExperimentSpec  # noqa: E402
from models.spec.catalog import BuiltinCatalog  # noqa: E402
from models.spec.resolve import resolve  # noqa: E402
from tests.models.blobs.s3server import BUCKET, moto_server  # noqa: E402
from workers.backends import get_backend  # noqa: E402
from workers.backends.base import Trainer  # noqa: E402
from workers.checkpoints import Checkpoint, CheckpointStore  # noqa: E402
from workers.datasets import load_dataset  # noqa: E402
from workers.init_weights import initial_weights  # noqa: E402
from workers.runner import LoopState  # noqa: E402

WIDTHS = {"small": [64], "medium": [512, 512], "large": [2048, 2048]}
EVERY_SECONDS = 10.0


def costs(trainer: Trainer, state: LoopState, blobs: BlobStore, repeats: int) -> list[float]:
    """Median seconds to take a checkpoint and to load one, in `blobs`."""
    checkpoints = CheckpointStore(blobs, f"checkpoints/bench-{uuid.uuid4().hex}", "bench")
    saves, loads = [], []
    for epoch in range(1, repeats + 1):
        start = time.perf_counter()
        checkpoints.save(Checkpoint(epoch, trainer.state(), state.to_json()))
        saves.append(time.perf_counter() - start)
        start = time.perf_counter()
        saved = checkpoints.latest()
        assert saved is not None and saved.epoch == epoch
        trainer.load_state(saved.tensors)
        loads.append(time.perf_counter() - start)
    checkpoints.remove()
    return [statistics.median(saves), statistics.median(loads)]


def measure(
    backend: str, hidden: list[int], repeats: int, stores: dict[str, BlobStore]
) -> dict[str, float]:
    spec = ExperimentSpec.model_validate(
        {
            "backend": backend,
            "dataset": {"name": "classification", "n_samples": 20000},
            "model": {"hidden": hidden},
            "optimizer": {"name": "adam", "lr": 1e-3},
            "regularization": {"batchnorm": True, "dropout": 0.2},
        }
    )
    plan, data = resolve(spec, BuiltinCatalog()).plan, load_dataset(spec.dataset)
    trainer = get_backend(backend).create_trainer(
        plan, data, initial_weights(plan, spec.seed), spec.device, 2
    )
    state = LoopState.fresh(spec, len(data.train))
    epoch_start = time.perf_counter()
    trainer.train_epoch(state.next_order())
    epoch_seconds = time.perf_counter() - epoch_start
    result = {
        "params": plan.n_params,
        "mb": sum(array.nbytes for array in trainer.state().values()) / 2**20,
        "epoch_ms": epoch_seconds * 1000,
    }
    for name, blobs in stores.items():
        save_s, load_s = costs(trainer, state, blobs, repeats)
        result[f"{name}_save_ms"] = save_s * 1000
        result[f"{name}_load_ms"] = load_s * 1000
        result[f"{name}_share"] = save_s / (EVERY_SECONDS + save_s)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, ExitStack() as running:
        server = running.enter_context(moto_server(Path(work) / "moto.log"))
        stores = {
            "local": BlobStore(str(Path(work) / "blobs")),
            "s3": BlobStore(f"s3://{BUCKET}/bench", spool_dir=Path(work), **server.options),
        }
        print(f"{'model':8} {'params':>10} {'MB':>6} {'epoch ms':>9}", end="")
        print("".join(f" {n + ' save':>10} {n + ' load':>10} {n + ' @10s':>10}" for n in stores))
        for name, hidden in WIDTHS.items():
            m = measure(args.backend, hidden, args.repeats, stores)
            print(f"{name:8} {m['params']:>10,} {m['mb']:>6.1f} {m['epoch_ms']:>9.1f}", end="")
            for n in stores:
                print(f" {m[n + '_save_ms']:>10.1f} {m[n + '_load_ms']:>10.1f}", end="")
                print(f" {m[n + '_share']:>10.2%}", end="")
            print()


if __name__ == "__main__":
    main()
