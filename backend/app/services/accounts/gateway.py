"""People behind a gateway. Open WebUI (or any gateway) talks to aijobs with one key, so without help
everyone behind it would be one aijobs user: one share of the GPU, one quota, one name in the lock.
An admin marks such a key as a gateway's; a request made with it may then name the person it is for,
in Open WebUI's forwarded-user headers (ENABLE_FORWARD_USER_INFO_HEADERS) or in `X-AIJobs-User`, and
that person becomes the job's user: fairness, quotas, the lock ("started by alice via open-webui"),
stats. People are kept apart per gateway (`<gateway user>:<person>`), so a gateway can speak only for
its own people, never as another aijobs user; and any other key's such headers are ignored."""

from __future__ import annotations

from collections.abc import Mapping

from app.errors import InvalidInput
from app.services.accounts.users import User

GENERIC_HEADER = "x-aijobs-user"
OPEN_WEBUI_ID = "x-openwebui-user-id"
OPEN_WEBUI_NAME = "x-openwebui-user-name"
OPEN_WEBUI_EMAIL = "x-openwebui-user-email"
MAX_LENGTH = 128


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_LENGTH or not value.isprintable():
        raise InvalidInput(
            f"Header {name}: name a person in at most {MAX_LENGTH} printable characters.", {"field": name}
        )
    return value


def person(caller: User, headers: Mapping[str, str]) -> User:
    """The user a request counts as: the person a gateway's request names, else the caller."""
    if not caller.gateway:
        return caller
    generic = _header(headers, GENERIC_HEADER)
    key = generic or _header(headers, OPEN_WEBUI_ID) or _header(headers, OPEN_WEBUI_EMAIL)
    if key is None:
        return caller  # the gateway itself (a health check, a model list)
    name = generic or _header(headers, OPEN_WEBUI_NAME) or _header(headers, OPEN_WEBUI_EMAIL) or key
    return User(id=f"{caller.id}:{key}", username=f"{name} via {caller.username}")
