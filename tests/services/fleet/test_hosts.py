"""The hosts: the rules a host's name, address, slots, memory and labels follow; OLLAMA_HOSTS; and the
changes admins make (on a real database), each telling running processes by NOTIFY."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.errors import Conflict, InvalidInput, NotFound
from app.services.fleet import hosts, sql


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("24GiB", 24 * 2**30),
        ("24 GB", 24 * 10**9),
        ("1.5gib", 3 * 2**29),
        ("25769803776", 25769803776),
        (" 512 MiB ", 512 * 2**20),
        ("1TB", 10**12),
    ],
)
def test_parse_size_reads_bytes_and_units(text: str, size: int) -> None:
    assert hosts.parse_size(text, "gpu_memory") == size


@pytest.mark.parametrize("text", ["", "GiB", "24 gigs", "-1GB", "1e9", "0", "0.1b", "9" * 400, "99999999TiB"])
def test_parse_size_refuses_what_is_not_a_size_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        hosts.parse_size(text, "gpu_memory")
    assert refused.value.message.startswith("gpu_memory: ")
    assert "24GiB" in refused.value.message  # the fix: how to write one
    assert refused.value.details == {"field": "gpu_memory"}


def test_gpu_memory_takes_bytes_a_size_or_nothing() -> None:
    assert hosts.gpu_memory(None) is None
    assert hosts.gpu_memory(2**34) == 2**34
    assert hosts.gpu_memory("16GiB") == 2**34
    for bad in (0, -5, 2**63):
        with pytest.raises(InvalidInput, match="gpu_memory"):
            hosts.gpu_memory(bad)


def test_parse_hosts_setting_reads_every_entry() -> None:
    found = hosts.parse_hosts_setting(
        "box-a http://10.0.0.1:11434 slots=2 memory=24GiB labels=a100,fast; box-b http://10.0.0.2:11434 ;"
    )
    assert found == [
        {
            "name": "box-a",
            "base_url": "http://10.0.0.1:11434",
            "slots": 2,
            "gpu_memory": 24 * 2**30,
            "labels": ["a100", "fast"],
        },
        {"name": "box-b", "base_url": "http://10.0.0.2:11434", "slots": 1, "gpu_memory": None, "labels": []},
    ]
    assert hosts.parse_hosts_setting(" ; ") == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("box-a", "write NAME URL"),
        ("box-a http://x slots=two", "unknown option 'slots=two'"),
        ("box-a http://x gpus=2", "unknown option 'gpus=2'"),
        ("box-a http://x memory=lots", "OLLAMA_HOSTS box-a memory: 'lots' is not a size"),
        ("box-a http://x slots=0", "slots 0: between 1 and 64"),
        ("Box_A http://x", "Host name 'Box_A'"),
        ("box-a 10.0.0.1:11434", "Host address '10.0.0.1:11434'"),
        ("box-a http://x labels=a100,bad!", "Label 'bad!'"),
    ],
)
def test_parse_hosts_setting_says_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("(", r"\(")):
        hosts.parse_hosts_setting(value)


@pytest.mark.parametrize(
    ("name", "base_url", "slots", "labels", "field"),
    [
        ("", "http://x", 1, [], "name"),
        ("-box", "http://x", 1, [], "name"),
        ("a" * 64, "http://x", 1, [], "name"),
        ("box", "ftp://x", 1, [], "base_url"),
        ("box", "http://", 1, [], "base_url"),
        ("box", "http://x y", 1, [], "base_url"),
        ("box", "http://x\x00", 1, [], "base_url"),
        ("box", "http://x/" + "a" * 3000, 1, [], "base_url"),
        ("box", "http://x", 0, [], "slots"),
        ("box", "http://x", 65, [], "slots"),
        ("box", "http://x", 1, ["ok", ""], "labels"),
    ],
)
def test_check_names_the_field(name: str, base_url: str, slots: int, labels: list[str], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        hosts.check(name, base_url, slots, labels)
    assert refused.value.details == {"field": field}


def test_check_takes_good_hosts() -> None:
    hosts.check("box-a.lab_2", "https://gpu.example.com:443/ollama/", 64, ["a100", "zone:eu-1"])


async def test_add_update_drain_resume_remove(db: asyncpg.Pool) -> None:
    added = await hosts.add(db, "box-a", "http://10.0.0.1:11434", 2, 24 * 2**30, ["a100"])
    assert (added.name, added.slots, added.gpu_memory, added.labels, added.state) == (
        "box-a",
        2,
        24 * 2**30,
        ["a100"],
        "up",
    )
    with pytest.raises(Conflict, match="exists already"):
        await hosts.add(db, "box-a", "http://10.0.0.9:11434", 1, None, [])

    slots = await hosts.update(db, "box-a", slots=4)
    assert (slots.base_url, slots.slots, slots.gpu_memory, slots.labels) == (
        "http://10.0.0.1:11434",
        4,
        24 * 2**30,
        ["a100"],
    )
    moved = await hosts.update(db, "box-a", base_url="http://10.0.0.2:11434", labels=[], gpu_memory=None)
    assert (moved.base_url, moved.slots, moved.gpu_memory, moved.labels) == ("http://10.0.0.2:11434", 4, None, [])
    with pytest.raises(InvalidInput, match="slots 0"):
        await hosts.update(db, "box-a", slots=0)  # not taken for "unchanged"
    with pytest.raises(InvalidInput, match="Nothing to change"):
        await hosts.update(db, "box-a")
    with pytest.raises(NotFound):
        await hosts.update(db, "box-z", slots=1)

    assert (await hosts.set_draining(db, "box-a", True)).state == "draining"
    assert (await hosts.set_draining(db, "box-a", False)).state == "up"
    await hosts.remove(db, "box-a")
    assert "box-a" not in [host.name for host in await hosts.all_hosts(db)]
    for missing in ("box-a", "Not A Name\x00"):
        with pytest.raises(NotFound):
            await hosts.get(db, missing)
        with pytest.raises(NotFound):
            await hosts.set_draining(db, missing, True)
        with pytest.raises(NotFound):
            await hosts.remove(db, missing)


async def test_a_host_with_a_live_slot_lease_is_not_removed(db: asyncpg.Pool) -> None:
    await hosts.add(db, "box-a", "http://10.0.0.1:11434", 1, None, [])
    await db.execute(
        "INSERT INTO leases (key, holder, host, expires_at, grace_seconds) "
        "VALUES ('gpu/box-a/0', 'worker-1', 'box-a', now() - interval '1 second', 5)"
    )  # expired, but within its grace: its runner may still be stopping
    with pytest.raises(Conflict, match="drain it first"):
        await hosts.remove(db, "box-a")
    await db.execute("UPDATE leases SET grace_seconds = 0")
    await hosts.remove(db, "box-a")


async def test_every_change_is_notified(db: asyncpg.Pool, database: str) -> None:
    from app import db as app_db

    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await app_db.connect_raw(database)
    await listener.add_listener(sql.CHANNEL_HOSTS_CHANGED, lambda *args: heard.put_nowait(args[3]))
    try:
        await hosts.add(db, "box-a", "http://10.0.0.1:11434", 1, None, [])
        await hosts.update(db, "box-a", slots=2)
        await hosts.set_draining(db, "box-a", True)
        await hosts.remove(db, "box-a")
        assert [await asyncio.wait_for(heard.get(), 5) for _ in range(4)] == ["box-a"] * 4
    finally:
        await listener.close()


def test_slot_keys_belong_to_their_pool() -> None:
    """Two pools on one database never share a slot: the keys carry the pool (a bench's four pools once
    all queued for `gpu/0`)."""
    assert hosts.slot_keys("default", 2, "gpu") == ["gpu/0", "gpu/1"]
    assert hosts.slot_keys("default", 2, "p10") == ["p10/0", "p10/1"]
    assert hosts.slot_keys("box-a", 1, "p10") == ["p10/box-a/0"]
    assert hosts.host_of_slot("p10/box-a/0") == "box-a" and hosts.host_of_slot("p10/1") == "default"
