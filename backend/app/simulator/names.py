"""Ollama model names, parsed and checked the way Ollama's `types/model.ParseName` does.

A name is `[host/][namespace/]model[:tag]` with defaults `registry.ollama.ai`, `library` and
`latest`. Lookup is case-insensitive, so a name's identity is its full lower-cased form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

# Ollama fills a part that a separator promised but that is empty ("tinyllama:") with a marker
# that can never be valid, so such names are rejected instead of silently defaulted.
_MISSING = "!MISSING!"

# Ollama checks bytes, not Unicode letters: only ASCII letters and digits count.
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,349}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,79}")
_MODEL_OR_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}")


@dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def key(self) -> str:
        """The case-insensitive identity: `tinyllama` and `TinyLlama:latest` share it."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}".lower()

    @property
    def display(self) -> str:
        """The shortest form Ollama shows in /api/tags and /api/ps (`tinyllama:latest`)."""
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"


def _cut_last(text: str, sep: str) -> tuple[str, str, bool]:
    index = text.rfind(sep)
    if index < 0:
        return text, "", False
    return text[:index] or _MISSING, text[index + len(sep) :] or _MISSING, True


def _split(raw: str) -> tuple[str, str, str, str]:
    """(host, namespace, model, tag), empty where the name left a part out."""
    rest, tag = raw, ""
    if rest.rfind(":") > rest.rfind("/"):  # "/" cannot be in a tag, so a later ":" is a host's port
        rest, tag, _ = _cut_last(rest, ":")
    rest, model, promised = _cut_last(rest, "/")
    if not promised:
        return "", "", rest, tag
    rest, namespace, promised = _cut_last(rest, "/")
    if not promised:
        return "", rest, model, tag
    host = rest.split("://", 1)[-1]  # a scheme (https://) is accepted and dropped
    return host, namespace, model, tag


def parse_name(raw: str) -> ModelName | None:
    """The parsed name, or None if Ollama would call it an invalid model name."""
    host, namespace, model, tag = _split(raw)
    name = ModelName(host or DEFAULT_HOST, namespace or DEFAULT_NAMESPACE, model, tag or DEFAULT_TAG)
    valid = (
        _HOST.fullmatch(name.host)
        and _NAMESPACE.fullmatch(name.namespace)
        and _MODEL_OR_TAG.fullmatch(name.model)
        and _MODEL_OR_TAG.fullmatch(name.tag)
    )
    return name if valid else None


def go_quote(text: str) -> str:
    """Go's %q, which Ollama's error messages use around names (close enough: JSON's quoting)."""
    return json.dumps(text, ensure_ascii=False)
