"""`images` as Ollama decodes them: each a base64 string (Go's `[]byte` in JSON, standard alphabet,
padding required, newlines ignored). A bad one is a 400 carrying Go's own message."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from app.simulator.responses import ApiError

_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_SKIPPED = frozenset(b"\r\n")  # Go's decoder drops these wherever they are
IMAGE_TOKENS = 256  # prompt tokens an image adds on a vision model (gemma3's count per image)


def base64_error_offset(text: str) -> int | None:
    """Where Go's `base64.StdEncoding` gives up on `text` (its CorruptInputError), or None if valid."""
    data = text.encode()
    symbols = [(index, byte) for index, byte in enumerate(data) if byte not in _SKIPPED]
    for position, (index, byte) in enumerate(symbols):
        slot = position % 4
        if byte == ord("="):
            return _padding_error(symbols, position, slot, len(data))
        if byte not in _ALPHABET:
            return index
    if len(symbols) % 4:  # the last group is short and unpadded: Go reports the length less that group
        return len(data) - len(symbols) % 4
    return None


def _padding_error(symbols: list[tuple[int, int]], position: int, slot: int, length: int) -> int | None:
    """Padding may only fill the last one or two places of the final group of four."""
    index = symbols[position][0]
    if slot < 2:
        return index
    rest = symbols[position + 1 :]
    if slot == 2:
        if not rest:
            return length
        if rest[0][1] != ord("="):
            return rest[0][0] - 1
        rest = rest[1:]
    return rest[0][0] if rest else None


def decode_images(value: Any, field: str) -> list[bytes]:
    """The decoded images of a request (`field` names it in a type error), or the 400 Ollama sends."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(
            400, f"json: cannot unmarshal {_kind(value)} into Go struct field {field} of type []api.ImageData"
        )
    images = []
    for item in value:
        if not isinstance(item, str):
            where = f"Go struct field {field} of type api.ImageData"
            raise ApiError(400, f"json: cannot unmarshal {_kind(item)} into {where}")
        offset = base64_error_offset(item)
        if offset is not None:
            raise ApiError(400, f"illegal base64 data at input byte {offset}")
        images.append(base64.b64decode(item.replace("\r", "").replace("\n", "")))
    return images


def image_marks(images: list[bytes]) -> str:
    """What a vision model "sees": a short digest per image, mixed into the seed of its reply so
    that a different picture gives a different answer."""
    return "".join(f"\n[img {hashlib.sha256(image).hexdigest()[:12]}]" for image in images)


def _kind(value: Any) -> str:
    kinds = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), "value")
