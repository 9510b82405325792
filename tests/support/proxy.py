"""A TCP proxy to PostgreSQL's Unix socket that a test controls: `cut()` drops every connection through it
and refuses new ones, as a network partition between one worker and the database would."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from sqlalchemy.engine import make_url


def unix_socket(database_url: str) -> Path:
    """The socket file of a pgserver URL (`postgresql://postgres:@/db?host=/tmp/…`)."""
    host = parse_qs(urlparse(database_url).query)["host"][0]
    return Path(host) / ".s.PGSQL.5432"


class DatabaseProxy:
    def __init__(self, database_url: str) -> None:
        self._socket = unix_socket(database_url)
        self._url = database_url
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.cut_off = False

    async def start(self) -> str:
        """Listen on a free loopback port; the database URL to give the process behind the proxy."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return make_url(self._url).set(host="127.0.0.1", port=port, query={}).render_as_string(hide_password=False)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            client_writer.close()
            return
        server_reader, server_writer = await asyncio.open_unix_connection(str(self._socket))
        self._pipes |= {client_writer, server_writer}
        await asyncio.gather(
            self._pump(client_reader, server_writer), self._pump(server_reader, client_writer), return_exceptions=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self._pipes.discard(writer)

    def cut(self) -> None:
        """Drop every connection through the proxy and refuse new ones."""
        self.cut_off = True
        for writer in list(self._pipes):
            writer.close()

    def restore(self) -> None:
        """Let new connections through again (the network came back)."""
        self.cut_off = False

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
