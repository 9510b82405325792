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
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.services.accounts import gateway, users
from app.services.accounts.users import User

JWKS_CACHE_SECONDS = 3600.0
AUTH_CACHE_SECONDS = 10.0
AUTH_CACHE_SIZE = 10_000


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
    """Tokens to users, each answer kept for AUTH_CACHE_SECONDS: a request costs no database round trip
    for its caller (a revoked key stops working in this process at once, elsewhere within that time)."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self._known: dict[str, tuple[float, User]] = {}  # sha256 of a token, or a person's id → user
        self.admins = set(settings.admin_users)
        url = settings.firebase_jwks_url if settings.auth_mode == "firebase" else settings.jwt_jwks_url
        self.jwks = JwksCache(url) if url else None

    async def authenticate(self, token: str | None) -> User:
        if not token:
            raise AuthError("Missing bearer token: send `Authorization: Bearer <your key>`.")
        digest = users.hash_key(token)
        known = self._recall(digest)
        if known is None:
            known = self._keep(digest, await self._look_up(token))
        return known

    async def as_person(self, caller: User, headers: Mapping[str, str]) -> User:
        """With a gateway's key, the person the request names (remembered, so admins see them)."""
        person = gateway.person(caller, headers)
        if person is caller:
            return caller
        known = self._recall(person.id)
        if known is None or known.username != person.username:
            async with self.engine.begin() as conn:
                known = self._keep(person.id, await users.remember(conn, person))
        return known

    def forget(self) -> None:
        """Drop every remembered answer (a key was revoked, a limit changed)."""
        self._known.clear()

    def _recall(self, key: str) -> User | None:
        found = self._known.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def _keep(self, key: str, user: User) -> User:
        if len(self._known) > AUTH_CACHE_SIZE:
            self._known.clear()
        self._known[key] = (time.monotonic() + AUTH_CACHE_SECONDS, user)
        return user

    async def _look_up(self, token: str) -> User:
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
            return await users.remember(conn, user)

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
