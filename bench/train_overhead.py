"""Samples/s of reglab's training path against hand-written torch and Keras code, same process.

The service path is `workers.execution.execute_run` under a default worker's policy
(`RunPolicy.of(Settings())`: commit interval, heartbeats, checkpoints), exactly what a worker
runs for a run id: claim, runner (plan, backend, batch order, per-epoch eval and penalty,
summary), every
epoch's metrics committed to a real store, terminal write. The baselines are what a user
would write by hand for the same network, data and optimizer, recording what the service
records, so the ratio measures the service's overhead alone: for torch a loop over in-memory
tensors that keeps each epoch's train loss and accuracy, penalty, val loss and accuracy, then
evaluates the test and the whole training set and the kernels' norms and sparsity; for
TensorFlow a Keras `model.fit` with accuracy and validation data, then the same evaluations.
Dataset generation is outside both timings (a worker caches it).

Runs come in pairs (baseline and service back to back, alternating which goes first).
The headline ratio is median service samples/s over median baseline samples/s; the
spread of the per-pair ratios is printed beside it as a measure of this machine's noise
(on a shared 2-vCPU VM throughput swings by 10-30 % over seconds).

    python bench/train_overhead.py [--repeats 11] [--threads N] [--backends torch,tensorflow]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402, N812
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from torch import nn  # noqa: E402

from models import store  # noqa: E402
from models.spec import ExperimentSpec  # noqa: E402
from models.store.db import make_engine, make_sessionmaker  # noqa: E402
from models.store.tables import DEFAULT_PROJECT_ID  # noqa: E402
from workers.datasets import load_dataset  # noqa: E402
from workers.execution import RunPolicy, execute_run  # noqa: E402
from workers.settings import Settings  # noqa: E402

WORKLOADS: dict[str, dict[str, Any]] = {
    "digits mlp (brief example)": {
        "dataset": {"name": "digits"},
        "model": {"hidden": [128, 64]},
        "regularization": {"dropout": 0.2, "batchnorm": True, "l2": 1e-4},
        "training": {"epochs": 15, "batch_size": 64},
    },
    "digits mlp, 60 epochs": {
        "dataset": {"name": "digits"},
        "model": {"hidden": [128, 64]},
        "regularization": {"dropout": 0.2, "batchnorm": True, "l2": 1e-4},
        "training": {"epochs": 60, "batch_size": 64},
    },
    "classification 20k mlp": {
        "dataset": {"name": "classification", "n_samples": 20000},
        "model": {"hidden": [256, 128]},
        "regularization": {"dropout": 0.2, "batchnorm": True, "l2": 1e-4},
        "training": {"epochs": 5, "batch_size": 64},
    },
}


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bare_loop(spec: ExperimentSpec) -> float:
    """The hand-written baseline: a torch loop that records what the service records.

    Per epoch: train loss and accuracy (over the epoch's batches), the penalty, val loss and
    accuracy; at the end: test and train-set evaluation and the kernels' norms and sparsity.
    """
    data = load_dataset(spec.dataset)
    p, l2 = spec.regularization.dropout, spec.regularization.l2
    assert isinstance(p, float)

    def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            logits = model(x)
            return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

    def run() -> dict[str, Any]:
        torch.manual_seed(spec.seed)
        splits = {
            name: (torch.from_numpy(s.x), torch.from_numpy(s.y))
            for name, s in (("train", data.train), ("val", data.val), ("test", data.test))
        }
        x, y = splits["train"]
        layers: list[nn.Module] = [nn.Flatten()]
        width = x[0].numel()
        for hidden in spec.model.hidden:
            # No bias before batch norm, as in reglab's plan (BN's beta replaces it).
            linear = nn.Linear(width, hidden, bias=False)
            layers += [linear, nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(p)]
            width = hidden
        model = nn.Sequential(*layers, nn.Linear(width, data.n_classes))
        kernels = [m.weight for m in model if isinstance(m, nn.Linear)]
        opt = torch.optim.Adam(model.parameters(), lr=spec.optimizer.lr)
        bs, n = spec.training.batch_size, len(y)
        history: list[dict[str, float]] = []
        for _ in range(spec.training.epochs):
            model.train()
            perm = torch.randperm(n)
            losses, correct = [], []
            for i in range(0, n, bs):
                idx = perm[i : i + bs]
                out = model(x[idx])
                data_loss = F.cross_entropy(out, y[idx])
                loss = data_loss + l2 * sum(k.square().sum() for k in kernels)
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                losses.append(data_loss.detach() * len(idx))
                correct.append((out.detach().argmax(1) == y[idx]).sum())
            with torch.no_grad():
                penalty = (l2 * sum(k.square().sum() for k in kernels)).item()
            val_loss, val_acc = evaluate(model, *splits["val"])
            history.append(
                {
                    "train_loss": torch.stack(losses).sum().item() / n,
                    "train_acc": torch.stack(correct).sum().item() / n,
                    "penalty": penalty,
                    "val_loss": val_loss,
                    "val_acc": val_acc,
                }
            )
        flat = torch.cat([k.detach().flatten() for k in kernels]).abs()
        return {
            "history": history,
            "test": evaluate(model, *splits["test"]),
            "train_eval": evaluate(model, *splits["train"]),
            "kernels": (
                flat.sum().item(),
                flat.square().sum().sqrt().item(),
                (flat < 1e-3).float().mean().item(),
            ),
        }

    return timed(run)


def bare_keras_fit(spec: ExperimentSpec) -> float:
    """The hand-written Keras baseline: `model.fit` recording what the service records."""
    import keras  # only this baseline needs it; the worker imports it in its backend
    import numpy as np

    data = load_dataset(spec.dataset)
    p, l2 = spec.regularization.dropout, spec.regularization.l2
    assert isinstance(p, float)

    def run() -> dict[str, Any]:
        keras.utils.set_random_seed(spec.seed)
        penalty = keras.regularizers.L2(l2)
        layers: list[Any] = [keras.Input(shape=data.train.x.shape[1:]), keras.layers.Flatten()]
        for hidden in spec.model.hidden:
            layers += [
                keras.layers.Dense(hidden, use_bias=False, kernel_regularizer=penalty),
                keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                keras.layers.Activation("relu"),
                keras.layers.Dropout(p),
            ]
        layers.append(keras.layers.Dense(data.n_classes, kernel_regularizer=penalty))
        model = keras.Sequential(layers)
        model.compile(
            optimizer=keras.optimizers.Adam(spec.optimizer.lr),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        fitted = model.fit(
            data.train.x,
            data.train.y,
            batch_size=spec.training.batch_size,
            epochs=spec.training.epochs,
            validation_data=(data.val.x, data.val.y),
            shuffle=True,
            verbose=0,
        )
        flat = np.abs(
            np.concatenate([k.numpy().ravel() for k in model.trainable_weights if len(k.shape) > 1])
        )
        return {
            "history": fitted.history,
            "test": model.evaluate(data.test.x, data.test.y, batch_size=4096, verbose=0),
            "train_eval": model.evaluate(data.train.x, data.train.y, batch_size=4096, verbose=0),
            "kernels": (flat.sum(), np.sqrt(np.square(flat).sum()), np.mean(flat < 1e-3)),
        }

    return timed(run)


BASELINES = {"torch": ("bare torch", bare_loop), "tensorflow": ("keras fit", bare_keras_fit)}


# A default worker's policy, with its home (checkpoints) in a scratch folder.
POLICY = RunPolicy.of(Settings(home=Path(tempfile.mkdtemp(prefix="reglab-bench-"))))


def service_path(spec: ExperimentSpec, sessions: Any, threads: int) -> float:
    """What a worker does with a run id, timed from claim to terminal write."""
    with sessions.begin() as session:
        experiment = store.create_experiment(
            session=session, project_id=DEFAULT_PROJECT_ID, name="bench", spec=spec.model_dump()
        )
        run_id = experiment.runs[0].id
    outcome: list[str] = []
    timing = timed(
        lambda: outcome.append(
            execute_run(run_id, sessions=sessions, threads=threads, worker="bench", policy=POLICY)
        )
    )
    assert outcome == ["succeeded"], outcome
    return timing


def migrated_store(tmp: str) -> str:
    url = os.environ.get("REGLAB_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite"
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--backends", default="torch,tensorflow")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        url = migrated_store(tmp)
        sessions = make_sessionmaker(make_engine(url))
        print(f"store {url.split('@')[-1]}, {args.threads} threads, torch {torch.__version__}")
        for name, sections in WORKLOADS.items():
            reglab: dict[str, float] = {}
            for backend in args.backends.split(","):
                spec = ExperimentSpec.model_validate({"seed": 0, "backend": backend, **sections})
                reglab[backend] = compare(spec, f"{name} [{backend}]", sessions, args)
            if len(reglab) > 1:
                print(f"{name:38s} reglab samples/s by backend: {reglab}")


def compare(spec: ExperimentSpec, label: str, sessions: Any, args: argparse.Namespace) -> float:
    """Print service vs baseline for one spec; return the service's median samples/s."""
    samples = len(load_dataset(spec.dataset).train) * spec.training.epochs
    baseline_name, baseline = BASELINES[spec.backend]
    baseline(spec), service_path(spec, sessions, args.threads)  # warm-up
    bare, service = [], []
    for i in range(args.repeats):
        # Pairs, alternating who goes first: slow phases of the shared VM hit both.
        if i % 2:
            service.append(service_path(spec, sessions, args.threads))
            bare.append(baseline(spec))
        else:
            bare.append(baseline(spec))
            service.append(service_path(spec, sessions, args.threads))
    paired = sorted(b / s for b, s in zip(bare, service, strict=True))
    q1, q3 = paired[len(paired) // 4], paired[(3 * len(paired)) // 4]
    bare_wall, service_wall = statistics.median(bare), statistics.median(service)
    print(
        f"{label:38s} median samples/s: {baseline_name} {samples / bare_wall:8,.0f}  "
        f"reglab {samples / service_wall:8,.0f}  ratio {bare_wall / service_wall:.3f} "
        f"(target >= 0.98)  |  per-pair ratios: median {statistics.median(paired):.3f}, "
        f"IQR {q1:.3f}-{q3:.3f}"
    )
    return round(samples / service_wall)


if __name__ == "__main__":
    main()
