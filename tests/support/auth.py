"""Users and bearer tokens for tests: real rows, real keys, as `aijobs users create` makes them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.accounts import users
from app.services.accounts.users import User


async def create_user(engine: AsyncEngine, username: str, *, admin: bool = False) -> tuple[User, str]:
    async with engine.begin() as conn:
        issued = await users.create_user(conn, username, admin=admin)
    return issued.user, issued.key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
