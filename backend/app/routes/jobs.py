"""Job endpoints under /api/ai-agent (the seeds' paths, so their curl lines work)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Header, Query, Request, status
from fastapi.responses import JSONResponse, Response

from app.errors import InvalidInput
from app.models.job import TERMINAL_STATUSES, JobStatus
from app.routes.deps import AppSettings, CurrentUser
from app.schemas.jobs import (
    CancelResponse,
    JobAccepted,
    JobList,
    JobResult,
    JobStats,
    JobTypes,
    JobView,
    RetryResponse,
    SubmitJob,
)
from app.services.accounts.users import User
from app.services.job_types import JOB_TYPES
from app.services.queue import submissions, views
from app.services.queue.views import lock_view, status_view
from app.services.usage import service as usage

router = APIRouter(prefix="/api/ai-agent", tags=["jobs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad token"},
    404: {"description": "No such job (or not yours)"},
    422: {"description": "Invalid input; the message names the field"},
}
SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"model": JobResult, "description": "With `?wait=`: the job ended within the wait; its result."},
    401: {"description": "No or bad token"},
    403: {"description": "Priority above the default without being an admin"},
    409: {"description": "`if_busy=reject` and the GPU is held: the holder, in the seeds' words"},
    413: {"description": "Body over MAX_REQUEST_BYTES"},
    422: {"description": "Invalid input; the message names the field"},
    429: {"description": "Over MAX_QUEUED_PER_USER; see Retry-After"},
}

IfBusy = Annotated[
    str | None,
    Query(pattern="^(queue|reject)$", description="`reject`: answer 409 naming the holder instead of queueing."),
]
Wait = Annotated[
    float | None,
    Query(
        ge=0,
        description="Wait up to this many seconds for the job to end and answer 200 with its result. Any wait is "
        "accepted and capped at MAX_WAIT_SECONDS (60 by default); a 202 says the wait used in `wait_seconds`.",
    ),
]
IdempotencyKey = Annotated[
    str | None, Header(max_length=200, description="The same key from the same user returns the same job.")
]
Prefer = Annotated[str | None, Header(description="`if-busy=reject` does what `?if_busy=reject` does.")]


Staged = Callable[[asyncpg.Connection], Awaitable[SubmitJob]]


async def queue_job(
    request: Request,
    user: User,
    body: SubmitJob | Staged,
    *,
    idempotency_key: str | None = None,
    reject_if_busy: bool = False,
    with_place: bool = True,
) -> submissions.Submitted:
    """The one way a route queues a job: submit it, then tell Socket.IO clients. `body` may be a function
    that writes what the job refers to (a training set) and returns the submission: both are then one
    transaction, so a refused job leaves nothing behind."""
    settings = request.app.state.settings
    if isinstance(body, SubmitJob):  # one statement each, auto-committed: no transaction round trips
        submitted = await submissions.submit(
            request.app.state.db,
            user,
            body,
            settings,
            idempotency_key,
            reject_if_busy=reject_if_busy,
            with_place=with_place,
        )
    else:
        async with request.app.state.db.acquire() as conn, conn.transaction():
            submitted = await submissions.submit(
                conn,
                user,
                await body(conn),
                settings,
                idempotency_key,
                reject_if_busy=reject_if_busy,
                with_place=with_place,
            )
    request.app.state.events.job_submitted(submitted)  # after the commit: the job is there to be read
    return submitted


async def submit_and_answer(
    request: Request,
    user: User,
    body: SubmitJob | Staged,
    *,
    idempotency_key: str | None,
    if_busy: str | None,
    prefer: str | None,
    wait: float | None,
) -> JobAccepted | JSONResponse:
    """Submit (committed before any wait, so a processor can see the job) and answer 202, or with
    `wait`, 200 with the result if it ended in time."""
    settings = request.app.state.settings
    reject = if_busy == "reject" or (prefer is not None and "if-busy=reject" in prefer.replace(" ", "").lower())
    submitted = await queue_job(request, user, body, idempotency_key=idempotency_key, reject_if_busy=reject)
    job = submitted.job
    assert submitted.lock is not None  # submitted with its place
    waited = None if wait is None else min(wait, settings.max_wait_seconds)
    if waited:
        ended = await submissions.wait_for_end(request.app.state.db, job.id, waited)
        if ended is not None:
            result = JobResult(
                job_id=ended.id, status=ended.status, result=ended.result_data, error_message=ended.error_message
            )
            return JSONResponse(result.model_dump(mode="json"), status_code=200)
    message = "Job queued" if submitted.created else "Job already submitted with this Idempotency-Key"
    return JobAccepted(
        job_id=job.id,
        status=job.status,
        message=message,
        position=submitted.position,
        eta_seconds=submitted.eta_seconds,
        lock=lock_view(submitted.lock),
        wait_seconds=waited,
    )


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=SUBMIT_ERRORS)
async def submit_job(
    request: Request,
    body: SubmitJob,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
    prefer: Prefer = None,
    if_busy: IfBusy = None,
    wait: Wait = None,
) -> Any:
    """Queue any registered job type; answers at once with the job id, its place in the queue and who
    holds the GPU."""
    return await submit_and_answer(
        request, user, body, idempotency_key=idempotency_key, if_busy=if_busy, prefer=prefer, wait=wait
    )


SHORTCUT_FIELDS = {"details", "priority", "max_retries", "timeout_seconds", "queue_deadline_seconds", "locks"}


def _shortcut(job_type: str, body: dict[str, Any]) -> SubmitJob:
    """`/create-canvas` and `/reports` take the job's own fields at the top level, as the seeds do."""
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.", {"field": "body"})
    common = {key: body[key] for key in SHORTCUT_FIELDS if key in body}
    request = {key: value for key, value in body.items() if key not in SHORTCUT_FIELDS}
    return SubmitJob(job_type=job_type, request=request, **common)


@router.post(
    "/create-canvas", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=SUBMIT_ERRORS
)
async def create_canvas(
    request: Request,
    user: CurrentUser,
    body: Annotated[
        dict[str, Any],
        Body(examples=[{"instructions": "Incident response flow", "style": "flowchart", "colorScheme": "blue"}]),
    ],
    idempotency_key: IdempotencyKey = None,
    prefer: Prefer = None,
    if_busy: IfBusy = None,
    wait: Wait = None,
) -> Any:
    """Queue a canvas diagram (`instructions`, `style`, `colorScheme`); same answer as POST /jobs."""
    return await submit_and_answer(
        request,
        user,
        _shortcut("canvas", body),
        idempotency_key=idempotency_key,
        if_busy=if_busy,
        prefer=prefer,
        wait=wait,
    )


@router.post("/reports", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=SUBMIT_ERRORS)
async def create_report(
    request: Request,
    user: CurrentUser,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[
                {
                    "title": "ACME Breach",
                    "details": "Case: ACME Breach (ID: 5)",
                    "sections": [{"heading": "Findings", "instructions": "Summarise the findings."}],
                }
            ]
        ),
    ],
    idempotency_key: IdempotencyKey = None,
    prefer: Prefer = None,
    if_busy: IfBusy = None,
    wait: Wait = None,
) -> Any:
    """Queue a multi-section report (`title`, `details`, `context`, `sections`); same answer as POST /jobs."""
    submit = _shortcut("report", body)
    if submit.details is None and isinstance(body.get("title"), str):
        submit.details = body["title"][:500]
    return await submit_and_answer(
        request, user, submit, idempotency_key=idempotency_key, if_busy=if_busy, prefer=prefer, wait=wait
    )


@router.get("/job/{job_id}/status", response_model=JobView, responses=ERRORS)
async def job_status(job_id: uuid.UUID, request: Request, user: CurrentUser, settings: AppSettings) -> Response:
    db = request.app.state.db
    place = await submissions.get_owned_place(db, user, job_id, settings.max_concurrent_jobs)
    view = await views.place_view(db, place, settings.max_concurrent_jobs)
    # Serialized by pydantic straight to JSON: clients poll this, and FastAPI's path (validate the model it
    # was given, dump it to Python, encode that) costs more than the view does.
    return Response(view.model_dump_json(), media_type="application/json")


@router.get(
    "/job/{job_id}/result",
    response_model=JobResult,
    responses={**ERRORS, 409: {"description": "Not finished yet: the status says where it is"}},
)
async def job_result(job_id: uuid.UUID, request: Request, user: CurrentUser) -> Any:
    """The result once completed; 409 with the status while it is not; the error when it failed."""
    job = await submissions.get_owned(request.app.state.db, user, job_id)
    if job.status not in TERMINAL_STATUSES:
        body = {
            "error": {
                "code": "not_finished",
                "message": f"Job {job.id} is {job.status}; its result is not ready yet.",
                "details": {"status": job.status, "progress": job.progress},
            }
        }
        return JSONResponse(body, status_code=409)
    return JobResult(job_id=job.id, status=job.status, result=job.result_data, error_message=job.error_message)


@router.post(
    "/job/{job_id}/cancel",
    response_model=CancelResponse,
    responses={**ERRORS, 409: {"description": "The job already ended"}},
)
async def cancel_job(job_id: uuid.UUID, request: Request, user: CurrentUser) -> CancelResponse:
    """Cancel a queued job at once, or stop a running one on the GPU (through whichever process runs it)."""
    new_status = await submissions.cancel(request.app.state.db, user, job_id)
    request.app.state.events.job_changed(job_id)
    message = "Job cancelled" if new_status == JobStatus.CANCELLED else "Cancel sent to the worker running the job"
    return CancelResponse(job_id=job_id, status=new_status, message=message)


@router.post(
    "/job/{job_id}/retry",
    response_model=RetryResponse,
    responses={**ERRORS, 409: {"description": "Only failed or cancelled jobs can be retried"}},
)
async def retry_job(job_id: uuid.UUID, request: Request, user: CurrentUser) -> RetryResponse:
    """Queue a failed or cancelled job again (its history is kept)."""
    job = await submissions.retry(request.app.state.db, user, job_id, request.app.state.settings)
    request.app.state.events.job_changed(job.id)
    return RetryResponse(job_id=job.id, status=job.status, message="Job queued again")


StatusFilter = Annotated[
    list[str] | None,
    Query(description="Only these statuses (repeat the parameter for several).", alias="status"),
]


@router.get("/jobs", response_model=JobList, responses=ERRORS)
async def list_jobs(
    request: Request,
    user: CurrentUser,
    statuses: StatusFilter = None,
    type_filter: Annotated[str | None, Query(alias="type", max_length=100, description="Only this job type.")] = None,
    job_type: Annotated[
        str | None, Query(max_length=100, description="The same as `type`, named as the jobs name it.")
    ] = None,
    since: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    all_users: Annotated[bool, Query(alias="all", description="Admins: everyone's jobs.")] = False,
) -> JobList:
    """Your jobs, newest first, with cursor pagination."""
    for value in statuses or []:
        if value not in JobStatus.__members__.values():
            raise InvalidInput(
                f"Unknown status {value!r}: use queued, running, completed, failed or cancelled.", {"field": "status"}
            )
    job_type = _job_type_filter(type_filter, job_type)
    page, next_cursor = await submissions.list_jobs(
        request.app.state.db,
        user,
        statuses=statuses,
        job_type=job_type,
        since=since,
        cursor=cursor,
        limit=limit,
        all_users=all_users,
    )
    return JobList(jobs=[status_view(job) for job in page], next_cursor=next_cursor)


def _job_type_filter(type_filter: str | None, job_type: str | None) -> str | None:
    """`?type=` or `?job_type=` (each job names its type `job_type`: a filter by that name was ignored,
    and the list came back unfiltered). A type no job can have is an error, not an empty list."""
    if type_filter is not None and job_type is not None and type_filter != job_type:
        raise InvalidInput(
            f"Two job types asked for ({type_filter!r} and {job_type!r}): give one, as `type` or `job_type`.",
            {"field": "job_type"},
        )
    wanted = type_filter if type_filter is not None else job_type
    if wanted is not None and wanted not in JOB_TYPES:
        raise InvalidInput(
            f"Unknown job type {wanted!r}: use one of {', '.join(sorted(JOB_TYPES))}.", {"field": "job_type"}
        )
    return wanted


@router.get("/jobs/stats", response_model=JobStats, responses=ERRORS)
async def job_stats(
    request: Request,
    user: CurrentUser,
    since: datetime | None = None,
    all_users: Annotated[bool, Query(alias="all", description="Admins: everyone's jobs.")] = False,
) -> dict[str, Any]:
    """Counts by status and type, success rate, run and wait times (mean, p50, p95), queue length, and
    token usage today and over the last 7 days."""
    everyone = all_users and user.is_admin
    figures = await submissions.stats(request.app.state.db, user, since=since, all_users=all_users)
    async with request.app.state.engine.connect() as conn:
        figures["usage"] = await usage.by_user(conn) if everyone else [await usage.of_user(conn, user.id)]
    return figures


@router.get("/job-types", response_model=JobTypes, responses={401: {"description": "No or bad token"}})
async def job_types(_user: CurrentUser) -> JobTypes:
    """The job types this service runs: what each is called, what the lock shows while it runs, how its
    result is shown, its defaults. Each type's request fields are in this schema under `POST /jobs`."""
    return JobTypes.model_validate({"job_types": [kind.as_dict() for kind in JOB_TYPES.values()]})
