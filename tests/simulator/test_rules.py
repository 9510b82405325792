"""The simulator's pure rules, without a server: model names, keep_alive, replies, JSON for `format`."""

from __future__ import annotations

import json
import math
from enum import StrEnum

import pytest
from pydantic import BaseModel, Field

from app.simulator import text
from app.simulator.durations import FOREVER, DurationError, parse_go_duration, parse_keep_alive
from app.simulator.generation import make_plan
from app.simulator.names import parse_name
from app.simulator.state import SimConfig


@pytest.mark.parametrize(
    ("raw", "display"),
    [
        ("tinyllama", "tinyllama:latest"),
        ("TinyLlama:Latest", "TinyLlama:Latest"),
        ("qwen2.5:0.5b", "qwen2.5:0.5b"),
        ("library/llama3.2", "llama3.2:latest"),
        ("myuser/my-model:v1", "myuser/my-model:v1"),
        ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"),
        ("localhost:5000/team/model", "localhost:5000/team/model:latest"),
        ("https://registry.ollama.ai/library/tinyllama:latest", "tinyllama:latest"),
        ("_private", "_private:latest"),
    ],
)
def test_valid_names_and_how_they_are_shown(raw: str, display: str) -> None:
    name = parse_name(raw)
    assert name is not None and name.display == display


@pytest.mark.parametrize(
    "raw",
    ["", "tinyllama:", ":latest", "-model", ".model", "bad name", "model!", "a/b/c/d", "my.ns/model", "m" * 81,
     "model:t:g", "model:tag/x", "ünïcode"],
)  # fmt: skip
def test_invalid_names(raw: str) -> None:
    assert parse_name(raw) is None


def test_lookup_identity_ignores_case_and_defaults() -> None:
    keys = {parse_name(raw).key for raw in ("tinyllama", "TinyLlama:latest", "registry.ollama.ai/library/tinyllama")}  # type: ignore[union-attr]
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("text_value", "seconds"),
    [("5m", 300), ("0", 0), ("10s", 10), ("1h30m", 5400), ("1.5h", 5400), ("-1m", -60), ("250ms", 0.25), ("+2s", 2)],
)
def test_go_durations(text_value: str, seconds: float) -> None:
    assert parse_go_duration(text_value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("300", 'time: missing unit in duration "300"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("", 'time: invalid duration ""'),
        ("m", 'time: invalid duration "m"'),
        (True, "Unsupported type: 'bool'"),
    ],
)
def test_bad_keep_alive_values_carry_gos_message(value: object, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_keep_alive(value)
    assert str(caught.value) == message


def test_keep_alive_numbers_are_seconds_and_negative_is_forever() -> None:
    assert parse_keep_alive(None) is None
    assert parse_keep_alive(0) == 0
    assert parse_keep_alive(90) == 90
    assert parse_keep_alive(-1) == FOREVER
    assert parse_keep_alive("-1m") == FOREVER
    assert math.isinf(parse_keep_alive("-5s") or 0)


def test_reply_is_deterministic_and_shorter_replies_are_prefixes() -> None:
    long = text.reply_tokens("Why is the sky blue?", 12)
    assert long == text.reply_tokens("Why is the sky blue?", 12)
    assert text.reply_tokens("Why is the sky blue?", 5) == long[:5]
    assert long != text.reply_tokens("Something else", 12)
    assert long[0][0].isupper() and all(token.startswith(" ") for token in long[1:])


def test_num_predict_and_stop_cut_the_plan() -> None:
    full = make_plan("hello", None, {}, 10, 1)
    assert len(full.tokens) == 10 and full.done_reason == "stop"
    short = make_plan("hello", None, {"num_predict": 3}, 10, 1)
    assert short.tokens == full.tokens[:3] and short.done_reason == "length"
    stop_at = full.tokens[4].strip()
    stopped = make_plan("hello", None, {"stop": [stop_at]}, 10, 1)
    assert stop_at not in "".join(stopped.tokens) and stopped.done_reason == "stop"
    assert "".join(full.tokens).startswith("".join(stopped.tokens))


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    number: int = Field(ge=10, le=20)


class Person(BaseModel):
    name: str = Field(min_length=12)
    age: int = Field(gt=17)
    height: float = Field(ge=1.2, lt=2.5)
    email: str | None = None
    colour: Colour
    active: bool
    tags: list[str] = Field(min_length=2)
    home: Address
    previous: list[Address] = []


def test_json_schema_format_gives_an_instance_pydantic_accepts() -> None:
    reply = text.json_reply(Person.model_json_schema(), "Tell me about someone")
    person = Person.model_validate_json(reply)
    assert len(person.tags) == 2 and person.age >= 18 and 10 <= person.home.number <= 20


def test_json_format_gives_an_object() -> None:
    assert isinstance(json.loads(text.json_reply("json", "hi")), dict)


@pytest.mark.parametrize("dims", [3, 768])
def test_embeddings_are_unit_length_and_similar_texts_are_close(dims: int) -> None:
    cat, cats, car = (text.embedding(value, dims) for value in ("the cat sat", "the cat sat down", "quantum tax law"))
    assert math.isclose(sum(v * v for v in cat), 1.0, rel_tol=1e-9)
    assert text.embedding("the cat sat", dims) == cat

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    if dims > 3:
        assert cosine(cat, cats) > cosine(cat, car)


def test_config_updates_are_checked_and_all_or_nothing() -> None:
    config = SimConfig()
    config.update({"tokens": 3, "token_delay": 0})
    assert config.tokens == 3 and config.token_delay == 0.0
    for bad in ({"tokens": 1.5}, {"token_delay": -1}, {"colour": 1}, {"tokens": 4, "load_delay": "x"}):
        with pytest.raises(ValueError):
            config.update(bad)
    assert config.tokens == 3
