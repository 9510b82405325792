"""Run Alembic migrations from code (start-up, `aijobs migrate`, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    """The repository's top-level `alembic/` (a checkout or an editable install), or the copy of it a
    regular install puts inside the package as `app/migrations` (setup.py): one source, both ways."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parents[1] / "alembic", package / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(f"no migrations beside {package}: expected alembic/env.py")


MIGRATIONS_DIR = migrations_dir()


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str) -> None:
    """Alembic's env runs its own event loop, so from async code it runs in a thread."""
    await asyncio.to_thread(upgrade, database_url)
