"""What a job or the GPU lock looks like to a client: the same shapes for the HTTP API and the
Socket.IO events, so a page can treat `job:update` and `GET …/status` alike."""

from __future__ import annotations

import uuid

from app.db import Executor
from app.schemas.hosts import HostView
from app.schemas.jobs import GpuLockView, JobView
from app.services.leases import gpu
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


async def place_view(db: Executor, place: store.Place, slots: int) -> JobView:
    """The status with, for a queued job, its place in the queue, ETA and the leases it waits for."""
    waiting = await submissions.waiting_for(db, place.job)  # no query unless it names extra lease keys
    return status_view(place.job, place.position, submissions.eta_seconds(place), waiting)


async def current_status(db: Executor, job_id: uuid.UUID, slots: int) -> tuple[store.Job, JobView] | None:
    """The job and its status view, read now (one statement), or None if it is gone."""
    place = await store.place(db, job_id)
    if place is None:
        return None
    return place.job, await place_view(db, place, slots)


def lock_view(lock: gpu.GpuLock, hosts: list[HostView] | None = None) -> GpuLockView:
    return GpuLockView(
        hosts=hosts,
        locked=lock.locked,
        capacity=lock.capacity,
        holders=[{**holder.as_dict(), "progress": public_progress(holder.progress)} for holder in lock.holders],  # type: ignore[misc]
        queue_length=lock.queue_length,
    )
