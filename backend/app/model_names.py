"""Ollama model names, parsed the way Ollama's `types/model.ParseName` does: one rule for the service
(which checks names at submission) and the Ollama stand-in (which must behave like Ollama).

A name is `[host/][namespace/]model[:tag]` with defaults `registry.ollama.ai`, `library` and `latest`.
Lookup is case-insensitive, so a name's identity is its full lower-cased form.
"""

from __future__ import annotations

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

# What each part may be, in words, for an error message that names the broken rule.
RULES = {
    "host": "letters, digits, '_', '.', '-' and an optional :port",
    "namespace": "starts with a letter, digit or '_', then letters, digits, '_', '-'; no '.'",
    "model": "1-80 characters, starting with a letter, digit or '_', then letters, digits, '_', '.', '-'",
    "tag": "1-80 characters, starting with a letter, digit or '_', then letters, digits, '_', '.', '-'",
}


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


def split(raw: str) -> ModelName:
    """The name's parts, defaults filled in, whether or not they are valid."""
    host, namespace, model, tag = _split(raw)
    return ModelName(host or DEFAULT_HOST, namespace or DEFAULT_NAMESPACE, model, tag or DEFAULT_TAG)


def broken_part(name: ModelName) -> str | None:
    """The first part that breaks Ollama's rules ("host", "namespace", "model" or "tag"), or None."""
    for part, rule in (
        ("host", _HOST),
        ("namespace", _NAMESPACE),
        ("model", _MODEL_OR_TAG),
        ("tag", _MODEL_OR_TAG),
    ):
        if not rule.fullmatch(getattr(name, part)):
            return part
    return None


def parse_name(raw: str) -> ModelName | None:
    """The parsed name, or None if Ollama would call it an invalid model name."""
    name = split(raw)
    return name if broken_part(name) is None else None
