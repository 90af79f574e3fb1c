"""A user's own files through HTTP: CSV, Parquet and a zip of image folders, trained on."""

import io
import zipfile
from typing import Any

import httpx
import numpy as np
import pandas as pd
from PIL import Image

from tests.integration.stack import submit, wait_terminal

IMAGE_SIDE = 16
SHAPES = ("horizontal", "vertical", "diagonal")


def upload(api: httpx.Client, name: str, fmt: str, data: bytes, **params: str) -> dict[str, Any]:
    """POST a file as a new dataset version; its description."""
    response = api.post(
        "/datasets",
        params={"name": name, "format": fmt, **params},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    described: dict[str, Any] = response.json()
    assert response.headers["Location"] == f"/datasets/{described['id']}"
    return described


def two_moons_table(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    """Two noisy half circles with string labels, as a user's table would hold them."""
    angle = rng.uniform(0, np.pi, n)
    side = rng.integers(0, 2, n)
    x = np.where(side, 1 - np.cos(angle), np.cos(angle)) + rng.normal(0, 0.1, n)
    y = np.where(side, 0.5 - np.sin(angle), np.sin(angle)) + rng.normal(0, 0.1, n)
    return pd.DataFrame({"x": x, "y": y, "kind": np.where(side, "lower", "upper")})


def bar_image(shape: str, rng: np.random.Generator) -> bytes:
    """A noisy RGB picture of a bar: the class is the bar's direction, its colour is random."""
    pixels = rng.uniform(0, 60, (IMAGE_SIDE, IMAGE_SIDE, 3))
    at = int(rng.integers(3, IMAGE_SIDE - 3))
    colour = rng.uniform(150, 255, 3)
    if shape == "horizontal":
        pixels[at - 1 : at + 2, :] = colour
    elif shape == "vertical":
        pixels[:, at - 1 : at + 2] = colour
    else:
        for i in range(IMAGE_SIDE):
            pixels[i, max(0, i - 1) : i + 2] = colour
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def image_folders(rng: np.random.Generator, per_class: int = 80) -> bytes:
    """A zip with one folder of PNG pictures per class."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for shape in SHAPES:
            for i in range(per_class):
                archive.writestr(f"{shape}/{i:03d}.png", bar_image(shape, rng))
    return buffer.getvalue()


def train_on(api: httpx.Client, dataset: str, model: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """Train one run on the uploaded `dataset` and return it, succeeded."""
    body = {
        "name": f"on-{dataset}",
        "spec": {"dataset": {"name": dataset}, "model": model, **spec},
    }
    run = wait_terminal(api, submit(api, body), timeout=240)
    assert run["status"] == "succeeded", run
    return run


def assert_uploads_train(api: httpx.Client) -> dict[str, float]:
    """CSV (string labels, torch), Parquet (tensorflow) and RGB images (a pooled CNN) train.

    Returns each upload's test accuracy.
    """
    rng = np.random.default_rng(7)
    table = two_moons_table(rng)
    csv = upload(api, "moons-csv", "csv", table.to_csv(index=False).encode(), label="kind")
    assert csv["class_names"] == ["lower", "upper"]
    parquet_file = io.BytesIO()
    table.to_parquet(parquet_file)
    upload(api, "moons-parquet", "parquet", parquet_file.getvalue(), label="kind")
    images = upload(api, "bars", "image_zip", image_folders(rng))
    assert images["input_shape"] == [3, IMAGE_SIDE, IMAGE_SIDE]
    mlp = {"kind": "mlp", "hidden": [32, 32]}
    training = {"epochs": 30, "batch_size": 32}
    runs = {
        "csv": train_on(api, "moons-csv", mlp, training=training),
        "parquet": train_on(api, "moons-parquet", mlp, training=training, backend="tensorflow"),
        "image_zip": train_on(
            api,
            "bars",
            {"kind": "cnn", "channels": [8, 16], "pool": "max", "hidden": [32]},
            training={"epochs": 15, "batch_size": 32},
        ),
    }
    accuracy = {kind: run["summary"]["test_acc"] for kind, run in runs.items()}
    assert all(run["dataset_version"] == 1 and run["dataset_sha256"] for run in runs.values())
    assert accuracy["csv"] >= 0.9 and accuracy["parquet"] >= 0.9, accuracy
    assert accuracy["image_zip"] >= 0.9, accuracy
    return accuracy
