"""Job endpoints under /api/ai-agent (the seeds' paths, so their curl lines work)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, status

from app.routes.deps import AppSettings, Conn, CurrentUser
from app.schemas.jobs import CancelResponse, JobAccepted, JobResult, JobStatus, SubmitJob
from app.services import jobs

router = APIRouter(prefix="/api/ai-agent", tags=["jobs"])


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def submit_job(
    body: SubmitJob,
    conn: Conn,
    user: CurrentUser,
    settings: AppSettings,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobAccepted:
    """Queue any registered job type; answers at once with the job id."""
    enqueued = await jobs.submit(conn, user, body, settings, idempotency_key)
    job = enqueued.job
    message = "Job queued" if enqueued.created else "Job already submitted with this Idempotency-Key"
    return JobAccepted(job_id=job.id, status=job.status, message=message, position=await jobs.position(conn, job))


@router.get("/job/{job_id}/status", response_model=JobStatus)
async def job_status(job_id: uuid.UUID, conn: Conn, user: CurrentUser) -> JobStatus:
    job = await jobs.get_owned(conn, user, job_id)
    return JobStatus(
        job_id=job.id,
        job_type=job.job_type,
        status=job.status,
        progress=job.progress,
        position=await jobs.position(conn, job),
        retry_count=job.retry_count,
        max_retries=job.max_retries,
        attempt=job.attempt,
        error_message=job.error_message,
        error_kind=job.error_kind,
        details=job.details,
        username=job.username,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.get("/job/{job_id}/result", response_model=JobResult)
async def job_result(job_id: uuid.UUID, conn: Conn, user: CurrentUser) -> JobResult:
    job = await jobs.get_owned(conn, user, job_id)
    return JobResult(job_id=job.id, status=job.status, result=job.result_data)


@router.post("/job/{job_id}/cancel", response_model=CancelResponse)
async def cancel_job(job_id: uuid.UUID, conn: Conn, user: CurrentUser) -> CancelResponse:
    """Cancel a queued job at once, or stop a running one on the GPU (through whichever process runs it)."""
    new_status = await jobs.cancel(conn, user, job_id)
    message = "Job cancelled" if new_status == "cancelled" else "Cancel sent to the worker running the job"
    return CancelResponse(job_id=job_id, status=new_status, message=message)
