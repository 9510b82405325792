"""Who is calling: a bearer token turned into a `User`, in the mode AUTH_MODE names.

- apikey: keys aijobs issued (`aijobs users create NAME`), looked up by their SHA-256.
- jwt: HS256 with JWT_SECRET, or RS256 with the keys at JWT_JWKS_URL; `sub` is the user id.
- firebase: Firebase ID tokens (RS256) checked against Google's keys, audience = project id,
  issuer = https://securetoken.google.com/<project id>.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.services.accounts import users
from app.services.accounts.users import User

JWKS_CACHE_SECONDS = 3600.0


class AuthError(Exception):
    """The token is missing, malformed, expired or unknown; the message says which."""


class JwksCache:
    """Public keys fetched over HTTPS, kept for an hour, refetched early when a token names an unknown key."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> Any:
        if kid not in self._keys or time.monotonic() - self._fetched_at > JWKS_CACHE_SECONDS:
            await self._refresh()
        if kid not in self._keys:
            raise AuthError("The token was signed with a key this service does not know.")
        return self._keys[kid]

    async def _refresh(self) -> None:
        async with self._lock:
            try:
                async with httpx.AsyncClient(timeout=10) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                keyset = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
                raise AuthError(f"Could not fetch the token signing keys from {self.url}: {error}") from error
            self._keys = {key.key_id: key.key for key in keyset.keys}
            self._fetched_at = time.monotonic()


class Authenticator:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.admins = set(settings.admin_users)
        url = settings.firebase_jwks_url if settings.auth_mode == "firebase" else settings.jwt_jwks_url
        self.jwks = JwksCache(url) if url else None

    async def authenticate(self, token: str | None) -> User:
        if not token:
            raise AuthError("Missing bearer token: send `Authorization: Bearer <your key>`.")
        if self.settings.auth_mode == "apikey":
            async with self.engine.begin() as conn:
                user = await users.user_for_key(conn, token)
            if user is None:
                raise AuthError("Unknown or revoked API key.")
            return self._with_admin_list(user)
        claims = await self._verify_jwt(token)
        user = self._with_admin_list(
            User(
                id=str(claims["sub"]),
                username=str(
                    claims.get("preferred_username") or claims.get("name") or claims.get("email") or claims["sub"]
                ),
                is_admin=_claims_admin(claims.get(self.settings.jwt_admin_claim)),
            )
        )
        async with self.engine.begin() as conn:
            await users.remember(conn, user)
        return user

    def _with_admin_list(self, user: User) -> User:
        if user.id in self.admins and not user.is_admin:
            return dataclasses.replace(user, is_admin=True)
        return user

    async def _verify_jwt(self, token: str) -> dict[str, Any]:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthError(f"Malformed token: {error}") from error
        if settings.auth_mode == "firebase":
            project = settings.firebase_project_id
            key, algorithms = await self._public_key(header), ["RS256"]
            audience, issuer = project, f"https://securetoken.google.com/{project}"
        elif settings.jwt_secret and header.get("alg") == "HS256":
            key, algorithms = settings.jwt_secret, ["HS256"]
            audience, issuer = settings.jwt_audience, settings.jwt_issuer
        elif self.jwks is not None:
            key, algorithms = await self._public_key(header), ["RS256"]
            audience, issuer = settings.jwt_audience, settings.jwt_issuer
        else:
            raise AuthError(f"Tokens signed with {header.get('alg')!r} are not accepted here.")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                options={"require": ["sub", "exp"], "verify_aud": audience is not None},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as error:
            raise AuthError("The token has expired; sign in again.") from error
        except jwt.PyJWTError as error:
            raise AuthError(f"Invalid token: {error}") from error

    async def _public_key(self, header: dict[str, Any]) -> Any:
        assert self.jwks is not None
        return await self.jwks.key_for(header.get("kid"))


def _claims_admin(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() in {"true", "admin"}
    if isinstance(value, list):
        return "admin" in value
    return False
