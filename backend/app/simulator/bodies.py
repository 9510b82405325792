"""Request bodies decoded with Ollama's strictness: bad JSON or a field of the wrong type is a 400
whose message reads like Go's `encoding/json` error."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from app.simulator.durations import DurationError, parse_keep_alive
from app.simulator.responses import ApiError

_JSON_KIND = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}
INVALID_FORMAT = 'invalid format: expected "json" or a valid JSON schema'


def _kind(value: Any) -> str:
    return _JSON_KIND.get(type(value), "value")


class Body:
    """A decoded JSON object with typed accessors; a missing or null field gives the default."""

    def __init__(self, data: dict[str, Any], go_type: str) -> None:
        self.data = data
        self.go_type = go_type

    def _get(self, key: str, types: tuple[type, ...], go_type: str) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            where = f"Go struct field {self.go_type}.{key} of type {go_type}"
            raise ApiError(400, f"json: cannot unmarshal {_kind(value)} into {where}")
        return value

    def str(self, key: str, default: str = "") -> str:
        value = self._get(key, (str,), "string")
        return default if value is None else value

    def bool(self, key: str, default: bool) -> bool:
        value = self._get(key, (bool,), "bool")
        return default if value is None else value

    def dict(self, key: str) -> dict[str, Any]:
        return self._get(key, (dict,), "map[string]interface {}") or {}

    def list(self, key: str) -> list[Any] | None:
        return self._get(key, (list,), "[]")

    def string_map(self, key: str) -> dict[str, str]:
        value = self.dict(key)
        if not all(isinstance(item, str) for item in value.values()):
            raise ApiError(400, f"json: cannot unmarshal into Go struct field {self.go_type}.{key} of type string")
        return value

    def model(self) -> str:
        """`model`, or the older `name` that Ollama still accepts on management endpoints."""
        return self.str("model") or self.str("name")

    def keep_alive(self) -> float | None:
        try:
            return parse_keep_alive(self.data.get("keep_alive"))
        except DurationError as error:
            raise ApiError(400, str(error)) from None

    def format(self) -> str | dict[str, Any] | None:
        value = self.data.get("format")
        if value in (None, ""):
            return None
        if value == "json" or isinstance(value, dict):
            return value
        raise ApiError(400, INVALID_FORMAT)


async def read_body(request: Request, go_type: str, *, empty_ok: bool = False) -> Body:
    """The request's JSON object. An empty body is 400 `missing request body` unless `empty_ok`
    (generate treats it as `{}` and then fails on the empty model name instead)."""
    raw = await request.body()
    if not raw.strip():
        if empty_ok:
            return Body({}, go_type)
        raise ApiError(400, "missing request body")
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise ApiError(400, f"invalid character in request body: {error}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"json: cannot unmarshal {_kind(data)} into Go value of type api.{go_type}")
    return Body(data, go_type)


def int_option(options: dict[str, Any], key: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f'option "{key}" must be of type integer')
    return int(value)


def stop_option(options: dict[str, Any]) -> list[str]:
    value = options.get("stop")
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ApiError(400, 'option "stop" must be of type array of strings')
    return [item for item in items if item]
