"""The app's error handlers over real HTTP: a body that is not JSON, or not sent as JSON, gets a 422 in
the API's error shape that says what is wrong and how to send it."""

from __future__ import annotations

import json

import pytest

from tests.routes.test_jobs import GENERATE
from tests.support.api import Api

BROKEN = '{"job_type": "generate",\n "request": {"model": "tinyllama", "prompt": "hi"}\n "details": "x"}'


@pytest.mark.parametrize("path", ["/api/ai-agent/jobs", "/api/ai-agent/reports", "/api/locks"])
def test_invalid_json_says_why_and_where_by_line_and_column(api: Api, path: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(BROKEN)
    response = api.as_("alice").post(path, content=BROKEN, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    reason = expected.value
    assert error["message"] == (
        f"The body is not valid JSON: {reason.msg} at line {reason.lineno} column {reason.colno}."
    )
    assert (reason.lineno, reason.colno) == (3, 2)
    assert error["details"]["fields"] == [{"field": "body", "message": error["message"]}]
    assert api.as_("alice").get("/api/ai-agent/jobs").json()["jobs"] == []  # nothing queued


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        ("text/plain", "this request's Content-Type is 'text/plain'"),
        ("application/x-www-form-urlencoded", "this request's Content-Type is 'application/x-www-form-urlencoded'"),
        (None, "this request has none"),  # not read as JSON without it: FastAPI's guard against cross-site posts
    ],
)
@pytest.mark.parametrize("path", ["/api/ai-agent/jobs", "/api/ai-agent/create-canvas", "/api/locks"])
def test_a_body_not_sent_as_json_says_to_send_the_content_type(
    api: Api, path: str, content_type: str | None, said: str
) -> None:
    """`curl -d '{…}'` without `-H 'Content-Type: application/json'` sends a form."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.as_("alice").post(path, content=json.dumps(GENERATE), headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == f"Send the body as JSON with the header `Content-Type: application/json` ({said})."
    assert error["details"]["fields"] == [{"field": "body", "message": error["message"]}]


def test_a_missing_body_says_what_to_send(api: Api) -> None:
    response = api.as_("alice").post("/api/ai-agent/jobs")
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "This endpoint needs a JSON body, sent with the header `Content-Type: application/json`."
    )
