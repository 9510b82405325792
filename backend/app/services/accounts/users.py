"""Users and the API keys aijobs issues (AUTH_MODE=apikey), and the first admin on a fresh install."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import Conflict, InvalidInput, NotFound

KEY_PREFIX = "aij_"
USERNAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
BOOTSTRAP_LOCK_ID = 7_341_002  # advisory lock: two replicas starting at once create one first admin


@dataclass(frozen=True)
class User:
    id: str
    username: str
    is_admin: bool = False


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
            text(
                "INSERT INTO users (id, username, is_admin) VALUES (:name, :name, :admin) "
                "ON CONFLICT (id) DO NOTHING RETURNING id"
            ),
            {"name": username, "admin": admin},
        )
    ).first()
    if row is None:
        raise Conflict(f"User {username!r} already exists; give them another key instead.", {"username": username})
    return await issue_key(conn, username, label=label)


async def get_user(conn: AsyncConnection, user_id: str) -> User | None:
    row = (await conn.execute(text("SELECT id, username, is_admin FROM users WHERE id = :id"), {"id": user_id})).first()
    return User(id=row.id, username=row.username, is_admin=row.is_admin) if row else None


async def issue_key(conn: AsyncConnection, user_id: str, *, label: str | None = None) -> IssuedKey:
    user = await get_user(conn, user_id)
    if user is None:
        raise NotFound(f"No user {user_id!r}.", {"username": user_id})
    key = new_key()
    prefix = key[: len(KEY_PREFIX) + 6]
    key_id = (
        await conn.execute(
            text(
                "INSERT INTO api_keys (user_id, key_hash, prefix, label) VALUES (:user_id, :hash, :prefix, :label) "
                "RETURNING id"
            ),
            {"user_id": user_id, "hash": hash_key(key), "prefix": prefix, "label": label},
        )
    ).scalar_one()
    return IssuedKey(user=user, key=key, key_id=key_id, prefix=prefix)


async def user_for_key(conn: AsyncConnection, key: str) -> User | None:
    """The live key's user. When the key was last used is noted at most once a minute, to spare writes."""
    row = (
        await conn.execute(
            text(
                "SELECT u.id, u.username, u.is_admin, k.id AS key_id, "
                "       (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS stale "
                "FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = :hash AND k.revoked_at IS NULL"
            ),
            {"hash": hash_key(key)},
        )
    ).first()
    if row is None:
        return None
    if row.stale:
        await conn.execute(text("UPDATE api_keys SET last_used_at = now() WHERE id = :id"), {"id": row.key_id})
    return User(id=row.id, username=row.username, is_admin=row.is_admin)


async def remember(conn: AsyncConnection, user: User) -> None:
    """Record a user first seen through a JWT or Firebase token, so admins can list them."""
    await conn.execute(
        text(
            "INSERT INTO users (id, username, is_admin) VALUES (:id, :username, :admin) "
            "ON CONFLICT (id) DO UPDATE SET username = excluded.username, is_admin = excluded.is_admin "
            "WHERE users.username IS DISTINCT FROM excluded.username OR users.is_admin <> excluded.is_admin"
        ),
        {"id": user.id, "username": user.username, "admin": user.is_admin},
    )


async def list_users(conn: AsyncConnection) -> list[dict]:
    rows = await conn.execute(
        text(
            "SELECT u.id, u.username, u.is_admin, u.created_at, "
            "       count(k.id) FILTER (WHERE k.revoked_at IS NULL) AS active_keys, max(k.last_used_at) AS last_seen "
            "FROM users u LEFT JOIN api_keys k ON k.user_id = u.id GROUP BY u.id ORDER BY u.created_at"
        )
    )
    return [dict(row._mapping) for row in rows]


async def list_keys(conn: AsyncConnection, user_id: str | None = None) -> list[KeyInfo]:
    rows = await conn.execute(
        text(
            "SELECT id, user_id, prefix, label, created_at, last_used_at, revoked_at FROM api_keys "
            "WHERE CAST(:user_id AS text) IS NULL OR user_id = :user_id ORDER BY id"
        ),
        {"user_id": user_id},
    )
    return [KeyInfo(**row._mapping) for row in rows]


async def revoke_key(conn: AsyncConnection, key_id: int) -> bool:
    result = await conn.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL"), {"id": key_id}
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def bootstrap_admin(conn: AsyncConnection, username: str = "admin") -> IssuedKey | None:
    """On a fresh install (no users at all), create an admin and return its key, to be printed once."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": BOOTSTRAP_LOCK_ID})
    if (await conn.execute(text("SELECT EXISTS (SELECT 1 FROM users)"))).scalar():
        return None
    return await create_user(conn, username, admin=True, label="created at first start")
