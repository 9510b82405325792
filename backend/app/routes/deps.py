"""Request dependencies shared by the routes: the database connection and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.services.jobs import User


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """One transaction per request, committed when the route returns without error."""
    async with request.app.state.engine.begin() as conn:
        yield conn


def settings(request: Request) -> Settings:
    return request.app.state.settings


def current_user(x_aijobs_user: Annotated[str | None, Header()] = None) -> User:
    """Who is calling. Until token authentication lands (issue: HTTP API), the caller names itself
    in the `X-AIJobs-User` header; without it, requests act as the local user."""
    name = (x_aijobs_user or "local").strip() or "local"
    return User(id=name, username=name)


Conn = Annotated[AsyncConnection, Depends(connection)]
CurrentUser = Annotated[User, Depends(current_user)]
AppSettings = Annotated[Settings, Depends(settings)]
