"""ETAs from jobs of known length (no database: the arithmetic on what the queue reports)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from app.models.job import JobStatus
from app.services.queue import store
from app.services.queue.submissions import MIN_SECONDS_LEFT, eta_seconds

NOW = datetime.now(UTC)


def job(job_type: str = "report") -> store.Job:
    return store.Job(
        id=uuid.uuid4(), user_id="bob", username="bob", job_type=job_type, status=JobStatus.QUEUED, priority=0,
        pool="gpu", request_data={}, result_data=None, error_message=None, error_kind=None, retry_count=0,
        max_retries=3, attempt=0, run_at=NOW, timeout_seconds=None, queue_deadline=None, progress={}, details=None,
        locks=[], idempotency_key=None, cancel_requested_at=None, worker_id=None, created_at=NOW, started_at=None,
        finished_at=None, updated_at=NOW,
    )  # fmt: skip


def holder(job_type: str | None, elapsed: float, expires_in: float = 30.0) -> dict:
    return {"job_type": job_type, "elapsed_seconds": elapsed, "expires_in": expires_in}


def test_a_report_running_for_53_s_with_two_ahead_is_not_a_second_away() -> None:
    """The page once said "starts in ~1 s" here: reports take 60 s, one has run 53 s, two wait ahead."""
    place = store.Place(
        job=job(), position=2, holders=[holder("report", 53.0)], ahead={"report": 2}, mean_seconds={"report": 60.0}
    )
    assert eta_seconds(place) == 7.0 + 2 * 60.0


def test_a_job_running_longer_than_usual_still_counts_a_few_seconds() -> None:
    place = store.Place(job=job(), position=0, holders=[holder("report", 90.0)], mean_seconds={"report": 60.0})
    assert eta_seconds(place) == MIN_SECONDS_LEFT


def test_mixed_job_types_ahead_count_each_at_its_own_mean() -> None:
    place = store.Place(
        job=job("generate"),
        position=3,
        holders=[holder("generate", 1.0)],
        ahead={"generate": 2, "report": 1},
        mean_seconds={"generate": 5.0, "report": 65.0},
    )
    assert eta_seconds(place) == 4.0 + 3 * (2 * 5.0 + 65.0) / 3


def test_no_history_means_no_estimate_not_a_made_up_number() -> None:
    place = store.Place(job=job(), position=1, holders=[holder("report", 5.0)], mean_seconds={"report": None})
    assert eta_seconds(place) is None


def test_a_free_slot_means_it_starts_now_and_slots_share_the_work() -> None:
    free = store.Place(job=job(), position=0, holders=[], mean_seconds={"report": 60.0}, slots=2)
    assert eta_seconds(free) == 0.0
    busy = store.Place(
        job=job(), position=2, holders=[holder("report", 10.0), holder("report", 20.0)], ahead={"report": 2},
        mean_seconds={"report": 60.0}, slots=2,
    )  # fmt: skip
    assert eta_seconds(busy) == (50.0 + 40.0 + 120.0) / 2


def test_a_maintenance_hold_counts_until_its_lease_ends() -> None:
    place = store.Place(job=job(), position=0, holders=[holder(None, 10.0, expires_in=600.0)], mean_seconds={})
    assert eta_seconds(place) == 600.0
