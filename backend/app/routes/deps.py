"""Request dependencies shared by the routes: the database connection and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.config import Settings
from app.errors import Forbidden, Unauthorized
from app.services.accounts.auth import Authenticator, AuthError
from app.services.accounts.users import User

bearer_scheme = HTTPBearer(auto_error=False, description="An aijobs API key, or a JWT / Firebase ID token.")


async def settings(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a thread hop on every request
    return request.app.state.settings


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> User:
    """The caller, from `Authorization: Bearer <token>`; 401 with `WWW-Authenticate` otherwise. With a
    gateway's key, the person the request names (see services/accounts/gateway.py)."""
    authenticator: Authenticator = request.app.state.authenticator
    try:
        caller = await authenticator.authenticate(credentials.credentials if credentials else None)
    except AuthError as error:
        raise Unauthorized(str(error)) from error
    return await authenticator.as_person(caller, request.headers)


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("This needs an admin.", {"username": user.username})
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
AppSettings = Annotated[Settings, Depends(settings)]
