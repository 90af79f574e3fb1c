"""Uploads: streamed from the file with its length declared, format from the suffix, resent
whole on a retry."""

from pathlib import Path

import httpx
import pytest
from reglab_client import UnreachableError
from reglab_client.datasets import format_of

from tests.client.mock import mocked

CSV = b"f1,f2,label\n" + b"0.5,1.5,a\n" * 50_000  # several chunks


def test_a_file_is_streamed_with_its_length_and_sent_again_whole_after_a_503(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(CSV)
    answers = iter([httpx.Response(503)])
    client, api = mocked(
        lambda r: next(answers, httpx.Response(201, json={"id": 4, "name": "d", "version": 1}))
    )
    assert client.datasets.upload(path, "d", label="label")["id"] == 4
    assert len(api.requests) == 2
    for request in api.requests:
        assert request.content == CSV
        assert request.headers["content-length"] == str(len(CSV))
        assert request.headers["content-type"] == "application/octet-stream"
        assert dict(request.url.params) == {"name": "d", "format": "csv", "label": "label"}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.npz", "npz"), ("b.CSV", "csv"), ("c.parquet", "parquet"), ("d.zip", "image_zip")],
)
def test_the_format_comes_from_the_suffix(name: str, fmt: str) -> None:
    assert format_of(Path(name)) == fmt


def test_a_suffix_that_names_no_format_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="cannot tell its format"):
        format_of(Path("data.txt"))


def test_the_builtin_catalog_and_a_delete() -> None:
    builtin = [{"name": "moons"}]
    listing = {"builtin": builtin, "items": [], "total": 0, "next_cursor": None}
    client, api = mocked(
        lambda r: httpx.Response(204) if r.method == "DELETE" else httpx.Response(200, json=listing)
    )
    assert [d["name"] for d in client.datasets.builtin()] == ["moons"]
    client.datasets.delete(9)
    assert [(r.method, r.url.path) for r in api.requests] == [
        ("GET", "/datasets"),
        ("DELETE", "/datasets/9"),
    ]


def test_an_upload_is_not_sent_again_once_its_answer_timed_out(tmp_path: Path) -> None:
    # The API may still be checking the file: a second copy would not answer sooner.
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer in 600 s")

    file = tmp_path / "iris.csv"
    file.write_text("a,label\n1,x\n")
    client, api = mocked(handler)
    with pytest.raises(UnreachableError, match="no answer"):
        client.datasets.upload(file, "iris")
    assert len(api.requests) == 1
