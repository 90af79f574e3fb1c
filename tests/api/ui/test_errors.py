"""A refusal on a page of the browser view is a page naming its reasons; elsewhere the API's
JSON shape stays."""

from fastapi.testclient import TestClient


def test_a_missing_run_is_a_page_saying_so(client: TestClient) -> None:
    page = client.get("/ui/runs/999999")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>404 Not Found</h1>" in page.text and "run 999999 not found" in page.text


def test_a_bad_parameter_is_a_page_naming_it(client: TestClient) -> None:
    page = client.get("/ui/compare", params={"run_ids": "1", "metric": "x" * 101})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "<h1>422 Unprocessable Entity</h1>" in page.text
    assert "metric: String should have at most 100 characters" in page.text


def test_the_api_and_the_views_static_files_keep_their_json_errors(client: TestClient) -> None:
    for path in ("/runs/999999", "/ui/static/missing.js"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["detail"][0]["type"]
    response = client.get("/runs", params={"limit": 0})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "limit"]
