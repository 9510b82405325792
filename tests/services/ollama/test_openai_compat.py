"""OpenAI's requests in Ollama's terms and back, rule by rule, as Ollama's own OpenAI layer has them."""

from __future__ import annotations

import base64
import struct

import pytest

from app.services.ollama import openai_compat as compat

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_a_tool_conversation_keeps_calls_results_and_reasoning() -> None:
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning": "I should ask the tool."},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
    ]
    chat = compat.chat_request({"model": "m", "messages": messages, "tools": [{"type": "function"}]})
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}, "id": "call_1"}],
            "thinking": "I should ask the tool.",
        },
        {"role": "tool", "content": "Sunny", "tool_name": "get_weather", "tool_call_id": "call_1"},
    ]
    assert chat["tools"] == [{"type": "function"}]
    assert "tools" not in compat.chat_request(
        {"model": "m", "messages": messages, "tools": [{}], "tool_choice": "none"}
    )


def test_content_parts_become_messages_and_images_base64() -> None:
    picture = base64.b64encode(b"\x89PNG").decode()
    parts = [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{picture}"}},
    ]
    assert compat.chat_messages([{"role": "user", "content": parts}]) == [
        {"role": "user", "content": "What?"},
        {"role": "user", "content": "", "images": [picture]},
    ]
    for url, words in (("https://x/cat.png", "please use base64"), ("data:image/gif;base64,AAAA", "invalid image")):
        with pytest.raises(compat.Invalid, match=words):
            compat.image_data(url)


def test_options_defaults_formats_and_reasoning_effort() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": "END", "max_tokens": 5}
    chat = compat.chat_request({**body, "response_format": {"type": "json_object"}, "reasoning_effort": "minimal"})
    assert chat["options"] == {"temperature": 1.0, "top_p": 1.0, "stop": ["END"], "num_predict": 5}
    assert chat["format"] == "json" and chat["think"] == "low"
    assert compat.think_from_effort("none") is False and compat.think_from_effort("xhigh") == "max"
    with pytest.raises(compat.Invalid, match="invalid reasoning value"):
        compat.think_from_effort("loud")


def test_embeddings_input_and_base64() -> None:
    assert compat.embed_request({"model": "e", "input": ""})["input"] == [""]
    for given, words in (([[1, 2]], "invalid input type"), ([], "invalid input"), ([1, 2], "invalid input type")):
        with pytest.raises(compat.Invalid, match=words):
            compat.embed_request({"model": "e", "input": given})
    packed = compat.embedding([0.5, -1.0], "base64")
    assert struct.unpack("<2f", base64.b64decode(packed)) == (0.5, -1.0)
    assert compat.embedding([0.5], None) == [0.5]


def test_answers_in_openais_shape() -> None:
    result = {
        "message": {
            "content": "",
            "thinking": "hm",
            "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
        },
        "done_reason": "stop",
        "prompt_eval_count": 3,
        "eval_count": 4,
    }
    message = compat.chat_message(result)
    (call,) = message["tool_calls"]
    assert message["reasoning"] == "hm" and call["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert call["id"].startswith("call_") and compat.finish_reason(result, True) == "tool_calls"
    assert compat.usage(result) == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert compat.unix_time("2024-05-01T12:00:00.123456789-00:00") == 1714564800
    assert compat.model_entry({"model": "hf.co/org/repo:Q4"}, 0)["owned_by"] == "org"


def test_responses_input_items_become_a_chat() -> None:
    body = {
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
        ],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
        "max_output_tokens": 9,
    }
    chat = compat.responses_request(body)
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool"]
    assert chat["messages"][3] == {"role": "tool", "content": "Sunny", "tool_name": "get_weather"}
    assert chat["tools"][0]["function"]["name"] == "get_weather" and chat["options"]["num_predict"] == 9
