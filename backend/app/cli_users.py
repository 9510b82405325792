"""`aijobs users …`: create users and keys from the shell (AUTH_MODE=apikey)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.config import Settings
from app.errors import AppError


async def _with_connection(settings: Settings, action) -> int:  # type: ignore[no-untyped-def]
    from app import db, migrate
    from app.main import resolve_database_url

    url = await resolve_database_url(settings)
    await migrate.upgrade_async(url)
    engine = db.create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await action(conn)
    except AppError as error:
        print(f"aijobs: {error.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()


def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    from app.services.accounts import users

    async def create(conn) -> int:  # type: ignore[no-untyped-def]
        issued = await users.create_user(conn, args.name, admin=args.admin, label=args.label)
        if args.gateway:
            await users.mark_gateway(conn, issued.key_id, True)
        role = "admin" if args.admin else ("gateway" if args.gateway else "user")
        print(f"Created {role} {issued.user.username!r}. API key (shown only now, keep it safe):\n\n  {issued.key}\n")
        return 0

    async def add_key(conn) -> int:  # type: ignore[no-untyped-def]
        issued = await users.issue_key(conn, args.name, label=args.label)
        if args.gateway:
            await users.mark_gateway(conn, issued.key_id, True)
        print(f"New API key for {issued.user.username!r} (shown only now):\n\n  {issued.key}\n")
        return 0

    async def list_all(conn) -> int:  # type: ignore[no-untyped-def]
        rows = await users.list_users(conn)
        if not rows:
            print("No users yet: `aijobs users create NAME --admin`.")
        for row in rows:
            role = "admin" if row["is_admin"] else "user"
            seen = f"{row['last_seen']:%Y-%m-%d %H:%M} UTC" if row["last_seen"] else "never"
            print(f"{row['id']:<24} {role:<6} keys: {row['active_keys']}  last seen: {seen}")
        for key in await users.list_keys(conn):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            state += " gateway" if key.is_gateway else ""
            print(f"  key {key.id:<5} {key.prefix}…  {key.user_id:<20} {state}  {key.label or ''}")
        return 0

    async def revoke(conn) -> int:  # type: ignore[no-untyped-def]
        if await users.revoke_key(conn, args.key_id):
            print(f"Key {args.key_id} revoked.")
            return 0
        print(f"aijobs: no active key {args.key_id} (see `aijobs users list`).", file=sys.stderr)
        return 1

    actions = {"create": create, "add-key": add_key, "list": list_all, "revoke": revoke}
    return asyncio.run(_with_connection(settings, actions[args.users_command]))


GATEWAY_HELP = "a gateway's key (Open WebUI): its requests may name the person they are for"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("users", help="create users and API keys (AUTH_MODE=apikey)")
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a user and print their first API key")
    create.add_argument("name", help="user name: letters, digits, . _ @ -")
    create.add_argument("--admin", action="store_true", help="may see all jobs, force-release locks, manage users")
    create.add_argument("--label", help="a note to tell this key apart, e.g. 'laptop'")
    create.add_argument("--gateway", action="store_true", help=GATEWAY_HELP)
    add_key = sub.add_parser("add-key", help="print another API key for an existing user")
    add_key.add_argument("name")
    add_key.add_argument("--label")
    add_key.add_argument("--gateway", action="store_true", help=GATEWAY_HELP)
    sub.add_parser("list", help="users, their keys (by prefix) and when they were last used")
    revoke = sub.add_parser("revoke", help="revoke a key by its id (from `aijobs users list`)")
    revoke.add_argument("key_id", type=int)
    parser.set_defaults(handler=cmd_users)
