"""Deterministic stand-ins for a model's output: reply tokens, JSON for `format`, embeddings.

Everything here depends only on its inputs, so tests can compute the text the simulator will send
(`reply_tokens(prompt, n)`) and assert on it exactly.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
from collections.abc import Iterator
from typing import Any

VOCABULARY = (
    "the model answers that light scatters across a quiet sky while small clouds drift over "
    "green hills and rivers carry cold water toward the sea where bright waves meet warm sand "
    "under a calm evening sun so every question finds a simple clear reply"
).split()

_TOKEN = re.compile(r"\w+|[^\w\s]")


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()


def words(seed_text: str, seed: int | None = None) -> Iterator[str]:
    """An endless, deterministic stream of vocabulary words chosen by the seed text."""
    for index in itertools.count():
        yield VOCABULARY[int.from_bytes(_digest(seed_text, seed, index)[:4], "big") % len(VOCABULARY)]


def reply_tokens(seed_text: str, count: int, seed: int | None = None) -> list[str]:
    """The first `count` tokens of the reply to `seed_text`: "Word", " word", " word", …

    A shorter reply is always a prefix of a longer one, so `num_predict` simply cuts it.
    """
    chosen = list(itertools.islice(words(seed_text, seed), count))
    return [word.capitalize() if index == 0 else f" {word}" for index, word in enumerate(chosen)]


def count_tokens(text: str) -> int:
    """A rough token count (words and punctuation) for prompt_eval_count."""
    return len(_TOKEN.findall(text))


def token_ids(text: str) -> list[int]:
    """Stable fake token ids for a text, for the `context` array."""
    return [int.from_bytes(_digest(token)[:2], "big") % 32000 for token in _TOKEN.findall(text)]


def split_pieces(text: str, count: int) -> list[str]:
    """`text` cut into at most `count` consecutive pieces (tokens), none empty."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / max(count, 1)))
    return [text[start : start + size] for start in range(0, len(text), size)]


# --- embeddings ------------------------------------------------------------------------------


def _word_vector(word: str, dims: int) -> list[float]:
    rng = random.Random(_digest("embedding", word))
    return [rng.gauss(0.0, 1.0) for _ in range(dims)]


def normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def embedding(text: str, dims: int) -> list[float]:
    """A unit vector for `text`: the sum of one random vector per word, so texts that share words
    come out similar (useful for retrieval tests), and the same text always gives the same vector."""
    tokens = [token.lower() for token in _TOKEN.findall(text)] or [text]
    total = [0.0] * dims
    for token in tokens:
        for index, value in enumerate(_word_vector(token, dims)):
            total[index] += value
    return normalize(total)


# --- JSON for `format` -----------------------------------------------------------------------

_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}
_MAX_DEPTH = 12


class _SchemaFiller:
    """Builds a small instance of a JSON Schema: every declared property, one array item, the first
    enum value, numbers inside their bounds. Enough for what Pydantic and hand-written schemas use."""

    def __init__(self, root: dict[str, Any], vocabulary: Iterator[str]) -> None:
        self.root = root
        self.vocabulary = vocabulary
        # A coherent answer refers to what it defined: `id` values are unique, and string properties
        # named `source`/`target` (a graph's edges) name ids generated earlier in the same reply.
        self.ids: list[str] = []

    def value(self, schema: Any, depth: int = 0) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        if "$ref" in schema:
            return self.value(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return self.value(_prefer_non_null(schema[key]), depth + 1)
        if schema.get("allOf"):
            return self.value(_merge_all_of(schema), depth + 1)
        builder = getattr(self, f"_{_type_of(schema)}", self._string)
        return builder(schema, depth)

    def _resolve(self, ref: str) -> Any:
        node: Any = self.root
        for part in ref.removeprefix("#").strip("/").split("/"):
            if not part:
                continue
            key = part.replace("~1", "/").replace("~0", "~")
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return node

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        result = {name: self._property(name, sub, depth) for name, sub in properties.items()}
        for name in schema.get("required") or []:
            result.setdefault(name, self._word())
        return result

    def _property(self, name: str, schema: Any, depth: int) -> Any:
        is_string = isinstance(schema, dict) and _type_of(schema) == "string" and "enum" not in schema
        if is_string and name in ("source", "target") and self.ids:
            return self.ids[0] if name == "source" else self.ids[-1]
        value = self.value(schema, depth + 1)
        if is_string and name == "id" and isinstance(value, str):
            while value in self.ids:
                value = f"{value}-{len(self.ids) + 1}"
            self.ids.append(value)
        return value

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        if isinstance(schema.get("prefixItems"), list):
            return [self.value(sub, depth + 1) for sub in schema["prefixItems"]]
        count = max(int(schema.get("minItems", 0)), 1)
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        return [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]

    def _string(self, schema: dict[str, Any], _depth: int) -> str:
        text = _STRING_FORMATS.get(schema.get("format", ""), self._word())
        while len(text) < int(schema.get("minLength", 0)):
            text += f" {self._word()}"
        return text[: schema["maxLength"]] if "maxLength" in schema else text

    def _integer(self, schema: dict[str, Any], _depth: int) -> int:
        return int(_bounded(schema, 1.0, step=1.0))

    def _number(self, schema: dict[str, Any], _depth: int) -> float:
        return float(_bounded(schema, 0.5, step=0.5))

    def _boolean(self, _schema: dict[str, Any], _depth: int) -> bool:
        return True

    def _null(self, _schema: dict[str, Any], _depth: int) -> None:
        return None

    def _word(self) -> str:
        return next(self.vocabulary)


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), kind[0] if kind else None)
    if kind:
        return str(kind)
    if "properties" in schema or "required" in schema:
        return "object"
    return "array" if "items" in schema or "prefixItems" in schema else "string"


def _prefer_non_null(options: list[Any]) -> Any:
    return next((option for option in options if isinstance(option, dict) and option.get("type") != "null"), options[0])


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for part in schema["allOf"]:
        if isinstance(part, dict):
            merged.setdefault("properties", {}).update(part.get("properties") or {})
            merged["required"] = [*merged.get("required", []), *(part.get("required") or [])]
            merged.update({key: value for key, value in part.items() if key not in ("properties", "required")})
    return merged


def _bounded(schema: dict[str, Any], default: float, step: float) -> float:
    """`default` moved inside minimum/maximum and the exclusive bounds (draft 6+ numeric form)."""
    value = default
    if isinstance(schema.get("minimum"), int | float):
        value = max(value, schema["minimum"])
    if isinstance(schema.get("exclusiveMinimum"), int | float) and value <= schema["exclusiveMinimum"]:
        value = math.floor(schema["exclusiveMinimum"] / step) * step + step
    if isinstance(schema.get("maximum"), int | float):
        value = min(value, schema["maximum"])
    if isinstance(schema.get("exclusiveMaximum"), int | float) and value >= schema["exclusiveMaximum"]:
        value = math.ceil(schema["exclusiveMaximum"] / step) * step - step
    if step == 1.0:
        value = math.ceil(value)
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int) and multiple > 0:
            value = math.ceil(value / multiple) * multiple
    return value


def json_reply(format_spec: str | dict[str, Any], seed_text: str, seed: int | None = None) -> str:
    """The JSON text a model constrained by `format` would write: a schema instance, or for
    `"json"` a small object with the reply in it."""
    vocabulary = words(seed_text, seed)
    if isinstance(format_spec, dict):
        value = _SchemaFiller(format_spec, vocabulary).value(format_spec)
    else:
        value = {"response": " ".join(itertools.islice(vocabulary, 6))}
    return json.dumps(value, ensure_ascii=False)


# --- thinking and tools ----------------------------------------------------------------------


def thinking_tokens(seed_text: str, count: int, seed: int | None = None) -> list[str]:
    """The reasoning a thinking model writes before its answer: half as many tokens as the answer
    (at least one), different words from the answer's."""
    return reply_tokens(f"thinking about: {seed_text}", max(1, count // 2), seed)


def tool_arguments(parameters: Any, seed_text: str, seed: int | None = None) -> dict[str, Any]:
    """Arguments for a tool call: a value for every *required* parameter of the tool's JSON Schema
    (an enum's first value, numbers inside their bounds, strings from the vocabulary)."""
    if not isinstance(parameters, dict):
        return {}
    properties = parameters.get("properties") or {}
    required = [name for name in parameters.get("required") or [] if isinstance(name, str)]
    schema = {**parameters, "type": "object", "properties": {name: properties.get(name, {}) for name in required}}
    value = _SchemaFiller(parameters, words(seed_text, seed)).value(schema)
    return value if isinstance(value, dict) else {}


def tool_result_reply(result: str, count: int, seed: int | None = None) -> list[str]:
    """The answer after a tool ran: the tool's result word for word, then `count` less as many more
    tokens (none if the result alone is that long), so a test can find the result in the answer."""
    mention = re.findall(r"\s*\S+", result.strip())
    rest = reply_tokens(result, max(count - len(mention), 0), seed)
    if mention and rest:
        rest[0] = f" {rest[0].lower()}"
    return mention + rest
