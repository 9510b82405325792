"""Model names checked at the service's edge: Ollama's rule (`app.model_names`), with errors that name the
broken part, for request fields (`ValidModelName`), paths and settings (`require_valid`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from app.errors import InvalidInput
from app.model_names import RULES, ModelName, broken_part, split


class InvalidModelName(ValueError):
    """The message names the rule that was broken."""


def parse(name: str) -> ModelName:
    """The name's parts (Ollama's own rule, `app.model_names`), or InvalidModelName naming the broken one."""
    if not name or name != name.strip():
        raise InvalidModelName("a model name cannot be empty or start/end with spaces")
    # Two common slips, named plainly (Ollama's rule refuses them too, in terms of the parts it splits).
    if name.count("/") > 2:
        raise InvalidModelName("at most host/namespace/model: more than two '/' in the name")
    if name.rsplit("/", 1)[-1].count(":") > 1:
        raise InvalidModelName("':' may appear only once after the model, to separate the tag")
    parts = split(name)
    broken = broken_part(parts)
    if broken is not None:
        raise InvalidModelName(f"{broken} {getattr(parts, broken)!r}: {RULES[broken]}")
    return parts


def canonical(name: ModelName) -> str:
    """`tinyllama` → `tinyllama:latest`, as Ollama shows it (lower-cased: lookup ignores case)."""
    return name.display.lower()


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
        return parse(a).key == parse(b).key
    except InvalidModelName:
        return a.lower() == b.lower()
