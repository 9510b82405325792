"""Training runs under the GPU slot, deploy themselves, and stop as a whole process group."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.accounts.users import User
from app.services.ollama import system_settings
from app.services.queue import store
from app.services.queue.processor import Processor
from app.services.training import sets as training_sets
from app.training.reference import main as reference_main
from tests.support.jobs import TERMINAL, leases_held, submit
from tests.support.simulator import Simulator
from tests.support.waiting import job_reaches, until

ALICE = User(id="alice", username="alice", is_admin=False)
EXAMPLES = [
    {"prompt": f"Question {n}?", "response": f"Answer {n}: the queue keeps the GPU busy and fair"} for n in range(12)
]


async def training_job(db: asyncpg.Pool, **request: object) -> store.Job:
    stored = await training_sets.store(db, ALICE, "demo", EXAMPLES)
    body = {"base_model": "tinyllama", "training_set_id": str(stored.id), "epochs": 2, **request}
    return await submit(db, "training", request=body, details="Training tinyllama on 12 examples", max_retries=0)


def alive(pid: int) -> bool:
    """A zombie (exited, not yet reaped by whoever inherited it) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def active_model(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return await system_settings.active_model(conn, "(none)")


async def test_a_training_run_deploys_its_model_and_later_jobs_use_it(
    engine: AsyncEngine,
    db: asyncpg.Pool,
    start_processor: Callable[..., Awaitable[Processor]],
    sim: Simulator,
    tmp_path: Path,
) -> None:
    await start_processor(training_dir=tmp_path)
    job = await training_job(db, model_name="acme-assistant:v1")
    done = await job_reaches(db, job.id, TERMINAL, within=60)
    assert done.status == "completed", done.error_message
    result = done.result_data or {}
    assert result["model"] == "acme-assistant:v1" and result["examples"] == len(EXAMPLES)
    adapter = Path(result["adapter"])
    assert adapter.name == "adapter.safetensors" and (await asyncio.to_thread(adapter.stat)).st_size > 4096 * 4
    assert any("epoch 2/2" in line for line in result["log_tail"]), "the command's progress lines are kept"
    stats = sim.stats()
    assert stats["requests"].get("create", 0) == 1 and stats["requests"].get("blobs", 0) >= 1
    async with engine.connect() as conn:
        settings = await system_settings.get_all(conn)
    # alice's run is alice's default; everyone else's stays as it was (only admins change that).
    assert settings["default_model:alice"] == "acme-assistant:v1" and "active_model" not in settings
    assert settings["ai_model_trained"] is True
    assert settings["ai_training_examples"] == len(EXAMPLES) and settings["ai_model_trained_at"]

    follow_up = await submit(db, request={"prompt": "Which model answers?"})  # names no model
    answered = await job_reaches(db, follow_up.id, TERMINAL)
    assert answered.status == "completed", answered.error_message
    assert answered.result_data is not None and answered.result_data["model"] == "acme-assistant:v1"


async def test_a_failing_training_command_fails_the_job_and_switches_nothing(
    engine: AsyncEngine,
    db: asyncpg.Pool,
    start_processor: Callable[..., Awaitable[Processor]],
    sim: Simulator,
    tmp_path: Path,
) -> None:
    command = 'sh -c \'echo "progress: 40%"; echo "CUDA out of memory" >&2; exit 3\''
    await start_processor(training_dir=tmp_path, training_command=command)
    done = await job_reaches(db, (await training_job(db)).id, TERMINAL, within=30)
    assert done.status == "failed" and done.error_kind == "permanent"
    assert "exit code 3" in (done.error_message or "") and "CUDA out of memory" in (done.error_message or "")
    assert done.progress["log_tail"][-1] == "CUDA out of memory"
    assert await active_model(engine) == "(none)"
    assert sim.stats()["requests"].get("create", 0) == 0
    assert await leases_held(db) == 0


async def test_an_adapterless_run_fails_with_a_clear_message(
    engine: AsyncEngine, db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], tmp_path: Path
) -> None:
    await start_processor(training_dir=tmp_path, training_command="sh -c 'echo progress: 100%'")
    done = await job_reaches(db, (await training_job(db)).id, TERMINAL, within=30)
    assert done.status == "failed" and "wrote no adapter" in (done.error_message or "")
    assert await active_model(engine) == "(none)"


async def cancel_and_check_group(db: asyncpg.Pool, job: store.Job) -> None:
    running = await until(
        lambda: _child_pid(db, job.id), 30, "the training command to start its child and report progress"
    )
    leader, child = running
    assert await store.request_cancel(db, job.id, by="alice") == "running"
    done = await job_reaches(db, job.id, TERMINAL, within=30)
    assert done.status == "cancelled"
    await until(lambda: not alive(child) and not alive(leader), 10, "every process of the group to be gone")
    assert await leases_held(db) == 0, "the GPU slot is free"


async def _child_pid(db: asyncpg.Pool, job_id: uuid.UUID) -> tuple[int, int] | None:
    job = await store.get_job(db, job_id)
    lines = job.progress.get("log_tail", []) if job else []
    pids = dict(line.split("=", 1) for line in lines if line.startswith(("leader=", "child=")))
    return (int(pids["leader"]), int(pids["child"])) if len(pids) == 2 else None


async def test_cancel_stops_the_whole_process_group(
    engine: AsyncEngine, db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], tmp_path: Path
) -> None:
    command = "sh -c 'sleep 300 & echo leader=$$; echo child=$!; echo \"progress: 5%\"; wait'"
    await start_processor(training_dir=tmp_path, training_command=command, training_kill_grace=5)
    await cancel_and_check_group(db, await training_job(db))


async def test_a_command_that_ignores_sigterm_is_killed_after_the_grace_period(
    engine: AsyncEngine, db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], tmp_path: Path
) -> None:
    command = 'sh -c \'trap "" TERM; sleep 300 & echo leader=$$; echo child=$!; echo "progress: 5%"; wait\''
    await start_processor(training_dir=tmp_path, training_command=command, training_kill_grace=0.5)
    await cancel_and_check_group(db, await training_job(db))


def test_the_reference_command_writes_a_valid_safetensors_adapter(tmp_path: Path, capsys: object) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(example) + "\n" for example in EXAMPLES))
    assert reference_main(["--data", str(data), "--output", str(tmp_path / "out"), "--epochs", "1"]) == 0
    raw = (tmp_path / "out" / "adapter.safetensors").read_bytes()
    header_length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_length])
    start, end = header["bigram.weight"]["data_offsets"]
    assert header["bigram.weight"]["dtype"] == "F32" and end - start == 4 * header["bigram.weight"]["shape"][0]
    assert len(raw) == 8 + header_length + end
    assert header["__metadata__"]["examples"] == str(len(EXAMPLES))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]  # type: ignore[attr-defined]
    assert lines[-1] == {"progress": 100.0, "message": f"epoch 1/1 · example {len(EXAMPLES)}/{len(EXAMPLES)}"}
    assert [line["progress"] for line in lines] == sorted(line["progress"] for line in lines)


def test_training_command_placeholders_are_filled_per_argument() -> None:
    from app.config import load_settings
    from app.services.training.job_type import training_argv

    fields = {"data": "/d/train.jsonl", "output": "/d/out dir", "base_model": "m", "model_name": "n", "epochs": "2"}
    custom = load_settings(training_command="train.py --in {data} --out {output} --epochs {epochs}")
    assert training_argv(custom, fields) == [
        "train.py",
        "--in",
        "/d/train.jsonl",
        "--out",
        "/d/out dir",
        "--epochs",
        "2",
    ]
    reference = training_argv(load_settings(), fields)
    assert reference[:3] == [sys.executable, "-m", "app.training.reference"] and "/d/out dir" in reference
    assert shlex.join(reference).count("{") == 0
