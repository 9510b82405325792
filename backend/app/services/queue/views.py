"""What a job or the GPU lock looks like to a client: the same shapes for the HTTP API and the
Socket.IO events, so a page can treat `job:update` and `GET …/status` alike."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.job import JobStatus
from app.schemas.jobs import GpuLockView, JobView
from app.services.leases import gpu
from app.services.leases import service as leases
from app.services.queue import store, submissions
from app.services.queue.progress import public_progress


def status_view(
    job: store.Job, position: int | None = None, eta: float | None = None, waiting_for: list[str] | None = None
) -> JobView:
    return JobView(
        job_id=job.id,
        job_type=job.job_type,
        status=job.status,
        progress=job.progress,
        position=position,
        eta_seconds=eta,
        waiting_for=waiting_for or [],
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


async def current_status(conn: AsyncConnection, job: store.Job, capacity: int) -> JobView:
    """The status with, for a queued job, its place in the queue, ETA and the leases it waits for."""
    if job.status != JobStatus.QUEUED:
        return status_view(job)
    place = await submissions.position(conn, job)
    holders = await leases.active(conn, keys=gpu.slot_keys(job.pool, capacity))  # not the queue length: unused
    eta = await submissions.eta_seconds(conn, job, place, holders, capacity)
    return status_view(job, place, eta, await submissions.waiting_for(conn, job))


def lock_view(lock: gpu.GpuLock) -> GpuLockView:
    return GpuLockView(
        locked=lock.locked,
        capacity=lock.capacity,
        holders=[{**holder.as_dict(), "progress": public_progress(holder.progress)} for holder in lock.holders],  # type: ignore[misc]
        queue_length=lock.queue_length,
    )
