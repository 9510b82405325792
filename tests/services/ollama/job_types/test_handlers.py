"""Every job type run by a real processor against the Ollama simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.ollama.job_types.canvas import Diagram
from app.services.queue.processor import Processor
from tests.support.jobs import TERMINAL, leases_held, submit
from tests.support.simulator import Simulator
from tests.support.waiting import job_reaches, until

CANVAS = {"instructions": "Incident response: detect, triage, contain, recover", "colorScheme": "blue"}
REPORT = {
    "title": "ACME Breach",
    "details": "Case: ACME Breach (ID: 5)",
    "context": "Phishing mail on Monday; credentials reused on the VPN.",
    "sections": [
        {"heading": "Summary", "instructions": "One paragraph."},
        {"heading": "Findings", "instructions": "What happened."},
        {"heading": "Recommendations", "instructions": "What to change."},
    ],
}


async def test_generate_passes_options_format_and_system_through(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    request = {
        "model": "tinyllama",
        "prompt": "Answer in JSON",
        "system": "Be brief.",
        "format": schema,
        "options": {"num_predict": 3, "seed": 7},
        "keep_alive": "10m",
    }
    done = await job_reaches(db, (await submit(db, request=request)).id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.result_data is not None and done.result_data["done_reason"] == "length"  # num_predict reached
    assert done.result_data["eval_count"] == 3


async def test_generation_with_num_predict_reports_a_percent_that_moves(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    """num_predict bounds the answer's length: the percent is the tokens so far against it (an answer
    without one reports no percent past 0: its length is unknown, the page shows tokens instead)."""
    sim.configure(token_delay=0.05, tokens=200)
    job = await submit(db, request={"model": "tinyllama", "prompt": "Count", "options": {"num_predict": 40}})
    seen: list[tuple[int, int]] = []

    async def midway() -> bool:
        current = await job_reaches(db, job.id, {"queued", "running", *TERMINAL})
        if current.status == "running" and current.progress.get("tokens"):
            seen.append((current.progress["tokens"], current.progress.get("percent", 0)))
        return len({percent for _, percent in seen if 0 < percent < 100}) >= 2 or current.status in TERMINAL

    await until(midway, within=30, what="two percents between 0 and 100 while it runs")
    assert len({percent for _, percent in seen if 0 < percent < 100}) >= 2, seen
    assert all(percent <= tokens * 100 // 40 for tokens, percent in seen), "never ahead of the tokens produced"
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "completed" and done.progress["percent"] == 100

    sim.configure(token_delay=0.001, tokens=5)
    unbounded = await job_reaches(db, (await submit(db, request={"model": "tinyllama", "prompt": "Hi"})).id, TERMINAL)
    assert unbounded.status == "completed" and unbounded.progress["tokens"] == 5


async def test_chat_assembles_the_streamed_message(db: asyncpg.Pool, processor: Processor) -> None:
    request = {"model": "tinyllama", "messages": [{"role": "user", "content": "Hello"}]}
    done = await job_reaches(db, (await submit(db, "chat", request=request)).id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.result_data is not None
    assert done.result_data["message"]["role"] == "assistant"
    assert done.result_data["message"]["content"] == done.progress["text"] != ""


async def test_embed_single_and_batch(db: asyncpg.Pool, processor: Processor, sim: Simulator) -> None:
    single = await submit(db, "embed", request={"model": "nomic-embed-text", "input": "hello"})
    batch = await submit(db, "embed", request={"model": "nomic-embed-text", "input": ["a", "b", "c"]})
    one = await job_reaches(db, single.id, TERMINAL)
    three = await job_reaches(db, batch.id, TERMINAL)
    assert one.status == three.status == "completed", (one.error_message, three.error_message)
    assert one.result_data is not None and three.result_data is not None
    assert len(one.result_data["embeddings"]) == 1 and len(three.result_data["embeddings"]) == 3
    vector = three.result_data["embeddings"][0]
    assert abs(sum(x * x for x in vector) - 1.0) < 1e-6  # Ollama's vectors have unit length
    assert sim.stats()["requests"]["embed"] == 2


async def test_canvas_returns_a_valid_diagram(db: asyncpg.Pool, processor: Processor) -> None:
    done = await job_reaches(db, (await submit(db, "canvas", request=CANVAS)).id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.result_data is not None and done.result_data["attempts"] == 1
    diagram = Diagram.model_validate(done.result_data)  # nodes with positions, edges between them
    assert len(diagram.nodes) >= 2 and diagram.edges
    assert done.result_data["colorScheme"] == "blue" and done.result_data["style"] == "flowchart"


async def test_canvas_retries_once_with_the_problems_then_succeeds(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    sim.fail("invalid_json", count=1, endpoints=["generate"])
    done = await job_reaches(db, (await submit(db, "canvas", request=CANVAS)).id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.result_data is not None and done.result_data["attempts"] == 2
    prompts = [entry["prompt"] for entry in sim.stats()["log"] if entry["endpoint"] == "generate"]
    assert len(prompts) == 2 and "not a valid diagram" in prompts[1] and "not valid JSON" in prompts[1]


async def test_canvas_fails_clearly_after_two_invalid_answers(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    sim.fail("invalid_json", count=2, endpoints=["generate"])
    done = await job_reaches(db, (await submit(db, "canvas", request=CANVAS)).id, TERMINAL)
    assert done.status == "failed" and done.retry_count == 0  # a bad answer is not retried as transient
    assert done.error_message is not None and done.error_message.startswith("The model's diagram was invalid twice")


async def test_report_progress_per_section_and_markdown_result(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    sim.configure(token_delay=0.03, tokens=20)
    job = await submit(db, "report", request=REPORT)
    messages: set[str] = set()

    async def finished() -> bool:
        current = await job_reaches(db, job.id, {"queued", "running", *TERMINAL})
        if current.progress.get("message"):
            messages.add(current.progress["message"])
        return current.status in TERMINAL

    await until(finished, within=30, what="report finished")
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert {"section 1 of 3: Summary", "section 2 of 3: Findings", "section 3 of 3: Recommendations"} <= messages
    assert done.result_data is not None
    markdown = done.result_data["markdown"]
    assert markdown.startswith("# ACME Breach\n\n_Case: ACME Breach (ID: 5)_\n\n## Summary\n\n")
    assert markdown.index("## Findings") < markdown.index("## Recommendations")
    assert [section["heading"] for section in done.result_data["sections"]] == [
        "Summary",
        "Findings",
        "Recommendations",
    ]
    assert sim.stats()["requests"]["generate"] == 3


async def test_cancelling_a_report_stops_mid_section(
    engine: AsyncEngine, db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    from app.services.queue import store

    sim.configure(token_delay=0.05, tokens=200)
    job = await submit(db, "report", request=REPORT)
    await until(lambda: sim.stats()["in_flight"] == 1, what="first section generating")
    await store.request_cancel(db, job.id, by="alice")
    done = await job_reaches(db, job.id, TERMINAL, within=5)
    assert done.status == "cancelled"
    stats = sim.stats()
    assert stats["disconnects"] == 1 and stats["requests"]["generate"] == 1  # no later section started
    assert await leases_held(db) == 0


async def test_pull_reports_bytes_and_percent(db: asyncpg.Pool, processor: Processor, sim: Simulator) -> None:
    sim.configure(pull_chunk_delay=0.01)
    done = await job_reaches(db, (await submit(db, "model.pull", request={"model": "tinyllama"})).id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.result_data is not None and done.result_data["status"] == "success"
    assert done.progress["percent"] == 100 and done.progress["completed_bytes"] == done.progress["total_bytes"] > 0


async def test_pull_of_an_unknown_model_fails_with_ollamas_message(db: asyncpg.Pool, processor: Processor) -> None:
    job = await submit(db, "model.pull", request={"model": "no-such-model"})
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "failed" and "file does not exist" in (done.error_message or "")


async def test_load_and_unload_show_in_ps(db: asyncpg.Pool, processor: Processor, sim: Simulator) -> None:
    import httpx

    def loaded() -> list[str]:
        return [model["name"] for model in httpx.get(f"{sim.base_url}/api/ps").json()["models"]]

    load = await submit(db, "model.load", request={"model": "tinyllama", "keep_alive": "30m"})
    assert (await job_reaches(db, load.id, TERMINAL)).status == "completed"
    assert "tinyllama:latest" in loaded()
    unload = await submit(db, "model.unload", request={"model": "tinyllama"})
    assert (await job_reaches(db, unload.id, TERMINAL)).status == "completed"
    await until(lambda: "tinyllama:latest" not in loaded(), within=5, what="model unloaded")


async def test_two_slots_never_load_one_model_twice(
    db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], sim: Simulator
) -> None:
    sim.configure(load_delay=0.5, token_delay=0.01, tokens=5)
    # The first two generations wait after one token until both are in: a slot whose job waited for the
    # load must still get its turn beside the loader's, not only after it (their 50 ms could otherwise
    # end before the waiter's next look at the load lease).
    sim.hold(endpoints=["generate"], after_tokens=1, count=2)
    await start_processor(max_concurrent_jobs=2)
    jobs = await asyncio.gather(*(submit(db, request={"model": "tinyllama", "prompt": f"p{n}"}) for n in range(4)))
    await asyncio.to_thread(sim.wait_held, 2)
    sim.release()
    for job in jobs:
        assert (await job_reaches(db, job.id, TERMINAL)).status == "completed"
    log = [entry for entry in sim.stats()["log"] if entry["endpoint"] == "generate"]
    [load] = [entry for entry in log if not entry["prompt"]]  # one explicit load, by the first job
    generations = [entry for entry in log if entry["prompt"]]
    assert len(generations) == 4
    assert all(entry["start"] >= load["end"] for entry in generations)  # the others waited for that load
    assert sim.stats()["loads"] == 1 and sim.stats()["max_in_flight"] == 2  # both slots were still used


async def test_per_job_timeout_fails_with_timeout(db: asyncpg.Pool, processor: Processor, sim: Simulator) -> None:
    sim.configure(token_delay=0.1, tokens=200)
    job = await submit(db, timeout_seconds=0.5)
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "failed" and done.error_kind == "timeout"
    assert sim.stats()["disconnects"] == 1 and await leases_held(db) == 0
