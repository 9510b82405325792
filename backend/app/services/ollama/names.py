"""Ollama model names: `[host/][namespace/]model[:tag]` (see ollama-api.md, "Model names")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from app.errors import InvalidInput

PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}(:[0-9]{1,5})?$")


@dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def canonical(self) -> str:
        """`tinyllama` → `tinyllama:latest`; the default host and namespace are left out, as Ollama shows them."""
        prefix = "" if self.host == "registry.ollama.ai" else f"{self.host}/"
        namespace = "" if self.namespace == "library" and not prefix else f"{self.namespace}/"
        return f"{prefix}{namespace}{self.model}:{self.tag}".lower()


class InvalidModelName(ValueError):
    """The message names the rule that was broken."""


def parse(name: str) -> ModelName:
    if not name or name != name.strip():
        raise InvalidModelName("a model name cannot be empty or start/end with spaces")
    parts = name.split("/")
    if len(parts) > 3:
        raise InvalidModelName("at most host/namespace/model: more than two '/' in the name")
    last = parts[-1]
    model, sep, tag = last.partition(":")
    if sep and ":" in tag:
        raise InvalidModelName("':' may appear only once after the model, to separate the tag")
    host = parts[0] if len(parts) == 3 else "registry.ollama.ai"
    namespace = parts[-2] if len(parts) >= 2 else "library"
    if len(parts) == 3 and not HOST.match(host):
        raise InvalidModelName(f"host {host!r}: letters, digits, '_', '.', '-' and an optional :port")
    if len(parts) >= 2 and (not PART.match(namespace) or "." in namespace):
        raise InvalidModelName(
            f"namespace {namespace!r}: starts with a letter, digit or '_', then letters, digits, '_', '-'; no '.'"
        )
    for label, value in (("model", model), ("tag", tag if sep else "latest")):
        if not PART.match(value):
            raise InvalidModelName(
                f"{label} {value!r}: 1-80 characters, starting with a letter, digit or '_', then letters, digits, "
                "'_', '.', '-'"
            )
    return ModelName(host=host, namespace=namespace, model=model, tag=tag if sep else "latest")


def check(name: str) -> str:
    """A pydantic validator (`ValidModelName`): the name, or ValueError naming the broken rule."""
    try:
        parse(name)
    except InvalidModelName as error:
        raise ValueError(f"invalid model name: {error}") from error
    return name


ValidModelName = Annotated[str, AfterValidator(check)]


def require_valid(name: str, field: str) -> str:
    """For names outside a request body (a path, a setting): InvalidInput (422) naming the rule."""
    try:
        parse(name)
    except InvalidModelName as error:
        raise InvalidInput(f"Invalid model name {name!r}: {error}.", {"field": field, "rule": str(error)}) from error
    return name


def same_model(a: str, b: str) -> bool:
    """`tinyllama` and `tinyllama:latest` are the same model; lookup is case-insensitive."""
    try:
        return parse(a).canonical == parse(b).canonical
    except InvalidModelName:
        return a.lower() == b.lower()
