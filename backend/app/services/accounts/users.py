"""Users and the API keys aijobs issues (AUTH_MODE=apikey), and the first admin on a fresh install."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import Conflict, InvalidInput, NotFound
from app.services.accounts import sql

KEY_PREFIX = "aij_"
USERNAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
BOOTSTRAP_LOCK_ID = 7_341_002  # advisory lock: two replicas starting at once create one first admin


@dataclass(frozen=True)
class User:
    id: str
    username: str
    is_admin: bool = False
    gateway: bool = False  # signed in with a gateway's key: a request may name the person it is for
    daily_token_limit: int | None = None  # their own limit (else DAILY_TOKEN_LIMIT applies)


@dataclass(frozen=True)
class IssuedKey:
    user: User
    key: str  # shown once; only its hash is stored
    key_id: int
    prefix: str


@dataclass(frozen=True)
class KeyInfo:
    id: int
    user_id: str
    prefix: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    is_gateway: bool = False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def check_username(name: str) -> str:
    if not USERNAME_RULE.match(name):
        raise InvalidInput(
            f"Invalid user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter "
            "or digit.",
            {"field": "username"},
        )
    return name


async def create_user(
    conn: AsyncConnection, username: str, *, admin: bool = False, label: str | None = None
) -> IssuedKey:
    """A new user with a first key. A name that is taken is a 409: keys are added with `issue_key`."""
    check_username(username)
    row = (
        await conn.execute(
            text(sql.CREATE_USER),
            {"name": username, "admin": admin},
        )
    ).first()
    if row is None:
        raise Conflict(f"User {username!r} already exists; give them another key instead.", {"username": username})
    return await issue_key(conn, username, label=label)


async def get_user(conn: AsyncConnection, user_id: str) -> User | None:
    row = (await conn.execute(text(sql.GET_USER), {"id": user_id})).first()
    return User(id=row.id, username=row.username, is_admin=row.is_admin) if row else None


async def issue_key(conn: AsyncConnection, user_id: str, *, label: str | None = None) -> IssuedKey:
    user = await get_user(conn, user_id)
    if user is None:
        raise NotFound(f"No user {user_id!r}.", {"username": user_id})
    key = new_key()
    prefix = key[: len(KEY_PREFIX) + 6]
    key_id = (
        await conn.execute(
            text(sql.ISSUE_KEY),
            {"user_id": user_id, "hash": hash_key(key), "prefix": prefix, "label": label},
        )
    ).scalar_one()
    return IssuedKey(user=user, key=key, key_id=key_id, prefix=prefix)


async def user_for_key(conn: AsyncConnection, key: str) -> User | None:
    """The live key's user. When the key was last used is noted at most once a minute, to spare writes."""
    row = (
        await conn.execute(
            text(sql.USER_FOR_KEY),
            {"hash": hash_key(key)},
        )
    ).first()
    if row is None:
        return None
    if row.stale:
        await conn.execute(text(sql.TOUCH_KEY), {"id": row.key_id})
    return User(
        id=row.id,
        username=row.username,
        is_admin=row.is_admin,
        gateway=row.is_gateway,
        daily_token_limit=row.daily_token_limit,
    )


async def remember(conn: AsyncConnection, user: User) -> User:
    """Record a user first seen through a JWT or Firebase token or a gateway, so admins can list them
    (and give them a token limit); the user with their own limit."""
    limit = (
        await conn.execute(text(sql.REMEMBER_USER), {"id": user.id, "username": user.username, "admin": user.is_admin})
    ).scalar_one()
    return dataclasses.replace(user, daily_token_limit=limit)


async def list_users(conn: AsyncConnection) -> list[dict]:
    rows = await conn.execute(text(sql.LIST_USERS))
    return [dict(row._mapping) for row in rows]


async def list_keys(conn: AsyncConnection, user_id: str | None = None) -> list[KeyInfo]:
    rows = await conn.execute(
        text(sql.LIST_KEYS),
        {"user_id": user_id},
    )
    return [KeyInfo(**row._mapping) for row in rows]


async def revoke_key(conn: AsyncConnection, key_id: int) -> bool:
    result = await conn.execute(text(sql.REVOKE_KEY), {"id": key_id})
    return result.rowcount == 1  # type: ignore[attr-defined]


async def mark_gateway(conn: AsyncConnection, key_id: int, gateway: bool) -> KeyInfo:
    """Make a live key a gateway's (its requests may name the person they are for), or no longer."""
    row = (await conn.execute(text(sql.MARK_GATEWAY), {"id": key_id, "gateway": gateway})).first()
    if row is None:
        raise NotFound(f"No active key {key_id}.", {"key_id": key_id})
    return KeyInfo(**row._mapping)


async def set_daily_token_limit(conn: AsyncConnection, user_id: str, limit: int | None) -> None:
    """A user's own daily token limit; None: DAILY_TOKEN_LIMIT applies (or none)."""
    if (await conn.execute(text(sql.SET_DAILY_TOKEN_LIMIT), {"id": user_id, "limit": limit})).first() is None:
        raise NotFound(f"No user {user_id!r}.", {"username": user_id})


async def bootstrap_admin(conn: AsyncConnection, username: str = "admin") -> IssuedKey | None:
    """On a fresh install (no users at all), create an admin and return its key, to be printed once."""
    await conn.execute(text(sql.BOOTSTRAP_LOCK), {"id": BOOTSTRAP_LOCK_ID})
    if (await conn.execute(text(sql.ANY_USER))).scalar():
        return None
    return await create_user(conn, username, admin=True, label="created at first start")
