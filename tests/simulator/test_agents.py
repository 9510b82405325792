"""What agents rely on, over real HTTP: tool calls, thinking, images, and /api/show's capabilities."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import ollama
import pytest

from app.simulator.text import reply_tokens, thinking_tokens
from tests.support.simulator import Simulator, start_simulator

TOKENS = 6
THINKER = "qwen3:0.6b"  # completion, tools, thinking
VISION = "gemma3:4b"  # completion, vision
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 2, "maximum": 7},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "days"],
        },
    },
}
WEATHER_CALL = {"function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
ASK = {"role": "user", "content": "What is the weather in Paris?"}
PICTURE = base64.b64encode(b"\x89PNG a small picture").decode()
OTHER_PICTURE = base64.b64encode(b"\x89PNG another picture").decode()


@pytest.fixture(scope="module")
def ollama_sim() -> Iterator[Simulator]:
    with start_simulator(token_delay=0.001, tokens=TOKENS, pull_chunk_delay=0.001) as sim:
        yield sim


@pytest.fixture
def http(ollama_sim: Simulator) -> Iterator[httpx.Client]:
    ollama_sim.reset()
    with httpx.Client(base_url=ollama_sim.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def client(ollama_sim: Simulator) -> AsyncIterator[ollama.AsyncClient]:
    ollama_sim.reset()
    client = ollama.AsyncClient(host=ollama_sim.base_url, timeout=10)
    yield client
    await client.close()


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def chat(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/api/chat", json={"model": THINKER, **body})


# --- tools -----------------------------------------------------------------------------------


def test_a_user_turn_with_tools_gets_a_call_of_the_first_tool_with_its_required_arguments(http: httpx.Client) -> None:
    reply = chat(http, messages=[ASK], tools=[WEATHER, CLOCK], think=False, stream=False).json()
    message = reply["message"]
    assert message["role"] == "assistant" and message["content"] == "" and "thinking" not in message
    assert reply["done"] is True and reply["done_reason"] == "stop" and reply["eval_count"] > 0
    (call,) = message["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    arguments = call["function"]["arguments"]
    assert set(arguments) == {"city", "days"}  # the required parameters, filled from the schema
    assert isinstance(arguments["city"], str) and arguments["city"] and 2 <= arguments["days"] <= 7
    again = chat(http, messages=[ASK], tools=[WEATHER, CLOCK], think=False, stream=False).json()
    assert again["message"]["tool_calls"] == message["tool_calls"]  # deterministic


def test_a_streamed_tool_call_arrives_whole_in_one_chunk_then_the_done_chunk(http: httpx.Client) -> None:
    *pieces, final = ndjson(chat(http, messages=[ASK], tools=[WEATHER], think=False))
    assert len(pieces) == 1  # no partial call text is streamed before it
    (piece,) = pieces
    assert piece["done"] is False and piece["message"]["content"] == ""
    assert piece["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert set(piece["message"]["tool_calls"][0]["function"]["arguments"]) == {"city", "days"}
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}  # the call is not repeated
    for field in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[field], int) and final[field] > 0
    assert "context" not in final


def test_with_thinking_the_reasoning_streams_before_the_call(http: httpx.Client) -> None:
    *pieces, _final = ndjson(chat(http, messages=[ASK], tools=[WEATHER], think=True))
    *thoughts, call = pieces
    assert thoughts and all(piece["message"]["thinking"] and piece["message"]["content"] == "" for piece in thoughts)
    assert "tool_calls" in call["message"] and "thinking" not in call["message"]


def test_after_a_tool_result_the_model_answers_with_it(http: httpx.Client) -> None:
    history = [
        ASK,
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "18 degrees and sunny", "tool_name": "get_weather"},
    ]
    reply = chat(http, messages=history, tools=[WEATHER], think=False, stream=False).json()
    assert "tool_calls" not in reply["message"]
    assert reply["message"]["content"].startswith("18 degrees and sunny")
    assert reply["eval_count"] == TOKENS


def get_weather(city: str, days: int) -> str:
    """Get the weather.

    Args:
        city: The city
        days: How many days ahead
    """
    return f"sunny in {city} for {days} days"


async def test_the_official_client_reads_the_call_and_sends_the_result_back(client: ollama.AsyncClient) -> None:
    messages: list[Any] = [ASK]
    first = await client.chat(model=THINKER, messages=messages, tools=[get_weather], think=False)
    (call,) = first.message.tool_calls or []
    assert call.function.name == "get_weather" and set(call.function.arguments) == {"city", "days"}
    result = get_weather(**call.function.arguments)
    messages += [first.message, {"role": "tool", "content": result, "tool_name": call.function.name}]
    second = await client.chat(model=THINKER, messages=messages, tools=[get_weather], think=False)
    assert not second.message.tool_calls and result in (second.message.content or "")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"model": VISION, "messages": [ASK], "tools": [WEATHER]}, '"gemma3:4b" does not support tools'),
        ({"model": THINKER, "messages": [ASK], "tools": ["get_weather"]}, None),
        (
            {"model": THINKER, "messages": [{"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}]},
            None,
        ),
        ({"model": THINKER, "messages": [{"role": "tool", "content": "x", "tool_name": 5}]}, None),
    ],
)  # fmt: skip
def test_bad_tool_requests_are_400(http: httpx.Client, body: dict[str, Any], error: str | None) -> None:
    response = http.post("/api/chat", json=body)
    assert response.status_code == 400 and isinstance(response.json()["error"], str)
    if error is not None:
        assert response.json()["error"] == error


# --- thinking --------------------------------------------------------------------------------


def test_chat_streams_reasoning_in_its_own_chunks_before_the_answer(http: httpx.Client) -> None:
    *pieces, final = ndjson(chat(http, messages=[{"role": "user", "content": "hi"}], think=True))
    kinds = ["thinking" if "thinking" in piece["message"] else "content" for piece in pieces]
    first_answer = kinds.index("content")
    assert 0 < first_answer and set(kinds[first_answer:]) == {"content"}  # all reasoning comes first
    thinking = "".join(piece["message"].get("thinking", "") for piece in pieces)
    content = "".join(piece["message"]["content"] for piece in pieces)
    assert thinking == "".join(thinking_tokens("hi", TOKENS))
    assert content == "".join(reply_tokens("hi", TOKENS))  # the answer is what it would be without thinking
    assert final["eval_count"] == len(pieces) and "thinking" not in final["message"]

    whole = chat(http, messages=[{"role": "user", "content": "hi"}], think=True, stream=False).json()
    assert whole["message"]["thinking"] == thinking and whole["message"]["content"] == content


def test_generate_puts_reasoning_in_thinking(http: httpx.Client) -> None:
    body = {"model": THINKER, "prompt": "hi", "think": True}
    *pieces, final = ndjson(http.post("/api/generate", json=body))
    thoughts = [piece for piece in pieces if "thinking" in piece]
    assert thoughts == pieces[: len(thoughts)] and all(piece["response"] == "" for piece in thoughts)
    assert final["context"] and final["done_reason"] == "stop"
    whole = http.post("/api/generate", json={**body, "stream": False}).json()
    assert whole["thinking"] == "".join(piece["thinking"] for piece in thoughts)
    assert whole["response"] == "".join(reply_tokens("hi", TOKENS))


def test_a_thinking_model_thinks_unless_told_not_to(http: httpx.Client) -> None:
    """Ollama 0.12 turns `think` on for a thinking model when the request leaves it out."""
    unsaid = chat(http, messages=[{"role": "user", "content": "hi"}], stream=False).json()
    assert unsaid["message"]["thinking"]
    off = ndjson(chat(http, messages=[{"role": "user", "content": "hi"}], think=False))
    assert not any("thinking" in piece["message"] for piece in off)


def test_num_predict_counts_the_reasoning(http: httpx.Client) -> None:
    reply = chat(
        http, messages=[{"role": "user", "content": "hi"}], think=True, stream=False, options={"num_predict": 2}
    ).json()
    assert reply["done_reason"] == "length" and reply["eval_count"] == 2 and reply["message"]["content"] == ""


@pytest.mark.parametrize(
    ("model", "think", "status", "error"),
    [
        ("tinyllama", True, 400, '"tinyllama" does not support thinking'),
        ("tinyllama", "high", 400, '"tinyllama" does not support thinking'),
        ("tinyllama", False, 200, None),
        (THINKER, "high", 400, 'think value "high" is not supported for this model'),
        (THINKER, "max", 400, 'invalid think value: "max" (must be "high", "medium", "low", true, or false)'),
        (THINKER, 3, 400, 'think must be a boolean or string ("high", "medium", "low", true, or false)'),
    ],
)
def test_think_values_and_models_that_refuse_them(
    http: httpx.Client, model: str, think: Any, status: int, error: str | None
) -> None:
    body = {"model": model, "prompt": "hi", "think": think, "stream": False}
    response = http.post("/api/generate", json=body)
    assert response.status_code == status
    if error is not None:
        assert response.json() == {"error": error}


def test_think_levels_on_a_model_that_takes_them(http: httpx.Client) -> None:
    assert ndjson(http.post("/api/pull", json={"model": "gpt-oss:20b"}))[-1] == {"status": "success"}
    reply = http.post("/api/generate", json={"model": "gpt-oss:20b", "prompt": "hi", "think": "low", "stream": False})
    assert reply.status_code == 200 and reply.json()["thinking"]


# --- images ----------------------------------------------------------------------------------


def generate(http: httpx.Client, model: str, **body: Any) -> dict[str, Any]:
    response = http.post("/api/generate", json={"model": model, "prompt": "What is this?", "stream": False, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_vision_model_sees_the_image(http: httpx.Client) -> None:
    plain = generate(http, VISION)
    seen = generate(http, VISION, images=[PICTURE])
    assert seen["response"] != plain["response"]
    assert generate(http, VISION, images=[PICTURE])["response"] == seen["response"]
    assert generate(http, VISION, images=[OTHER_PICTURE])["response"] != seen["response"]
    assert seen["prompt_eval_count"] > plain["prompt_eval_count"]  # an image costs prompt tokens

    message = {"role": "user", "content": "What is this?", "images": [PICTURE]}
    pictured = http.post("/api/chat", json={"model": VISION, "messages": [message], "stream": False}).json()
    unpictured = http.post(
        "/api/chat", json={"model": VISION, "messages": [{**message, "images": []}], "stream": False}
    ).json()
    assert pictured["message"]["content"] != unpictured["message"]["content"]


def test_a_model_without_vision_ignores_images(http: httpx.Client) -> None:
    """Ollama 0.12's runners drop the images of a model without a vision encoder: 200, same answer."""
    assert generate(http, "tinyllama", images=[PICTURE])["response"] == generate(http, "tinyllama")["response"]


@pytest.mark.parametrize(
    ("image", "offset"),
    [("aGVsbG8", 4), ("aGVs!G8=", 4), ("=abc", 0), ("aGVsbA=x", 6), ("not base64", 3)],
)
def test_invalid_base64_is_400_with_gos_message(http: httpx.Client, image: str, offset: int) -> None:
    expected = {"error": f"illegal base64 data at input byte {offset}"}
    body = {"model": VISION, "prompt": "x", "images": [image]}
    assert http.post("/api/generate", json=body).json() == expected
    message = {"role": "user", "content": "x", "images": [PICTURE, image]}
    response = http.post("/api/chat", json={"model": VISION, "messages": [message]})
    assert response.status_code == 400 and response.json() == expected
    # Decoded with the body, so even a request for an unknown model fails this way first.
    unknown = http.post("/api/generate", json={**body, "model": "no-such-model"})
    assert unknown.status_code == 400


def test_images_must_be_a_list_of_strings(http: httpx.Client) -> None:
    for images in ("aGVsbG8=", [5]):
        response = http.post("/api/generate", json={"model": VISION, "prompt": "x", "images": images})
        assert response.status_code == 400 and "cannot unmarshal" in response.json()["error"]


# --- show ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "capabilities"),
    [
        ("tinyllama", ["completion"]),
        ("llama3.2", ["completion", "tools"]),
        (THINKER, ["completion", "tools", "thinking"]),
        (VISION, ["completion", "vision"]),
        ("nomic-embed-text", ["embedding"]),
    ],
)
def test_show_lists_capabilities_and_the_context_length(
    http: httpx.Client, model: str, capabilities: list[str]
) -> None:
    shown = http.post("/api/show", json={"model": model}).json()
    assert shown["capabilities"] == capabilities
    info = shown["model_info"]
    context_length = info[f"{info['general.architecture']}.context_length"]
    assert isinstance(context_length, int) and context_length >= 2048
