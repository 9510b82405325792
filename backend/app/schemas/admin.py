"""Bodies of the admin endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CreateUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, description="Letters, digits, `.`, `_`, `@`, `-`.")
    admin: bool = False
    label: str | None = Field(default=None, max_length=200, description="A note to tell the key apart.")


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=200)


class IssuedKeyView(BaseModel):
    username: str
    is_admin: bool
    key_id: int
    key: str = Field(description="Shown only in this answer; only its hash is stored.")
    prefix: str


class GatewayFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gateway: bool = Field(description="true: requests with this key may name the person they are for.")


class TokenLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_token_limit: int | None = Field(ge=1, description="Tokens per UTC day; null: DAILY_TOKEN_LIMIT applies.")


class UserView(BaseModel):
    id: str
    username: str
    is_admin: bool
    daily_token_limit: int | None = None
    created_at: datetime
    active_keys: int
    last_seen: datetime | None


class Me(BaseModel):
    id: str
    username: str
    is_admin: bool


class CleanupResult(BaseModel):
    deleted: int
    older_than_days: float
