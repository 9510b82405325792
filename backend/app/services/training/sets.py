"""Training examples: JSONL of `{"prompt": …, "response": …}` lines, validated line by line, stored
once, then referenced by training jobs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db import Executor, Statement
from app.errors import InvalidInput, NotFound
from app.services.accounts.users import User

TRAINING_SET_INSERT = Statement("""
INSERT INTO training_sets (id, user_id, name, examples, example_count)
VALUES (:id, :user_id, :name, :examples::jsonb, :count)
RETURNING id, user_id, name, example_count, created_at
""")

TRAINING_SET_GET = Statement("""
SELECT id, user_id, name, example_count, created_at FROM training_sets WHERE id = :id
""")

TRAINING_SET_EXAMPLES = Statement("SELECT examples FROM training_sets WHERE id = :id")

TRAINING_SETS_OF_USER = Statement("""
SELECT id, user_id, name, example_count, created_at FROM training_sets
WHERE user_id = :user_id OR :all_users ORDER BY created_at DESC LIMIT :limit
""")

MAX_EXAMPLES = 100_000
MAX_REPORTED_PROBLEMS = 50


@dataclass(frozen=True)
class TrainingSet:
    id: uuid.UUID
    user_id: str
    name: str
    example_count: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "example_count": self.example_count,
            "created_at": self.created_at.isoformat(),
        }


def _problem(line: str) -> str | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not JSON ({error.msg} at column {error.colno})"
    if not isinstance(value, dict):
        return 'not a JSON object; write {"prompt": "…", "response": "…"}'
    for field in ("prompt", "response"):
        if not isinstance(value.get(field), str) or not value[field].strip():
            return f"`{field}` is missing or empty; it must be a non-empty string"
    return None


def parse_jsonl(body: str, field: str = "examples") -> list[dict[str, str]]:
    """Every non-blank line must be a prompt/response object. Any bad line: InvalidInput listing each
    bad line by number (the first 50), and nothing is kept."""
    examples: list[dict[str, str]] = []
    problems: list[dict[str, Any]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        problem = _problem(line)
        if problem is not None:
            problems.append({"line": number, "message": problem})
            continue
        value = json.loads(line)
        examples.append({"prompt": value["prompt"], "response": value["response"]})
    if problems:
        listed = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InvalidInput(
            f"{len(problems)} bad line(s) in the training examples, nothing was queued: {listed}{more}.",
            {"field": field, "lines": problems[:MAX_REPORTED_PROBLEMS], "bad_lines": len(problems)},
        )
    if not examples:
        raise InvalidInput(
            'No training examples: send JSON lines like {"prompt": "…", "response": "…"}.', {"field": field}
        )
    if len(examples) > MAX_EXAMPLES:
        raise InvalidInput(f"Too many examples ({len(examples)}); at most {MAX_EXAMPLES}.", {"field": field})
    return examples


async def store(conn: Executor, user: User, name: str, examples: list[dict[str, str]]) -> TrainingSet:
    row = await TRAINING_SET_INSERT.fetchrow(
        conn, id=uuid.uuid4(), user_id=user.id, name=name, examples=examples, count=len(examples)
    )
    assert row is not None
    return TrainingSet(**row)


async def get_owned(conn: Executor, user: User, set_id: uuid.UUID) -> TrainingSet:
    row = await TRAINING_SET_GET.fetchrow(conn, id=set_id)
    if row is None or (row["user_id"] != user.id and not user.is_admin):
        raise NotFound(f"No training set {set_id}.", {"field": "training_set_id"})
    return TrainingSet(**row)


async def examples(conn: Executor, set_id: uuid.UUID) -> list[dict[str, str]]:
    value = await TRAINING_SET_EXAMPLES.fetchval(conn, id=set_id)
    if value is None:
        raise NotFound(f"Training set {set_id} no longer exists.")
    return json.loads(value) if isinstance(value, str) else list(value)


async def list_sets(conn: Executor, user: User, limit: int = 100) -> list[TrainingSet]:
    rows = await TRAINING_SETS_OF_USER.fetch(conn, user_id=user.id, all_users=user.is_admin, limit=limit)
    return [TrainingSet(**row) for row in rows]
