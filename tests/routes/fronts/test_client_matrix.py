"""The client matrix: the clients people point at Ollama, unmodified, pointed at a real `aijobs serve`
(over loopback, on its own database) in front of the Ollama simulator. Each case is one client by one
call and says what a user of that client relies on; `pytest -v` lists the matrix as it ran.

Python: `ollama`, `openai`, `langchain-ollama`, `langchain-openai`, `litellm` (its `ollama/`,
`ollama_chat/` and `openai/` providers). Node: `ollama` and `openai` from tests/clients/node (installed
by `make test`), run with `node`."""

from __future__ import annotations

import base64
import gc
import json
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.simulator import Simulator

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM would fetch its price list at import

NODE_CLIENTS = Path(__file__).parents[2] / "clients" / "node"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city"}},
            "required": ["city"],
        },
    },
}
ASK = {"role": "user", "content": "What is the weather in Paris right now? Use the get_weather tool."}
HI = [{"role": "user", "content": "Hi"}]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
PICTURE = base64.b64encode(b"\x89PNG a small picture").decode()
TOOL_ANSWER = "Sunny, 21 degrees"

Case = Callable[[Api, Simulator], Awaitable[None]]
CASES: dict[str, tuple[Case, dict[str, str]]] = {}
# LangChain and LiteLLM keep the HTTP clients they make for as long as they like, with no way to close
# them: their sockets are garbage, collected (and ignored) at the end of their own case.
KEEPS_CLIENTS = ("langchain-ollama", "langchain-openai", "litellm")
OPENED: list[Any] = []  # the official clients a case made, closed after it


def case(client: str, call: str, **env: str) -> Callable[[Case], Case]:
    """Register `client` by `call`; `env`: the server's environment for it."""

    def register(function: Case) -> Case:
        CASES[f"{client} | {call}"] = (function, env)
        return function

    return register


def token(api: Api, who: str = "alice") -> str:
    return api.tokens[who]


# ---- ollama (Python) --------------------------------------------------------------------------------


def ollama_client(api: Api, who: str | None = "alice") -> Any:
    import ollama

    headers = {"Authorization": f"Bearer {api.tokens[who]}"} if who else {}
    OPENED.append(ollama.AsyncClient(host=api.base_url, headers=headers, timeout=30))
    return OPENED[-1]


@case("ollama-py", "chat")
async def _(api: Api, sim: Simulator) -> None:
    reply = await ollama_client(api).chat(model="tinyllama", messages=HI)
    assert reply.done and reply.message.content and reply.done_reason == "stop"


@case("ollama-py", "chat stream")
async def _(api: Api, sim: Simulator) -> None:
    parts = [part async for part in await ollama_client(api).chat(model="tinyllama", messages=HI, stream=True)]
    assert parts[-1].done and "".join(part.message.content or "" for part in parts)


@case("ollama-py", "tools")
async def _(api: Api, sim: Simulator) -> None:
    reply = await ollama_client(api).chat(model="llama3.2", messages=[ASK], tools=[WEATHER])
    (call,) = reply.message.tool_calls or []
    assert call.function.name == "get_weather" and isinstance(call.function.arguments["city"], str)


@case("ollama-py", "tools stream")
async def _(api: Api, sim: Simulator) -> None:
    stream = await ollama_client(api).chat(model="llama3.2", messages=[ASK], tools=[WEATHER], stream=True)
    calls = [call async for part in stream for call in part.message.tool_calls or []]
    assert [call.function.name for call in calls] == ["get_weather"]


@case("ollama-py", "tool result turn")
async def _(api: Api, sim: Simulator) -> None:
    client = ollama_client(api)
    asked = await client.chat(model="llama3.2", messages=[ASK], tools=[WEATHER])
    messages = [ASK, asked.message, {"role": "tool", "content": TOOL_ANSWER, "tool_name": "get_weather"}]
    answer = await client.chat(model="llama3.2", messages=messages, tools=[WEATHER])
    assert answer.message.content.startswith(TOOL_ANSWER) and not answer.message.tool_calls


@case("ollama-py", "thinking")
async def _(api: Api, sim: Simulator) -> None:
    reply = await ollama_client(api).chat(model="qwen3:0.6b", messages=HI, think=True)
    assert reply.message.thinking and reply.message.content
    parts = [p async for p in await ollama_client(api).generate(model="qwen3:0.6b", prompt="2+3?", stream=True)]
    assert "".join(p.thinking or "" for p in parts) and "".join(p.response for p in parts)


@case("ollama-py", "structured output")
async def _(api: Api, sim: Simulator) -> None:
    reply = await ollama_client(api).chat(model="tinyllama", messages=HI, format=SCHEMA)
    assert isinstance(json.loads(reply.message.content)["answer"], str)


@case("ollama-py", "images")
async def _(api: Api, sim: Simulator) -> None:
    message = {"role": "user", "content": "What is this?", "images": [PICTURE]}
    seen = await ollama_client(api).chat(model="gemma3:4b", messages=[message])
    plain = await ollama_client(api).chat(model="gemma3:4b", messages=[{**message, "images": []}])
    assert seen.prompt_eval_count > plain.prompt_eval_count  # the image reached the vision model


@case("ollama-py", "embeddings")
async def _(api: Api, sim: Simulator) -> None:
    client = ollama_client(api)
    assert len((await client.embed(model="nomic-embed-text", input=["a", "b"])).embeddings) == 2
    assert len((await client.embeddings(model="nomic-embed-text", prompt="a")).embedding) > 0


@case("ollama-py", "model list and show")
async def _(api: Api, sim: Simulator) -> None:
    client = ollama_client(api)
    assert "tinyllama:latest" in [model.model for model in (await client.list()).models]
    shown = await client.show("qwen3:0.6b")
    assert {"tools", "thinking"} <= set(shown.capabilities or [])
    info = shown.modelinfo or {}
    assert isinstance(info[f"{info['general.architecture']}.context_length"], int)


@case("ollama-py", "errors 401, 404 model, 400 upstream")
async def _(api: Api, sim: Simulator) -> None:
    import ollama

    for who, model, tools, status, words in (
        (None, "tinyllama", None, 401, "bearer token"),
        ("alice", "no-such-model", None, 404, "model 'no-such-model' not found"),
        ("alice", "tinyllama", [WEATHER], 400, '"tinyllama" does not support tools'),
    ):
        with pytest.raises(ollama.ResponseError) as raised:
            await ollama_client(api, who).chat(model=model, messages=HI, tools=tools)
        assert raised.value.status_code == status and words in raised.value.error


@case("ollama-py", "usage")
async def _(api: Api, sim: Simulator) -> None:
    final = [p async for p in await ollama_client(api).generate(model="tinyllama", prompt="Hi", stream=True)][-1]
    assert final.prompt_eval_count and final.eval_count and final.prompt_eval_duration and final.eval_duration
    assert final.context


# ---- openai (Python) --------------------------------------------------------------------------------


def openai_client(api: Api, key: str | None = None) -> Any:
    import openai

    OPENED.append(openai.AsyncOpenAI(base_url=f"{api.base_url}/v1", api_key=key or token(api), max_retries=0))
    return OPENED[-1]


@case("openai-py", "chat")
async def _(api: Api, sim: Simulator) -> None:
    reply = await openai_client(api).chat.completions.create(model="tinyllama", messages=HI, max_tokens=5)
    assert reply.choices[0].message.content and reply.choices[0].finish_reason == "length"


@case("openai-py", "chat stream, usage")
async def _(api: Api, sim: Simulator) -> None:
    stream = await openai_client(api).chat.completions.create(
        model="tinyllama", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@case("openai-py", "tools")
async def _(api: Api, sim: Simulator) -> None:
    reply = await openai_client(api).chat.completions.create(model="llama3.2", messages=[ASK], tools=[WEATHER])
    choice = reply.choices[0]
    (call,) = choice.message.tool_calls or []
    assert choice.finish_reason == "tool_calls" and call.id and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


@case("openai-py", "tools stream")
async def _(api: Api, sim: Simulator) -> None:
    stream = await openai_client(api).chat.completions.create(
        model="llama3.2", messages=[ASK], tools=[WEATHER], stream=True
    )
    chunks = [chunk async for chunk in stream]
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert [call.function.name for call in calls] == ["get_weather"] and calls[0].index == 0
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@case("openai-py", "tool result turn")
async def _(api: Api, sim: Simulator) -> None:
    client = openai_client(api)
    asked = (await client.chat.completions.create(model="llama3.2", messages=[ASK], tools=[WEATHER])).choices[0]
    call = (asked.message.tool_calls or [])[0]
    messages = [
        ASK,
        asked.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": TOOL_ANSWER},
    ]
    answer = await client.chat.completions.create(model="llama3.2", messages=messages, tools=[WEATHER])
    assert (answer.choices[0].message.content or "").startswith(TOOL_ANSWER)


@case("openai-py", "reasoning")
async def _(api: Api, sim: Simulator) -> None:
    reply = await openai_client(api).chat.completions.create(model="qwen3:0.6b", messages=HI)
    message = reply.choices[0].message
    assert (message.model_extra or {}).get("reasoning") and message.content
    plain = await openai_client(api).chat.completions.create(model="qwen3:0.6b", messages=HI, reasoning_effort="none")
    assert not (plain.choices[0].message.model_extra or {}).get("reasoning")


@case("openai-py", "structured output")
async def _(api: Api, sim: Simulator) -> None:
    reply = await openai_client(api).chat.completions.create(
        model="tinyllama",
        messages=HI,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}},
    )
    assert isinstance(json.loads(reply.choices[0].message.content or "")["answer"], str)


@case("openai-py", "images")
async def _(api: Api, sim: Simulator) -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PICTURE}"}},
    ]
    client = openai_client(api)
    seen = await client.chat.completions.create(model="gemma3:4b", messages=[{"role": "user", "content": parts}])
    plain = await client.chat.completions.create(model="gemma3:4b", messages=[{"role": "user", "content": parts[:1]}])
    assert seen.usage and plain.usage and seen.usage.prompt_tokens > plain.usage.prompt_tokens


@case("openai-py", "embeddings float and base64")
async def _(api: Api, sim: Simulator) -> None:
    client = openai_client(api)
    floats = await client.embeddings.create(model="nomic-embed-text", input=["a", "b"], encoding_format="float")
    decoded = await client.embeddings.create(model="nomic-embed-text", input=["a", "b"])  # the SDK asks base64
    assert [item.index for item in floats.data] == [0, 1] and len(floats.data[0].embedding) == 768
    assert [round(x, 5) for x in decoded.data[0].embedding] == [round(x, 5) for x in floats.data[0].embedding]


@case("openai-py", "embeddings of token arrays refused as Ollama does")
async def _(api: Api, sim: Simulator) -> None:
    import openai

    with pytest.raises(openai.BadRequestError) as raised:
        await openai_client(api).embeddings.create(model="nomic-embed-text", input=[[1, 2, 3]])
    assert raised.value.status_code == 400 and "invalid input type" in str(raised.value)
    assert raised.value.body and raised.value.body.get("param") == "input"  # type: ignore[union-attr]


@case("openai-py", "model list and retrieve")
async def _(api: Api, sim: Simulator) -> None:
    import openai

    client = openai_client(api)
    listed = [model async for model in client.models.list()]
    assert "tinyllama:latest" in [model.id for model in listed] and listed[0].owned_by == "library"
    assert (await client.models.retrieve("qwen3:0.6b")).id == "qwen3:0.6b"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("no-such-model")


@case("openai-py", "legacy completions")
async def _(api: Api, sim: Simulator) -> None:
    client = openai_client(api)
    whole = await client.completions.create(model="tinyllama", prompt="Say hi", max_tokens=4)
    assert whole.choices[0].text and whole.usage and whole.usage.completion_tokens == 4
    stream = await client.completions.create(model="tinyllama", prompt="Say hi", stream=True)
    assert "".join([chunk.choices[0].text async for chunk in stream if chunk.choices])


@case("openai-py", "responses API")
async def _(api: Api, sim: Simulator) -> None:
    client = openai_client(api)
    reply = await client.responses.create(model="tinyllama", input="Say hi", instructions="Be brief.")
    assert reply.output_text and reply.usage and reply.usage.output_tokens > 0
    tool = {"type": "function", **WEATHER["function"]}
    called = await client.responses.create(model="llama3.2", input=ASK["content"], tools=[tool])  # type: ignore[list-item]
    (call,) = [item for item in called.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments)["city"]
    events = [event async for event in await client.responses.create(model="tinyllama", input="Hi", stream=True)]
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas and events[-1].type == "response.completed"
    assert events[-1].response.output_text == deltas  # type: ignore[union-attr]


@case("openai-py", "errors 401, 404 model, 400 upstream")
async def _(api: Api, sim: Simulator) -> None:
    import openai

    with pytest.raises(openai.AuthenticationError):
        await openai_client(api, "aij_wrong").models.list()
    with pytest.raises(openai.NotFoundError) as missing:
        await openai_client(api).chat.completions.create(model="nope", messages=HI)
    assert missing.value.body["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as refused:
        await openai_client(api).chat.completions.create(model="tinyllama", messages=HI, tools=[WEATHER])
    assert '"tinyllama" does not support tools' in str(refused.value)


@case("openai-py", "daily token limit: 429 with Retry-After", DAILY_TOKEN_LIMIT="1")
async def _(api: Api, sim: Simulator) -> None:
    import openai

    await openai_client(api).chat.completions.create(model="tinyllama", messages=HI)
    with pytest.raises(openai.RateLimitError) as limit:
        await openai_client(api).chat.completions.create(model="tinyllama", messages=HI)
    assert int(limit.value.response.headers["retry-after"]) > 0
    assert limit.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]


# ---- LangChain ----------------------------------------------------------------------------------------


def chat_ollama(api: Api, model: str, **kwargs: Any) -> Any:
    from langchain_ollama import ChatOllama

    headers = {"Authorization": f"Bearer {token(api)}"}
    return ChatOllama(model=model, base_url=api.base_url, client_kwargs={"headers": headers}, **kwargs)


@case("langchain-ollama", "chat and stream")
async def _(api: Api, sim: Simulator) -> None:
    chat = chat_ollama(api, "tinyllama")
    reply = await chat.ainvoke("Hi")
    assert reply.content and reply.usage_metadata and reply.usage_metadata["output_tokens"] > 0
    assert "".join([str(chunk.content) async for chunk in chat.astream("Hi")])


@case("langchain-ollama", "tools and the tool result turn")
async def _(api: Api, sim: Simulator) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage

    chat = chat_ollama(api, "llama3.2").bind_tools([WEATHER])
    asked = await chat.ainvoke([HumanMessage(ASK["content"])])
    (call,) = asked.tool_calls
    assert call["name"] == "get_weather" and call["args"]["city"]
    answer = await chat.ainvoke(
        [HumanMessage(ASK["content"]), asked, ToolMessage(TOOL_ANSWER, tool_call_id=call["id"])]
    )
    assert str(answer.content).startswith(TOOL_ANSWER)


@case("langchain-ollama", "thinking")
async def _(api: Api, sim: Simulator) -> None:
    reply = await chat_ollama(api, "qwen3:0.6b", reasoning=True).ainvoke("2+3?")
    assert reply.additional_kwargs.get("reasoning_content") and reply.content


@case("langchain-ollama", "structured output")
async def _(api: Api, sim: Simulator) -> None:
    structured = chat_ollama(api, "tinyllama").with_structured_output({"title": "Answer", **SCHEMA})
    assert isinstance((await structured.ainvoke("Hi"))["answer"], str)


@case("langchain-ollama", 'OllamaLLM (format: "") and embeddings')
async def _(api: Api, sim: Simulator) -> None:
    from langchain_ollama import OllamaEmbeddings, OllamaLLM

    kwargs = {"base_url": api.base_url, "client_kwargs": {"headers": {"Authorization": f"Bearer {token(api)}"}}}
    assert await OllamaLLM(model="tinyllama", **kwargs).ainvoke("Hi")
    vectors = await OllamaEmbeddings(model="nomic-embed-text", **kwargs).aembed_documents(["a", "b"])
    assert len(vectors) == 2 and len(vectors[0]) == 768


def chat_openai(api: Api, model: str, **kwargs: Any) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model, base_url=f"{api.base_url}/v1", api_key=token(api), max_retries=0, **kwargs)


@case("langchain-openai", "chat and stream")
async def _(api: Api, sim: Simulator) -> None:
    chat = chat_openai(api, "tinyllama", stream_usage=True)
    reply = await chat.ainvoke("Hi")
    assert reply.content and reply.usage_metadata and reply.usage_metadata["output_tokens"] > 0
    chunks = [chunk async for chunk in chat.astream("Hi")]
    assert "".join(str(chunk.content) for chunk in chunks)
    assert any(chunk.usage_metadata for chunk in chunks)  # the include_usage chunk


@case("langchain-openai", "tools and the tool result turn")
async def _(api: Api, sim: Simulator) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage

    chat = chat_openai(api, "llama3.2").bind_tools([WEATHER])
    asked = await chat.ainvoke([HumanMessage(ASK["content"])])
    (call,) = asked.tool_calls
    assert call["name"] == "get_weather" and call["args"]["city"]
    answer = await chat.ainvoke(
        [HumanMessage(ASK["content"]), asked, ToolMessage(TOOL_ANSWER, tool_call_id=call["id"])]
    )
    assert str(answer.content).startswith(TOOL_ANSWER)


@case("langchain-openai", "structured output and embeddings")
async def _(api: Api, sim: Simulator) -> None:
    from langchain_openai import OpenAIEmbeddings

    structured = chat_openai(api, "tinyllama").with_structured_output(
        {"title": "Answer", **SCHEMA}, method="json_schema"
    )
    assert isinstance((await structured.ainvoke("Hi"))["answer"], str)
    # Token arrays (the default) need tiktoken's vocabulary from the internet: texts here.
    embeddings = OpenAIEmbeddings(
        model="nomic-embed-text", base_url=f"{api.base_url}/v1", api_key=token(api), check_embedding_ctx_length=False
    )
    assert len(await embeddings.aembed_query("hello")) == 768


# ---- LiteLLM ------------------------------------------------------------------------------------------


async def litellm_chat(api: Api, model: str, **kwargs: Any) -> Any:
    import litellm

    base = f"{api.base_url}/v1" if model.startswith("openai/") else api.base_url
    return await litellm.acompletion(model=model, api_base=base, api_key=token(api), **kwargs)


@case("litellm", "ollama/ chat and stream (no Content-Type)")
async def _(api: Api, sim: Simulator) -> None:
    reply = await litellm_chat(api, "ollama/tinyllama", messages=HI)
    assert reply.choices[0].message.content and reply.usage.completion_tokens > 0
    stream = await litellm_chat(api, "ollama/tinyllama", messages=HI, stream=True)
    assert "".join([chunk.choices[0].delta.content or "" async for chunk in stream])


@case("litellm", "ollama_chat/ chat, tools, thinking")
async def _(api: Api, sim: Simulator) -> None:
    reply = await litellm_chat(api, "ollama_chat/tinyllama", messages=HI)
    assert reply.choices[0].message.content
    called = await litellm_chat(api, "ollama_chat/llama3.2", messages=[ASK], tools=[WEATHER])
    (call,) = called.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments)["city"]
    thought = await litellm_chat(api, "ollama_chat/qwen3:0.6b", messages=HI, reasoning_effort="low")
    assert thought.choices[0].message.reasoning_content


@case("litellm", "openai/ chat, stream, tools")
async def _(api: Api, sim: Simulator) -> None:
    reply = await litellm_chat(api, "openai/tinyllama", messages=HI)
    assert reply.choices[0].message.content
    stream = await litellm_chat(api, "openai/tinyllama", messages=HI, stream=True)
    assert "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    called = await litellm_chat(api, "openai/llama3.2", messages=[ASK], tools=[WEATHER])
    assert called.choices[0].message.tool_calls[0].function.name == "get_weather"


@case("litellm", "embeddings (ollama/ and openai/)")
async def _(api: Api, sim: Simulator) -> None:
    import litellm

    native = await litellm.aembedding(
        model="ollama/nomic-embed-text", input=["a"], api_base=api.base_url, api_key=token(api)
    )
    compatible = await litellm.aembedding(
        model="openai/nomic-embed-text", input=["a"], api_base=f"{api.base_url}/v1", api_key=token(api)
    )
    assert len(native.data[0]["embedding"]) == len(compatible.data[0]["embedding"]) == 768


# ---- Node: ollama and openai --------------------------------------------------------------------------


def node(api: Api, client: str, call: str) -> dict[str, Any]:
    if shutil.which("node") is None or not (NODE_CLIENTS / "node_modules").is_dir():
        pytest.fail("node and tests/clients/node/node_modules are needed: `make test` installs them")
    env = {**os.environ, "AIJOBS_URL": api.base_url, "AIJOBS_TOKEN": token(api)}
    done = subprocess.run(
        ["node", "clients.mjs", client, call], cwd=NODE_CLIENTS, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def node_value(api: Api, client: str, call: str) -> Any:
    outcome = node(api, client, call)
    assert outcome["ok"], outcome
    return outcome["value"]


@case("node-ollama", "chat and stream")
async def _(api: Api, sim: Simulator) -> None:
    for call in ("chat", "chat-stream"):
        value = node_value(api, "ollama", call)
        assert value["content"] and value["done"]


@case("node-ollama", "tools, streamed and not")
async def _(api: Api, sim: Simulator) -> None:
    for call in ("tools", "tools-stream"):
        (tool_call,) = node_value(api, "ollama", call)["tool_calls"]
        assert tool_call["function"]["name"] == "get_weather" and tool_call["function"]["arguments"]["city"]


@case("node-ollama", "thinking, embeddings, list, show")
async def _(api: Api, sim: Simulator) -> None:
    thought = node_value(api, "ollama", "thinking")
    assert thought["thinking"] and thought["content"]
    assert node_value(api, "ollama", "embed") == {"count": 2, "dimensions": 768}
    assert "tinyllama:latest" in node_value(api, "ollama", "list")["models"]
    assert "tools" in node_value(api, "ollama", "show")["capabilities"]


@case("node-ollama", "error 404 in Ollama's shape")
async def _(api: Api, sim: Simulator) -> None:
    outcome = node(api, "ollama", "error-404")
    assert outcome == {**outcome, "ok": False, "status": 404, "message": "model 'no-such-model' not found"}


@case("node-openai", "chat, stream with usage, tools")
async def _(api: Api, sim: Simulator) -> None:
    assert node_value(api, "openai", "chat")["content"]
    streamed = node_value(api, "openai", "chat-stream")
    assert streamed["content"] and streamed["usage"]["completion_tokens"] > 0
    tools = node_value(api, "openai", "tools")
    assert tools["finish_reason"] == "tool_calls" and tools["tool_calls"][0]["function"]["name"] == "get_weather"


@case("node-openai", "embeddings (base64 by default), models")
async def _(api: Api, sim: Simulator) -> None:
    vector = node_value(api, "openai", "embed")
    assert vector["dimensions"] == 768 and abs(vector["norm"] - 1) < 1e-4  # decoded, not 192 zeros
    assert "tinyllama:latest" in node_value(api, "openai", "list")["models"]


@case("node-openai", "errors 401 and 404")
async def _(api: Api, sim: Simulator) -> None:
    assert node(api, "openai", "error-401")["status"] == 401
    missing = node(api, "openai", "error-404")
    assert missing["status"] == 404 and "not found" in missing["message"]


def _params() -> list[Any]:
    unclosed = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
    return [pytest.param(name, id=name, marks=[unclosed] if name.startswith(KEEPS_CLIENTS) else []) for name in CASES]


@pytest.mark.parametrize("name", _params())
async def test_client(name: str, start_api: Callable[..., Api], sim: Simulator) -> None:
    run, env = CASES[name]
    try:
        await run(start_api(**env), sim)
    finally:
        while OPENED:
            await OPENED.pop().close()
        gc.collect()  # whatever a client left open is found now, in its own case
