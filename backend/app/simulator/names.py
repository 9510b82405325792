"""Ollama model names for the stand-in: the one parser the service uses too (`app.model_names`),
and Go's quoting of names in Ollama's error messages."""

from __future__ import annotations

import json

from app.model_names import DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG, ModelName, parse_name

__all__ = ["DEFAULT_HOST", "DEFAULT_NAMESPACE", "DEFAULT_TAG", "ModelName", "go_quote", "parse_name"]


def go_quote(text: str) -> str:
    """Go's %q, which Ollama's error messages use around names (close enough: JSON's quoting)."""
    return json.dumps(text, ensure_ascii=False)
