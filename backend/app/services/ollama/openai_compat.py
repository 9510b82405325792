"""OpenAI's API in Ollama's terms, as Ollama's own OpenAI-compatible layer (`/v1`) translates it: chat
completions, legacy completions, the Responses API and embeddings become Ollama chat/generate/embed
requests, and Ollama's answers become OpenAI's shapes. The drop-in `/v1` front queues the translated
request as a job; this module only translates (no I/O), so each rule is tested on its own."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import struct
from datetime import datetime
from typing import Any

from app.services.ollama import names

IMAGE_PREFIXES = tuple(f"data:image/{kind};base64," for kind in ("jpeg", "jpg", "png", "webp"))


class Invalid(ValueError):
    """The request cannot be translated; the message is Ollama's, `param` the field it is about."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


# ---- requests ---------------------------------------------------------------------------------------


def sampling_options(body: dict[str, Any], max_tokens: Any) -> dict[str, Any]:
    """Ollama's options from OpenAI's fields. Like Ollama, temperature and top_p default to 1.0 (OpenAI's
    defaults), not to the model's own."""
    options: dict[str, Any] = {
        "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
        "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
    }
    stop = body.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        options["stop"] = [item for item in stop if isinstance(item, str)]
    for name in ("seed", "frequency_penalty", "presence_penalty"):
        if body.get(name) is not None:
            options[name] = body[name]
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    return options


def think_from_effort(effort: Any) -> bool | str | None:
    """OpenAI's reasoning effort as Ollama's `think`, clamped to Ollama's levels as Ollama does."""
    if effort in (None, ""):
        return None
    levels: dict[str, bool | str] = {"none": False, "minimal": "low", "xhigh": "max", "ultra": "max"}
    levels.update({level: level for level in ("low", "medium", "high", "max")})
    if effort not in levels:
        raise Invalid(
            f'invalid reasoning value: "{effort}" (must be "minimal", "low", "medium", "high", "xhigh", "ultra", '
            '"max", or "none")',
            "reasoning_effort",
        )
    return levels[effort]


def image_data(url: Any) -> str:
    """The base64 of an `image_url` data URL (Ollama takes no remote URLs)."""
    if not isinstance(url, str):
        raise Invalid("invalid message format", "messages")
    if url.startswith(("http://", "https://")):
        raise Invalid("image URLs are not currently supported, please use base64 encoded data instead", "messages")
    prefixes = ("data:;base64,", *IMAGE_PREFIXES)  # no MIME type: plain base64, as /api/chat takes it
    prefix = next((candidate for candidate in prefixes if url.startswith(candidate)), None)
    if prefix is None:
        raise Invalid("invalid image input", "messages")
    data = url[len(prefix) :]
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise Invalid("invalid image input", "messages") from error
    return data


def ollama_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI's tool calls (arguments as a JSON string) as Ollama's (arguments as an object)."""
    converted = []
    for call in calls:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError) as error:
            raise Invalid("invalid tool call arguments", "messages") from error
        item: dict[str, Any] = {"function": {"name": function.get("name", ""), "arguments": arguments}}
        if call.get("id"):
            item["id"] = call["id"]
        converted.append(item)
    return converted


def _tool_name(messages: list[dict[str, Any]], call_id: str) -> str:
    for message in reversed(messages):  # the last call with that id wins, as in Ollama
        for call in message.get("tool_calls") or []:
            if call.get("id") == call_id:
                return str((call.get("function") or {}).get("name", ""))
    return ""


def chat_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """OpenAI messages as Ollama's. As Ollama does, each content part becomes a message of its own (a
    text part its content, an image part its images), tool results name their tool, and an
    assistant's earlier tool calls and reasoning go back to the model."""
    converted: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise Invalid("invalid message format", f"messages.{index}")
        role = message.get("role") or "user"
        role = "system" if role == "developer" else role
        extra: dict[str, Any] = {}
        if role == "tool":
            name = message.get("name") or _tool_name(messages, str(message.get("tool_call_id") or ""))
            extra = {"tool_name": name} if name else {}
            if message.get("tool_call_id"):
                extra["tool_call_id"] = message["tool_call_id"]
        calls = ollama_tool_calls(message.get("tool_calls") or [])
        if calls:
            extra["tool_calls"] = calls
        if message.get("reasoning"):
            extra["thinking"] = message["reasoning"]
        content = message.get("content")
        if isinstance(content, str):
            converted.append({"role": role, "content": content, **extra})
        elif isinstance(content, list):
            parts = [_content_part(role, part, f"messages.{index}") for part in content]
            if parts and extra:
                parts[-1].update(extra)
            converted.extend(parts)
        elif content is None and calls:
            converted.append({"role": role, "content": "", **extra})
        else:
            raise Invalid(f"invalid message content type: {type(content).__name__}", f"messages.{index}.content")
    return converted


def _content_part(role: str, part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise Invalid("invalid message format", where)
    if part.get("type") == "text" and isinstance(part.get("text"), str):
        return {"role": role, "content": part["text"]}
    if part.get("type") == "image_url":
        url = part.get("image_url")
        return {"role": role, "content": "", "images": [image_data(url.get("url") if isinstance(url, dict) else url)]}
    raise Invalid("invalid message format", where)


def response_format(value: Any) -> Any:
    """OpenAI's `response_format` as Ollama's `format`."""
    if not isinstance(value, dict):
        return None
    kind = str(value.get("type") or "").strip().lower()
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        return (value.get("json_schema") or {}).get("schema")
    return None


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """A `/v1/chat/completions` body as an Ollama chat request (a `chat` job's request)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid("[] is too short - 'messages'", "messages")
    effort = (body.get("reasoning") or {}).get("effort") if isinstance(body.get("reasoning"), dict) else None
    chat: dict[str, Any] = {
        "model": body.get("model"),
        "messages": chat_messages(messages),
        "options": sampling_options(body, body.get("max_completion_tokens") or body.get("max_tokens")),
        "format": response_format(body.get("response_format")),
        "think": think_from_effort(effort or body.get("reasoning_effort")),
    }
    if body.get("tools") and body.get("tool_choice") != "none":  # "none": the model may call no tool
        chat["tools"] = body["tools"]
    return {key: value for key, value in chat.items() if value is not None}


def completion_request(body: dict[str, Any]) -> dict[str, Any]:
    """A legacy `/v1/completions` body as an Ollama generate request."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise Invalid("prompt must be a string", "prompt")
    options = sampling_options(body, body.get("max_tokens"))
    options.setdefault("frequency_penalty", 0.0)
    options.setdefault("presence_penalty", 0.0)
    generate = {"model": body.get("model"), "prompt": prompt, "suffix": body.get("suffix"), "options": options}
    return {key: value for key, value in generate.items() if value not in (None, "")}


def embed_request(body: dict[str, Any]) -> dict[str, Any]:
    """A `/v1/embeddings` body as an Ollama embed request. Token arrays are refused as Ollama refuses
    them (`invalid input type`)."""
    kind = body.get("encoding_format")
    if kind not in (None, "") and str(kind).lower() not in ("float", "base64"):
        raise Invalid(
            f"Invalid value for 'encoding_format' = {kind}. Supported values: ['float', 'base64'].", "encoding_format"
        )
    value = body.get("input")
    if value == "":
        value = [""]
    if value is None or value == []:
        raise Invalid("invalid input", "input")
    if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        raise Invalid("invalid input type", "input")
    embed: dict[str, Any] = {"model": body.get("model"), "input": value}
    if body.get("dimensions"):
        embed["dimensions"] = body["dimensions"]
    return embed


# ---- answers ----------------------------------------------------------------------------------------


def openai_tool_calls(calls: list[dict[str, Any]], first_index: int = 0) -> list[dict[str, Any]]:
    """Ollama's tool calls as OpenAI's: an id (Ollama's, or a new one), arguments as a JSON string."""
    converted = []
    for offset, call in enumerate(calls):
        function = call.get("function") or {}
        converted.append(
            {
                "id": call.get("id") or new_id("call_"),
                "index": first_index + offset,
                "type": "function",
                "function": {"name": function.get("name", ""), "arguments": json.dumps(function.get("arguments", {}))},
            }
        )
    return converted


def finish_reason(result: dict[str, Any], tool_calls: bool) -> str:
    reason = str(result.get("done_reason") or "stop")
    return "tool_calls" if reason == "stop" and tool_calls else reason


def usage(result: dict[str, Any]) -> dict[str, int]:
    prompt = int(result.get("prompt_eval_count") or 0)
    completion = int(result.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_message(result: dict[str, Any]) -> dict[str, Any]:
    """A completed chat job's answer as an OpenAI assistant message."""
    message = result.get("message") or {}
    answer: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
    if message.get("thinking"):
        answer["reasoning"] = message["thinking"]
    if message.get("tool_calls"):
        answer["tool_calls"] = openai_tool_calls(message["tool_calls"])
    return answer


def model_entry(model: dict[str, Any], created: int) -> dict[str, Any]:
    """One model as OpenAI lists it; its owner is the name's namespace (`library` for Ollama's own)."""
    name = str(model.get("model") or model.get("name") or "")
    return {"id": name, "object": "model", "created": created, "owned_by": namespace(name)}


def unix_time(stamp: Any) -> int:
    """Ollama's RFC 3339 time (nanoseconds, any offset) as Unix seconds; 0 if there is none."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(stamp or "")).replace("Z", "+00:00")
    try:
        return int(datetime.fromisoformat(text).timestamp())
    except ValueError:
        return 0


def namespace(name: str) -> str:
    try:
        return names.parse(name).namespace
    except Exception:
        return "library"


def embedding(vector: list[float], encoding_format: Any) -> list[float] | str:
    """A vector as floats, or as OpenAI's base64 (little-endian float32 bytes) when asked."""
    if str(encoding_format or "").lower() == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


# ---- the Responses API ------------------------------------------------------------------------------


def responses_request(body: dict[str, Any]) -> dict[str, Any]:
    """A `/v1/responses` body as an Ollama chat request: instructions as the system message, input
    text or items (messages, function calls and their outputs, reasoning), function tools, reasoning
    effort, `text.format` and the sampling fields."""
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": str(body["instructions"])})
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        messages.extend(_response_items(given))
    elif given is not None:
        raise Invalid("input must be a string or a list of items", "input")
    if not messages:
        raise Invalid("input is required", "input")
    tools = [_response_tool(tool) for tool in body.get("tools") or []]
    text_format = ((body.get("text") or {}).get("format") or {}) if isinstance(body.get("text"), dict) else {}
    fmt = None
    if text_format.get("type") == "json_schema":
        fmt = text_format.get("schema")
    elif text_format.get("type") == "json_object":
        fmt = "json"
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    chat = {
        "model": body.get("model"),
        "messages": messages,
        "tools": tools or None,
        "format": fmt,
        "options": sampling_options(body, body.get("max_output_tokens")),
        "think": think_from_effort(reasoning.get("effort")),
    }
    return {key: value for key, value in chat.items() if value is not None}


def _response_tool(tool: Any) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else type(tool).__name__
        raise Invalid(f"tool type {kind!r} is not supported: use function tools", "tools")
    function = {"name": tool.get("name", ""), "description": tool.get("description") or ""}
    if tool.get("parameters") is not None:
        function["parameters"] = tool["parameters"]
    return {"type": "function", "function": function}


def _response_items(items: list[Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    thinking = ""  # reasoning replayed before the assistant message it belongs to
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid("invalid input item", f"input.{index}")
        kind = item.get("type") or "message"
        if kind == "reasoning":
            summary = "".join(part.get("text", "") for part in item.get("summary") or [] if isinstance(part, dict))
            thinking = item.get("encrypted_content") or summary
        elif kind == "message":
            content, images = _response_content(item.get("content"), f"input.{index}.content")
            message: dict[str, Any] = {"role": item.get("role") or "user", "content": content}
            if images:
                message["images"] = images
            if message["role"] == "developer":
                message["role"] = "system"
            if message["role"] == "assistant" and thinking:
                message["thinking"], thinking = thinking, ""
            messages.append(message)
        elif kind == "function_call":
            try:
                arguments = json.loads(item.get("arguments") or "{}")
            except ValueError as error:
                raise Invalid("failed to parse function call arguments", f"input.{index}.arguments") from error
            call = {"id": item.get("call_id"), "function": {"name": item.get("name", ""), "arguments": arguments}}
            if messages and messages[-1]["role"] == "assistant":
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
            if thinking:
                messages[-1]["thinking"], thinking = thinking, ""
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            name = _tool_name([{"tool_calls": m.get("tool_calls", [])} for m in messages], str(item.get("call_id")))
            messages.append({"role": "tool", "content": text, **({"tool_name": name} if name else {})})
        else:
            raise Invalid(f"input item type {kind!r} is not supported", f"input.{index}.type")
    return messages


def _response_content(content: Any, where: str) -> tuple[str, list[str]]:
    if isinstance(content, str):
        return content, []
    text, images = "", []
    for part in content or []:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            text += str(part.get("text") or "")
        elif kind == "input_image":
            if part.get("image_url"):
                images.append(image_data(part["image_url"]))
        else:
            raise Invalid(f"content type {kind!r} is not supported", where)
    return text, images


def response_output(result: dict[str, Any], response_id: str, message_id: str) -> list[dict[str, Any]]:
    """A completed chat job's answer as Responses output items: reasoning, then the tool calls, or else
    the message."""
    message = result.get("message") or {}
    output: list[dict[str, Any]] = []
    if message.get("thinking"):
        output.append(reasoning_item(response_id, message["thinking"]))
    calls = openai_tool_calls(message.get("tool_calls") or [])
    if calls:
        output.extend(function_call_item(response_id, index, call) for index, call in enumerate(calls))
    else:
        output.append(message_item(message_id, message.get("content", "")))
    return output


def reasoning_item(response_id: str, thinking: str) -> dict[str, Any]:
    return {
        "id": f"rs_{response_id}",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": thinking}],
        "encrypted_content": thinking,
    }


def function_call_item(response_id: str, index: int, call: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"fc_{response_id}_{index}",
        "type": "function_call",
        "status": "completed",
        "call_id": call["id"],
        "name": call["function"]["name"],
        "arguments": call["function"]["arguments"],
    }


def message_item(message_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status else [],
    }


def response_object(
    body: dict[str, Any], response_id: str, created: int, status: str, output: list[dict[str, Any]], result: Any
) -> dict[str, Any]:
    """The Responses API's response object, echoing the request's settings as Ollama does."""
    counts = usage(result) if isinstance(result, dict) else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "incomplete_details": None,
        "model": body.get("model"),
        "previous_response_id": None,
        "instructions": body.get("instructions"),
        "output": output,
        "error": None,
        "tools": body.get("tools") or [],
        "tool_choice": "auto",
        "truncation": body.get("truncation") or "disabled",
        "parallel_tool_calls": True,
        "text": {"format": ((body.get("text") or {}).get("format")) or {"type": "text"}},
        "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
        "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
        "reasoning": body.get("reasoning"),
        "usage": {
            "input_tokens": counts["prompt_tokens"],
            "output_tokens": counts["completion_tokens"],
            "total_tokens": counts["total_tokens"],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        if counts
        else None,
        "max_output_tokens": body.get("max_output_tokens"),
        "store": False,
        "background": False,
        "service_tier": "default",
        "metadata": {},
    }
