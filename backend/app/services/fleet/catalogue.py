"""What the fleet's Ollama servers have, asked the way a client asks one Ollama: the models installed
(`/api/tags`), the models loaded (`/api/ps`) and one model's card (`/api/show`), for the drop-in fronts.

With several GPU hosts, a client pointed at aijobs must see every model it can use, not only the first
host's: each host that takes work is asked (at once), and the lists are merged by name, the default host
first. A host that cannot be asked is left out of the list; only when none answers is the error the
client's. With one host this is exactly that host's answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from app.config import Settings
from app.services.fleet import hosts as fleet_hosts


class Catalogue:
    def __init__(self, db: asyncpg.Pool, settings: Settings, default: httpx.AsyncClient) -> None:
        self._db = db
        self._settings = settings
        self.default = default  # OLLAMA_BASE_URL: asked first, and alone when no host takes work
        self._clients: dict[str, httpx.AsyncClient] = {settings.ollama_base_url: default}

    async def clients(self) -> list[httpx.AsyncClient]:
        """A client for each host that takes work (the default first), or the default's alone."""
        hosts = [fleet_hosts.as_configured(host, self._settings) for host in await fleet_hosts.all_hosts(self._db)]
        urls = [host.base_url for host in hosts if host.takes_work]
        if self._settings.ollama_base_url in urls:  # the default host first (the one the drop-in front asks first)
            urls.remove(self._settings.ollama_base_url)
            urls.insert(0, self._settings.ollama_base_url)
        return [self._client(url) for url in dict.fromkeys(urls)] or [self.default]

    def _client(self, base_url: str) -> httpx.AsyncClient:
        if base_url not in self._clients:
            self._clients[base_url] = httpx.AsyncClient(base_url=base_url, timeout=self.default.timeout)
        return self._clients[base_url]

    async def close(self) -> None:
        for client in self._clients.values():
            if client is not self.default:
                await client.aclose()

    async def models(self, path: str) -> dict[str, Any]:
        """`/api/tags` or `/api/ps` of every host, merged by model name (the first host's entry kept).
        Raises httpx.HTTPError when no host answered."""
        clients = await self.clients()
        replies = await asyncio.gather(*(client.get(path) for client in clients), return_exceptions=True)
        merged: dict[str, Any] = {}
        failure: BaseException | None = None
        answered = False
        for reply in replies:
            if isinstance(reply, BaseException):
                failure = failure or reply
                continue
            try:
                reply.raise_for_status()
                listed = reply.json().get("models") or []
            except (httpx.HTTPError, ValueError) as error:
                failure = failure or error
                continue
            answered = True
            for model in listed:
                merged.setdefault(str(model.get("name") or model.get("model")), model)
        if not answered:
            if isinstance(failure, httpx.HTTPError):
                raise failure
            raise httpx.HTTPError(f"no Ollama host answered {path}: {failure}")
        return {"models": list(merged.values())}

    async def show(self, body: dict[str, Any]) -> httpx.Response:
        """The first host's `/api/show` answer that is not "not found" (or the default's 404). The other
        hosts are read and asked only when the default lacks the model."""
        first = await self.default.post("/api/show", json=body)
        if first.status_code != 404:
            return first
        for client in await self.clients():
            if client is self.default:
                continue
            try:
                reply = await client.post("/api/show", json=body)
            except httpx.HTTPError:
                continue
            if reply.status_code != 404:
                return reply
        return first
