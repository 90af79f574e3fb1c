"""image_zip uploads: class folders of PNG/JPEG images, and the archives that must be refused."""

import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.ingest import IngestLimits, read_dataset
from tests.models.ingest.files import image_bytes, png_declaring, refused, write_zip

RNG = np.random.default_rng(2)
GREY = [RNG.integers(0, 256, size=(5, 6)) for _ in range(5)]


def test_grayscale_folders_round_trip_as_height_by_width(tmp_path: Path) -> None:
    members = {"b/1.png": GREY[0], "a/2.png": GREY[1], "b/0.PNG": GREY[2], "c/x.png": GREY[3]}
    path = write_zip(tmp_path / "d.zip", {n: image_bytes(p) for n, p in members.items()})
    data = read_dataset(path, "image_zip", limits=IngestLimits())
    assert data.class_names == ["a", "b", "c"] and data.class_counts == [1, 2, 1]
    assert data.input_shape == (5, 6)  # like the built-in digits: a CNN adds the channel axis
    np.testing.assert_array_equal(data.x, np.stack([GREY[1], GREY[2], GREY[0], GREY[3]]))
    assert data.y.tolist() == [0, 1, 1, 2] and data.x.dtype == np.float32


def test_rgb_images_are_channels_first(tmp_path: Path) -> None:
    rgb = [RNG.integers(0, 256, size=(4, 3, 3)) for _ in range(2)]
    members = {"cat/a.png": image_bytes(rgb[0]), "dog/b.png": image_bytes(rgb[1]),
               ".DS_Store": b"finder", "__MACOSX/cat/._a.png": b"fork", "cat/": b""}  # fmt: skip
    data = read_dataset(write_zip(tmp_path / "d.zip", members), "image_zip", limits=IngestLimits())
    assert data.input_shape == (3, 4, 3)
    np.testing.assert_array_equal(data.x[1], rgb[1].transpose(2, 0, 1))


def test_jpeg_images_are_read(tmp_path: Path) -> None:
    members = {f"{c}/{i}.jpg": image_bytes(GREY[i], "JPEG") for i, c in enumerate("aab")}
    data = read_dataset(write_zip(tmp_path / "d.zip", members), "image_zip", limits=IngestLimits())
    assert data.shape.n_samples == 3 and data.input_shape == (5, 6)


PNG = image_bytes(GREY[0])
A = {"a/1.png": PNG}
BROKEN = [
    ({**A, "../b/2.png": PNG}, "member '../b/2.png' has a path outside the archive ('..')"),
    ({**A, "/etc/b.png": PNG}, "member '/etc/b.png' has an absolute or Windows path"),
    ({**A, "C:/b/2.png": PNG}, "member 'C:/b/2.png' has an absolute or Windows path"),
    ({"data/a/1.png": PNG, "data/b/2.png": PNG}, "'data/a/1.png' is not a class folder's image"),
    ({**A, "2.png": PNG}, "member '2.png' is not a class folder's image"),
    ({**A, "b/notes.txt": b"hi"}, "member 'b/notes.txt' is not a .png, .jpg or .jpeg image"),
    ({**A, "b/2.png": b"not an image"}, "image 'b/2.png' could not be read"),
    ({**A, "b/2.png": PNG[:60]}, "image 'b/2.png' could not be read"),
    ({**A, "b/2.png": image_bytes(GREY[1][:, :5])}, "'b/2.png' is 5x5 L but 'a/1.png' is 6x5 L"),
    ({**A, "b/2.png": image_bytes(GREY[1], mode="P")}, "image 'b/2.png' has mode P"),
    ({**A, "a/2.png": PNG}, "only one class ('a')"),
    ({"__MACOSX/a/1.png": PNG}, "no images"),
]  # fmt: skip


@pytest.mark.parametrize(("members", "words"), BROKEN)
def test_broken_archives_are_refused(tmp_path: Path, members: dict[str, bytes], words: str) -> None:
    error = refused(write_zip(tmp_path / "bad.zip", members), "image_zip")
    assert error.loc == ("body",)
    assert words in error.message


def test_zip_bomb_is_refused_from_the_directory(tmp_path: Path) -> None:
    members = {"a/1.png": PNG, "b/bomb.png": bytes(50 * 1024 * 1024)}  # 50 MB of zeros
    path = write_zip(tmp_path / "bomb.zip", members)
    assert path.stat().st_size < 100_000
    error = refused(path, "image_zip")
    assert error.message.startswith("compression ratio of 'b/bomb.png': ")
    assert error.message.endswith(
        "exceeds the bound of 200.0 (REGLAB_INGEST_MAX_COMPRESSION_RATIO)"
    )


def test_uncompressed_total_is_bounded(tmp_path: Path) -> None:
    members = {"a/1.png": PNG, "b/2.png": PNG}
    path = write_zip(tmp_path / "d.zip", members, zipfile.ZIP_STORED)
    error = refused(path, "image_zip", IngestLimits(max_uncompressed_bytes=len(PNG)))
    assert error.message == (
        f"uncompressed bytes of the archive's members: {2 * len(PNG):,} exceeds the bound of "
        f"{len(PNG):,} (REGLAB_INGEST_MAX_UNCOMPRESSED_BYTES)"
    )


def test_member_count_is_bounded_before_the_directory_is_parsed(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "d.zip", {f"a/{i}.png": PNG for i in range(5)})
    error = refused(path, "image_zip", IngestLimits(max_members=4))
    assert error.message == "archive members: 5 exceeds the bound of 4 (REGLAB_INGEST_MAX_MEMBERS)"


def test_decompression_bombs_are_refused_from_their_headers(tmp_path: Path) -> None:
    members = {"a/1.png": png_declaring(1_000, 1_000), "b/2.png": PNG}
    error = refused(write_zip(tmp_path / "d.zip", members), "image_zip")
    assert error.message == (
        "values per image: 1,000,000 exceeds the bound of 250,000 (REGLAB_INGEST_MAX_FEATURES)"
    )
    members = {"a/1.png": PNG, "b/2.png": png_declaring(20_000, 20_000)}  # Pillow's own guard
    error = refused(write_zip(tmp_path / "d.zip", members), "image_zip")
    assert error.message.startswith("image 'b/2.png' could not be read: Image size (400000000")
    assert "decompression bomb" in error.message


def test_total_values_are_bounded_before_decoding(tmp_path: Path) -> None:
    members = {f"{c}/{i}.png": PNG for i, c in enumerate("ab")}
    error = refused(
        write_zip(tmp_path / "d.zip", members), "image_zip", IngestLimits(max_values=59)
    )
    assert error.message == "input values: 60 exceeds the bound of 59 (REGLAB_INGEST_MAX_VALUES)"
