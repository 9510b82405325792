"""Pure rules behind the newer simulator features, without a server: sizes, Go's base64 errors,
tool-call arguments, thinking within num_predict, and the GPU-host settings."""

from __future__ import annotations

import base64

import pytest

from app.simulator import text
from app.simulator.media import base64_error_offset
from app.simulator.plans import make_plan, with_thinking
from app.simulator.sizes import human_bytes2, parse_bytes
from app.simulator.state import SimConfig

GIB = 1024**3


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1024, 1024),
        ("1024", 1024),
        ("8GiB", 8 * GIB),
        ("1.5 gib", int(1.5 * GIB)),
        ("2GB", 2 * 10**9),
        ("512MiB", 2**29),
    ],
)
def test_sizes_in_bytes_or_with_a_unit(value: object, size: int) -> None:
    assert parse_bytes(value) == size


@pytest.mark.parametrize("value", ["", "lots", "8XB", "-1GiB", 0, True, None, [1]])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_bytes(value)


@pytest.mark.parametrize(
    ("size", "shown"),
    [(40 * GIB, "40.0 GiB"), (12 * GIB, "12.0 GiB"), (3 * 2**29, "1.5 GiB"), (2**20, "1.0 MiB"), (5, "5 B")],
)
def test_sizes_are_shown_like_gos_humanbytes2(size: int, shown: str) -> None:
    assert human_bytes2(size) == shown


def test_valid_base64_is_accepted_as_go_accepts_it() -> None:
    for raw in (b"", b"a", b"ab", b"abc", b"\x89PNG\r\n"):
        encoded = base64.b64encode(raw).decode()
        assert base64_error_offset(encoded) is None
        assert base64_error_offset(encoded[:2] + "\n" + encoded[2:]) is None  # Go skips newlines


def test_tool_arguments_fill_the_required_parameters_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "when": {"$ref": "#/$defs/day"},
        },
        "required": ["city", "when"],
        "$defs": {"day": {"type": "integer", "minimum": 1, "maximum": 7}},
    }
    arguments = text.tool_arguments(schema, "weather in Paris")
    assert set(arguments) == {"city", "when"} and isinstance(arguments["city"], str) and 1 <= arguments["when"] <= 7
    assert text.tool_arguments(schema, "weather in Paris") == arguments
    assert text.tool_arguments(None, "x") == {} and text.tool_arguments({"type": "object"}, "x") == {}


def test_a_tool_result_is_repeated_word_for_word() -> None:
    tokens = text.tool_result_reply("18 degrees,  sunny", 6)
    assert "".join(tokens).startswith("18 degrees,  sunny") and len(tokens) == 6
    assert len(text.tool_result_reply("one two three four five six seven", 3)) == 7  # never cut short


def test_thinking_counts_against_num_predict() -> None:
    plan = with_thinking(make_plan("hi", None, {"num_predict": 4}, 6, 1), "hi", {"num_predict": 4}, 6)
    assert len(plan.thinking) + len(plan.tokens) == 4 and plan.done_reason == "length"
    free = with_thinking(make_plan("hi", None, {}, 6, 1), "hi", {}, 6)
    assert len(free.thinking) == 3 and len(free.tokens) == 6 and free.done_reason == "stop"


def test_gpu_host_settings_are_checked_and_all_or_nothing() -> None:
    config = SimConfig()
    config.update({"vram": "8GiB", "model_sizes": {"TinyLlama": "2GiB"}, "model_load_ms": {"tinyllama": 300}})
    config.update({"load_ms": 250})
    assert config.vram == 8 * GIB and config.load_delay == 0.25 and config.as_dict()["load_ms"] == 250
    host = config.footprint()
    assert host.sizes == {"registry.ollama.ai/library/tinyllama:latest": 2 * GIB}
    assert host.load_seconds == {"registry.ollama.ai/library/tinyllama:latest": 0.3}
    for bad in ({"vram": "x"}, {"model_sizes": {"bad name!": 1}}, {"load_ms": 1, "load_delay": 1}, {"vram": 1, "x": 2}):
        with pytest.raises(ValueError):
            config.update(bad)
    assert config.vram == 8 * GIB and config.load_delay == 0.25
    config.update({"vram": None})
    assert config.vram is None
