"""`aijobs hosts …`: the GPU hosts managed from the shell, on the database directly."""

from __future__ import annotations

import re

import asyncpg

from app.cli_hosts import format_size, table
from app.schemas.hosts import HostView
from tests.test_cli import aijobs


def test_hosts_add_list_update_drain_resume_remove(service_env: dict[str, str]) -> None:
    added = aijobs(
        service_env, "hosts", "add", "box-a", "http://10.0.0.1:11434", "--slots", "2", "--memory", "24GiB",
        "--labels", "a100,fast",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "Added box-a (http://10.0.0.1:11434, 2 slot(s), 24GiB, labels a100,fast) is up." in added.stdout
    duplicate = aijobs(service_env, "hosts", "add", "box-a", "http://10.0.0.2:11434")
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr

    listed = aijobs(service_env, "hosts", "list").stdout.splitlines()
    assert re.match(r"NAME\s+STATE\s+BUSY\s+MEMORY\s+LABELS\s+LOADED\s+VERSION\s+URL$", listed[0]), listed
    assert re.search(
        r"^box-a\s+up\s+0/2\s+24GiB\s+a100,fast\s+-\s+\?\s+http://10.0.0.1:11434$", "\n".join(listed), re.M
    )

    updated = aijobs(service_env, "hosts", "update", "box-a", "--slots", "3", "--labels", "")
    assert updated.returncode == 0 and "3 slot(s), 24GiB) is up" in updated.stdout, updated.stderr
    nothing = aijobs(service_env, "hosts", "update", "box-a")
    assert nothing.returncode == 2 and "--url, --slots, --memory, --labels" in nothing.stderr

    drained = aijobs(service_env, "hosts", "drain", "box-a")
    assert drained.returncode == 0 and "box-a is draining" in drained.stdout
    assert re.search(r"^box-a\s+draining\s+0/3", aijobs(service_env, "hosts", "list").stdout, re.M)
    assert aijobs(service_env, "hosts", "resume", "box-a").returncode == 0
    assert re.search(r"^box-a\s+up\s+0/3", aijobs(service_env, "hosts", "list").stdout, re.M)

    removed = aijobs(service_env, "hosts", "remove", "box-a")
    assert removed.returncode == 0 and "Removed box-a." in removed.stdout
    assert "box-a" not in aijobs(service_env, "hosts", "list").stdout
    missing = aijobs(service_env, "hosts", "drain", "box-a")
    assert missing.returncode == 1 and "No host 'box-a'" in missing.stderr


def test_hosts_bad_input_names_the_option(service_env: dict[str, str]) -> None:
    memory = aijobs(service_env, "hosts", "add", "box-a", "http://10.0.0.1:11434", "--memory", "lots")
    assert memory.returncode == 1 and "--memory: 'lots' is not a size; write e.g. 24GiB" in memory.stderr
    url = aijobs(service_env, "hosts", "add", "box-a", "10.0.0.1:11434")
    assert url.returncode == 1 and "http(s)://" in url.stderr
    slots = aijobs(service_env, "hosts", "add", "box-a", "http://10.0.0.1:11434", "--slots", "100")
    assert slots.returncode == 1 and "between 1 and 64" in slots.stderr
    assert "box-a" not in aijobs(service_env, "hosts", "list").stdout


async def test_a_host_running_jobs_is_not_removed(service_env: dict[str, str], db: asyncpg.Pool) -> None:
    assert aijobs(service_env, "hosts", "add", "box-a", "http://10.0.0.1:11434").returncode == 0
    await db.execute(
        "INSERT INTO leases (key, holder, host, username, expires_at) "
        "VALUES ('gpu/box-a/0', 'worker-x', 'box-a', 'alice', now() + interval '1 hour')"
    )
    assert re.search(r"^box-a\s+up\s+1/1", aijobs(service_env, "hosts", "list").stdout, re.M)
    refused = aijobs(service_env, "hosts", "remove", "box-a")
    assert refused.returncode == 1 and "drain it first" in refused.stderr


def test_hosts_help_shows_every_action_and_an_example() -> None:
    shown = aijobs({}, "hosts", "--help").stdout
    for action in ("add", "list", "update", "drain", "resume", "remove"):
        assert action in shown
    assert "aijobs hosts add box-a http://10.0.0.1:11434 --slots 2 --memory 24GiB" in shown


def test_format_size_and_table() -> None:
    assert [format_size(size) for size in (None, 512, 2**30, 24 * 2**30, 3 * 2**40 // 2)] == [
        "-",
        "512B",
        "1GiB",
        "24GiB",
        "1.5TiB",
    ]
    view = HostView.model_validate(
        {
            "name": "b",
            "base_url": None,
            "slots": 1,
            "gpu_memory": None,
            "labels": [],
            "state": "down",
            "reachable": False,
            "draining": False,
            "version": "0.5.7",
            "probed_at": None,
            "loaded": [{"name": "llama3.2:latest"}, {"name": "qwen2:7b"}],
            "running": [],
            "queued_warm": 0,
            "costs": [],
        }
    )
    assert table([view]).splitlines()[1].split() == ["b", "down", "0/1", "-", "-", "llama3.2:latest,qwen2:7b", "0.5.7"]
