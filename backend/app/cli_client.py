"""The terminal client: `aijobs submit|status|jobs|lock|cancel`, talking to a running aijobs over HTTP
with a token (AIJOBS_URL, AIJOBS_TOKEN, or --url/--token)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import httpx

from app.models.job import TERMINAL_STATUSES


class ClientError(Exception):
    pass


def _client(args: argparse.Namespace) -> httpx.AsyncClient:
    token = args.token or os.environ.get("AIJOBS_TOKEN")
    if not token:
        raise ClientError("No token: pass --token or set AIJOBS_TOKEN (an API key from `aijobs users create`).")
    url = args.url or os.environ.get("AIJOBS_URL", "http://127.0.0.1:8000")
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TransportError as error:
        raise ClientError(f"Cannot reach aijobs at {client.base_url}: {error}") from error
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        raise ClientError(f"{response.status_code}: {message}")
    return response.json() if response.content else None


def _line(job: dict[str, Any]) -> str:
    progress = job.get("progress") or {}
    parts = [f"{job['job_id']}  {job['job_type']:<10} {job['status']:<10}"]
    if job.get("position") is not None:
        parts.append(f"position {job['position']}")
    if progress.get("percent") is not None:
        parts.append(f"{progress['percent']}%")
    if progress.get("message"):
        parts.append(str(progress["message"]))
    if job.get("error_message"):
        parts.append(f"error: {job['error_message']}")
    return "  ".join(parts)


async def _follow(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """Show progress until the job ends; streamed text is printed as it grows."""
    shown_text = 0
    last = ""
    while True:
        job = await _call(client, "GET", f"/api/ai-agent/job/{job_id}/status")
        text = (job.get("progress") or {}).get("text", "")
        if len(text) > shown_text:
            sys.stdout.write(text[shown_text:])
            sys.stdout.flush()
            shown_text = len(text)
        elif not text and _line(job) != last:
            last = _line(job)
            print(last, file=sys.stderr)
        if job["status"] in TERMINAL_STATUSES:
            if shown_text:
                print()
            return job
        await asyncio.sleep(0.5)  # the status endpoint is one indexed read; twice a second is gentle


async def cmd_submit(args: argparse.Namespace) -> int:
    try:
        request = json.loads(args.json)
    except json.JSONDecodeError as error:
        raise ClientError(f"--json is not valid JSON: {error}") from error
    body: dict[str, Any] = {"job_type": args.type, "request": request}
    if args.details:
        body["details"] = args.details
    if args.priority is not None:
        body["priority"] = args.priority
    async with _client(args) as client:
        accepted = await _call(client, "POST", "/api/ai-agent/jobs", json=body)
        lock = accepted.get("lock") or {}
        holders = ", ".join(f"{h['username']} ({h['operation']})" for h in lock.get("holders", [])) or "nobody"
        print(f"queued {accepted['job_id']}  position {accepted['position']}  GPU held by: {holders}", file=sys.stderr)
        if not args.wait:
            print(accepted["job_id"])
            return 0
        job = await _follow(client, accepted["job_id"])
        if job["status"] != "completed":
            print(_line(job), file=sys.stderr)
            return 1
        if args.result:
            print(
                json.dumps(
                    (await _call(client, "GET", f"/api/ai-agent/job/{job['job_id']}/result"))["result"], indent=2
                )
            )
        return 0


async def cmd_status(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        print(_line(await _call(client, "GET", f"/api/ai-agent/job/{args.job_id}/status")))
    return 0


async def cmd_jobs(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    if args.status:
        params["status"] = args.status
    async with _client(args) as client:
        page = await _call(client, "GET", "/api/ai-agent/jobs", params=params)
    if not page["jobs"]:
        print("No jobs.")
    for job in page["jobs"]:
        print(_line(job))
    return 0


async def cmd_lock(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        lock = await _call(client, "GET", "/api/ai-agent/lock")
    if not lock["holders"]:
        print(f"GPU free ({lock['capacity']} slot(s)); {lock['queue_length']} job(s) queued.")
    for holder in lock["holders"]:
        minutes = holder["elapsed_seconds"] / 60
        print(
            f"{holder['key']}: {holder['operation']} · {holder['details'] or '-'} · started by {holder['username']}"
            f" · {minutes:.1f} min ago"
        )
    if lock["holders"]:
        print(f"{lock['queue_length']} job(s) queued.")
    return 0


async def cmd_cancel(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        print((await _call(client, "POST", f"/api/ai-agent/job/{args.job_id}/cancel"))["message"])
    return 0


def add_parsers(commands: argparse._SubParsersAction) -> None:
    def connection(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--url", help="aijobs base URL (default: AIJOBS_URL or http://127.0.0.1:8000)")
        parser.add_argument("--token", help="your API key or token (default: AIJOBS_TOKEN)")
        return parser

    submit = connection(commands.add_parser("submit", help="submit a job, e.g. submit generate --json '{…}' --wait"))
    submit.add_argument("type", help="job type: generate, chat, embed, canvas, report, …")
    submit.add_argument("--json", required=True, help='the job\'s request as JSON, e.g. \'{"model":…,"prompt":…}\'')
    submit.add_argument("--details", help="a human summary shown in the GPU lock")
    submit.add_argument("--priority", type=int, help="higher runs first (above 0: admins only)")
    submit.add_argument("--wait", action="store_true", help="show progress until the job ends")
    submit.add_argument("--result", action="store_true", help="with --wait: print the result JSON at the end")
    submit.set_defaults(client_handler=cmd_submit)

    status = connection(commands.add_parser("status", help="one job's status"))
    status.add_argument("job_id")
    status.set_defaults(client_handler=cmd_status)

    jobs = connection(commands.add_parser("jobs", help="your recent jobs, newest first"))
    jobs.add_argument("--status", choices=["queued", "running", "completed", "failed", "cancelled"])
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(client_handler=cmd_jobs)

    lock = connection(commands.add_parser("lock", help="who holds the GPU, doing what, since when"))
    lock.set_defaults(client_handler=cmd_lock)

    cancel = connection(commands.add_parser("cancel", help="cancel a job (queued or running)"))
    cancel.add_argument("job_id")
    cancel.set_defaults(client_handler=cmd_cancel)


def run(args: argparse.Namespace) -> int:
    try:
        return int(asyncio.run(args.client_handler(args)))
    except ClientError as error:
        print(f"aijobs: {error}", file=sys.stderr)
        return 1
