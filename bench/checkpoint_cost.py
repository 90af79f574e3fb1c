"""What a checkpoint costs: state capture, atomic write and read-back, against an epoch's time.

For models from small to the spec's parameter bound, with Adam (two slots per parameter),
prints the checkpoint size, milliseconds to take one (trainer.state + CheckpointStore.save,
fsyncs included) and to load one (latest + load_state), one epoch's training time on the
same trainer, and the share of training time a checkpoint every 10 s
(REGLAB_CHECKPOINT_MIN_SECONDS's default) would take.

    python bench/checkpoint_cost.py [--backend torch] [--repeats 5]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.spec import ExperimentSpec  # noqa: E402
from models.spec.catalog import BuiltinCatalog  # noqa: E402
from models.spec.resolve import resolve  # noqa: E402
from workers.backends import get_backend  # noqa: E402
from workers.checkpoints import Checkpoint, CheckpointStore  # noqa: E402
from workers.datasets import load_dataset  # noqa: E402
from workers.init_weights import initial_weights  # noqa: E402
from workers.runner import LoopState  # noqa: E402

WIDTHS = {"small": [64], "medium": [512, 512], "large": [2048, 2048]}
EVERY_SECONDS = 10.0


def measure(backend: str, hidden: list[int], repeats: int, folder: Path) -> dict[str, float]:
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
    store = CheckpointStore(folder, "bench")  # identity: any fixed text ties the files together
    saves, loads = [], []
    for epoch in range(1, repeats + 1):
        start = time.perf_counter()
        path = store.save(Checkpoint(epoch, trainer.state(), state.to_json()))
        saves.append(time.perf_counter() - start)
        start = time.perf_counter()
        saved = store.latest()
        assert saved is not None
        trainer.load_state(saved.tensors)
        loads.append(time.perf_counter() - start)
    save_s = statistics.median(saves)
    return {
        "params": plan.n_params,
        "mb": path.stat().st_size / 2**20,
        "save_ms": save_s * 1000,
        "load_ms": statistics.median(loads) * 1000,
        "epoch_ms": epoch_seconds * 1000,
        "share": save_s / (EVERY_SECONDS + save_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{'model':8} {'params':>10} {'MB':>7} {'save ms':>8} {'load ms':>8} "
        f"{'epoch ms':>9} {'share @10 s':>11}"
    )
    for name, hidden in WIDTHS.items():
        with tempfile.TemporaryDirectory() as folder:
            m = measure(args.backend, hidden, args.repeats, Path(folder))
        print(
            f"{name:8} {m['params']:>10,} {m['mb']:>7.1f} {m['save_ms']:>8.1f} "
            f"{m['load_ms']:>8.1f} {m['epoch_ms']:>9.1f} {m['share']:>10.2%}"
        )


if __name__ == "__main__":
    main()
