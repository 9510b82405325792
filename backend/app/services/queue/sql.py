"""Every SQL statement that changes a job or a lease, named, in one place.

Rules the statements keep (DESIGN.md, invariants):
- A job's status changes only here, each change one conditional statement (`WHERE status = …`).
- A running job's outcome is written only while it is still `running` with the same `attempt`
  (the fencing token): a worker that lost its lease cannot overwrite the job's new attempt.
- A slot or key has at most one holder because `leases.key` is the primary key; an expired row is
  free and is taken over by the same INSERT … ON CONFLICT that would create it.
- Whatever frees a lease also closes its `lease_history` row and NOTIFYs `aijobs_slot_freed`, so
  waiting processors claim at once.
"""

from __future__ import annotations

# NOTIFY channels. Payloads are short strings (a pool name or a job id), far below NOTIFY's 8000 bytes.
CHANNEL_JOB_QUEUED = "aijobs_job_queued"  # payload: pool
CHANNEL_SLOT_FREED = "aijobs_slot_freed"  # payload: pool
CHANNEL_JOB_CANCEL = "aijobs_job_cancel"  # payload: job id

JOB_COLUMNS = """
    id, user_id, username, job_type, status, priority, pool, request_data, result_data, error_message,
    error_kind, retry_count, max_retries, attempt, run_at, timeout_seconds, queue_deadline, progress,
    details, locks, idempotency_key, cancel_requested_at, worker_id, created_at, started_at,
    finished_at, updated_at
"""

ENQUEUE_JOB = f"""
WITH new_job AS (
    INSERT INTO ai_jobs (user_id, username, job_type, priority, pool, request_data, details, max_retries,
                         timeout_seconds, queue_deadline, idempotency_key, locks)
    VALUES (:user_id, :username, :job_type, :priority, :pool, CAST(:request_data AS jsonb), :details,
            :max_retries, :timeout_seconds, :queue_deadline, :idempotency_key, CAST(:locks AS text[]))
    ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING {JOB_COLUMNS}
), pool_user AS (
    INSERT INTO pool_users (pool, user_id) SELECT pool, user_id FROM new_job ON CONFLICT DO NOTHING
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, 'queued', 0, 'submitted' FROM new_job
)
SELECT new_job.*, pg_notify('{CHANNEL_JOB_QUEUED}', new_job.pool) IS NULL AS notified FROM new_job
"""

JOB_BY_IDEMPOTENCY_KEY = f"""
SELECT {JOB_COLUMNS} FROM ai_jobs WHERE user_id = :user_id AND idempotency_key = :idempotency_key
"""

GET_JOB = f"SELECT {JOB_COLUMNS} FROM ai_jobs WHERE id = :job_id"

# How many queued jobs of the pool run before this one (by priority, then age; fairness can only
# move a job earlier, so this is an upper bound).
QUEUE_POSITION = """
SELECT (SELECT count(*) FROM ai_jobs q
        WHERE q.status = 'queued' AND q.pool = me.pool AND q.priority > me.priority)
     + (SELECT count(*) FROM ai_jobs q
        WHERE q.status = 'queued' AND q.pool = me.pool AND q.priority = me.priority AND q.created_at < me.created_at)
FROM ai_jobs me WHERE me.id = :job_id
"""


# The next job to run: per user, their best queued job (priority, then age) whose extra lease keys
# (`locks`) are all free; across users, priority first, then the user who has waited longest since
# their last claim, then age. Walking users (not
# jobs) keeps this flat however many rows are queued; SKIP LOCKED lets concurrent claimers pass by.
PICK_NEXT_JOB = f"""
SELECT j.* FROM pool_users u
CROSS JOIN LATERAL (
    SELECT {JOB_COLUMNS} FROM ai_jobs
    WHERE pool = u.pool AND user_id = u.user_id AND status = 'queued' AND run_at <= now()
      AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.key = ANY(ai_jobs.locks) AND l.expires_at > now())
    ORDER BY priority DESC, created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
) j
WHERE u.pool = :pool
ORDER BY j.priority DESC, u.last_claimed_at ASC NULLS FIRST, j.created_at
LIMIT 1
"""

# Take the first free key of :keys (a free key has no row, or an expired one). Used for GPU slots

MARK_RUNNING = f"""
WITH started AS (
    UPDATE ai_jobs SET status = 'running', attempt = attempt + 1, worker_id = :worker_id,
                       started_at = now(), updated_at = now(), progress = '{{}}'::jsonb
    WHERE id = :job_id AND status = 'queued' AND attempt = :attempt
    RETURNING {JOB_COLUMNS}
), usage AS (
    UPDATE pool_users SET last_claimed_at = now()
    WHERE (pool, user_id) IN (SELECT pool, user_id FROM started)
), event AS (
    INSERT INTO job_events (job_id, status, attempt, worker_id)
    SELECT id, 'running', attempt, :worker_id FROM started
)
SELECT * FROM started
"""

# A running job extends its leases; an expired lease cannot be renewed (it may already be someone
# else's). Returns the cancel request too, so a cancel NOTIFY that was missed is still seen.
HEARTBEAT = """
UPDATE leases SET expires_at = now() + make_interval(secs => :ttl)
WHERE holder = :holder AND attempt = :attempt AND expires_at > now()
RETURNING key, (SELECT cancel_requested_at FROM ai_jobs WHERE id = CAST(:holder AS uuid)) AS cancel_requested_at
"""

UPDATE_PROGRESS = """
UPDATE ai_jobs SET progress = CAST(:progress AS jsonb), updated_at = now()
WHERE id = :job_id AND status = 'running' AND attempt = :attempt
"""


def _finish_running(set_clause: str, event_status: str) -> str:
    """One fenced statement: write the outcome, free the job's leases, close their history, NOTIFY."""
    return f"""
WITH finished AS (
    UPDATE ai_jobs SET {set_clause}, worker_id = NULL, updated_at = now()
    WHERE id = :job_id AND status = 'running' AND attempt = :attempt
    RETURNING id, status, attempt, pool
), released AS (
    DELETE FROM leases WHERE holder = CAST(:job_id AS text) AND attempt = :attempt RETURNING key
), closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'released'
    WHERE key IN (SELECT key FROM released) AND released_at IS NULL
), event AS (
    INSERT INTO job_events (job_id, status, attempt, worker_id, message)
    SELECT id, '{event_status}', attempt, :worker_id, :message FROM finished
)
SELECT finished.id, finished.status,
       pg_notify('{CHANNEL_SLOT_FREED}', finished.pool) IS NULL AS slot_notified
FROM finished
"""


COMPLETE_JOB = _finish_running(
    "status = 'completed', result_data = CAST(:result AS jsonb), progress = CAST(:progress AS jsonb), "
    "error_message = NULL, error_kind = NULL, finished_at = now()",
    "completed",
)

FAIL_JOB = _finish_running(
    "status = 'failed', error_message = :message, error_kind = :error_kind, "
    "progress = CAST(:progress AS jsonb), finished_at = now()",
    "failed",
)

# Back to the queue after a transient failure, not before :delay seconds.
RETRY_JOB = _finish_running(
    "status = 'queued', retry_count = retry_count + 1, run_at = now() + make_interval(secs => :delay), "
    "error_message = :message, error_kind = 'transient'",
    "queued",
)

CANCEL_RUNNING_JOB = _finish_running(
    "status = 'cancelled', error_message = :message, error_kind = 'cancelled', "
    "progress = CAST(:progress AS jsonb), finished_at = now()",
    "cancelled",
)

# Graceful shutdown: the job did nothing wrong, so this is not a retry.
REQUEUE_JOB = _finish_running("status = 'queued', run_at = now()", "queued")

CANCEL_QUEUED_JOB = """
WITH cancelled AS (
    UPDATE ai_jobs SET status = 'cancelled', error_kind = 'cancelled', error_message = :message,
                       cancel_requested_at = now(), finished_at = now(), updated_at = now()
    WHERE id = :job_id AND status = 'queued'
    RETURNING id, status, attempt
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, 'cancelled', attempt, :message FROM cancelled
)
SELECT id, status FROM cancelled
"""

# A running job is stopped by the process that runs it: it LISTENs on this channel.
REQUEST_CANCEL_RUNNING_JOB = f"""
UPDATE ai_jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
WHERE id = :job_id AND status = 'running'
RETURNING id, status, pg_notify('{CHANNEL_JOB_CANCEL}', CAST(id AS text)) IS NULL AS notified
"""

# The rescuer: a running job with no live lease lost its worker (crash, kill -9, partition). It goes
# back to the queue (or fails when its retries are used up, or ends cancelled if that was asked).
RESCUE_LOST_JOBS = f"""
WITH lost AS (
    SELECT j.id FROM ai_jobs j
    WHERE j.status = 'running'
      AND NOT EXISTS (SELECT 1 FROM leases l
                      WHERE l.holder = CAST(j.id AS text) AND l.attempt = j.attempt AND l.expires_at > now())
    FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE ai_jobs j SET
        status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                      WHEN j.retry_count < j.max_retries THEN 'queued' ELSE 'failed' END,
        retry_count = CASE WHEN j.cancel_requested_at IS NOT NULL THEN j.retry_count ELSE j.retry_count + 1 END,
        error_kind = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'lost' END,
        error_message = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'Cancelled (its worker had stopped).'
                             ELSE 'Its worker ' || coalesce(j.worker_id, '?') || ' stopped renewing the GPU lease '
                                  || '(crashed or was killed); the job was re-queued.' END,
        finished_at = CASE WHEN j.cancel_requested_at IS NOT NULL OR j.retry_count >= j.max_retries
                           THEN now() END,
        run_at = now(), worker_id = NULL, updated_at = now()
    FROM lost WHERE j.id = lost.id
    RETURNING j.id, j.status, j.attempt, j.pool
), swept AS (
    DELETE FROM leases WHERE expires_at <= now() RETURNING key
), closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'expired'
    WHERE key IN (SELECT key FROM swept) AND released_at IS NULL
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message)
    SELECT id, status, attempt, 'rescued: lease expired' FROM rescued
)
SELECT rescued.id, rescued.status, pg_notify('{CHANNEL_JOB_QUEUED}', rescued.pool) IS NULL AS notified
FROM rescued
"""

# Queued jobs whose queue_deadline passed fail with error_kind 'queue_timeout'.
EXPIRE_QUEUED_JOBS = """
WITH expired AS (
    UPDATE ai_jobs SET status = 'failed', error_kind = 'queue_timeout', finished_at = now(), updated_at = now(),
        error_message = 'Could not start before its queue deadline ('
                        || to_char(queue_deadline, 'YYYY-MM-DD HH24:MI:SS TZ') || '): the GPU stayed busy.'
    WHERE status = 'queued' AND queue_deadline IS NOT NULL AND queue_deadline <= now()
    RETURNING id, status, attempt
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, status, attempt, 'queue deadline passed'
    FROM expired
)
SELECT id FROM expired
"""

# When the next delayed job of the pool becomes eligible, so an idle processor wakes exactly then.
NEXT_RUN_AT = """
SELECT min(run_at) FROM ai_jobs WHERE pool = :pool AND status = 'queued' AND run_at > now()
"""


# ---- the job API (issue: HTTP API) ---------------------------------------------------------------

# Counted only up to the quota: the answer is "under" or "at" the limit, however deep the queue.
QUEUED_COUNT_FOR_USER = """
SELECT count(*) FROM (
    SELECT 1 FROM ai_jobs WHERE pool = :pool AND user_id = :user_id AND status = 'queued' LIMIT :limit
) mine
"""

# Failed or cancelled → queued again, as a new attempt with its history kept in job_events.
RETRY_ENDED_JOB = f"""
WITH retried AS (
    UPDATE ai_jobs SET status = 'queued', run_at = now(), error_message = NULL, error_kind = NULL,
                       cancel_requested_at = NULL, finished_at = NULL, started_at = NULL, worker_id = NULL,
                       result_data = NULL, progress = '{{}}'::jsonb, updated_at = now()
    WHERE id = :job_id AND status IN ('failed', 'cancelled')
    RETURNING id, status, attempt, pool
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, 'queued', attempt, :message FROM retried
)
SELECT retried.id, pg_notify('{CHANNEL_JOB_QUEUED}', retried.pool) IS NULL AS notified FROM retried
"""

# Newest first, keyset-paginated by (created_at, id); every filter optional.
LIST_JOBS = f"""
SELECT {JOB_COLUMNS} FROM ai_jobs
WHERE (CAST(:user_id AS text) IS NULL OR user_id = :user_id)
  AND (CAST(:status AS text[]) IS NULL OR status = ANY(CAST(:status AS text[])))
  AND (CAST(:job_type AS text) IS NULL OR job_type = :job_type)
  AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since)
  AND (CAST(:before_created AS timestamptz) IS NULL
       OR (created_at, id) < (CAST(:before_created AS timestamptz), CAST(:before_id AS uuid)))
ORDER BY created_at DESC, id DESC
LIMIT :limit
"""

# Per job type (and a total row with job_type NULL): counts, success rate, run and wait times.
JOB_STATS = """
SELECT job_type,
       count(*) AS total,
       count(*) FILTER (WHERE status = 'queued') AS queued,
       count(*) FILTER (WHERE status = 'running') AS running,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       sum(retry_count) AS retries,
       avg(EXTRACT(EPOCH FROM finished_at - started_at)) FILTER (WHERE status = 'completed') AS run_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))
           FILTER (WHERE status = 'completed') AS run_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))
           FILTER (WHERE status = 'completed') AS run_p95,
       avg(EXTRACT(EPOCH FROM started_at - created_at)) FILTER (WHERE started_at IS NOT NULL) AS wait_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - created_at))
           FILTER (WHERE started_at IS NOT NULL) AS wait_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - created_at))
           FILTER (WHERE started_at IS NOT NULL) AS wait_p95
FROM ai_jobs
WHERE (CAST(:user_id AS text) IS NULL OR user_id = :user_id)
  AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since)
GROUP BY GROUPING SETS ((job_type), ())
ORDER BY job_type NULLS FIRST
"""

# Mean run time of the pool's recent completed jobs: the basis of an ETA.
RECENT_RUN_SECONDS = """
SELECT avg(seconds) FROM (
    SELECT EXTRACT(EPOCH FROM finished_at - started_at) AS seconds FROM ai_jobs
    WHERE pool = :pool AND status = 'completed' AND started_at IS NOT NULL
    ORDER BY finished_at DESC LIMIT 50
) recent
"""

# Exact up to QUEUE_LENGTH_CAP: counting a pathological 100k-deep queue on every status call would
# cost more than the number is worth (the stats endpoint counts exactly).
QUEUE_LENGTH_CAP = 10_000
QUEUE_LENGTH = f"""
SELECT count(*) FROM (SELECT 1 FROM ai_jobs WHERE pool = :pool AND status = 'queued' LIMIT {QUEUE_LENGTH_CAP}) q
"""

# Finished jobs past retention; never queued or running ones (their events go with them, by cascade).
DELETE_OLD_JOBS = """
WITH old AS (
    SELECT id FROM ai_jobs
    WHERE status IN ('completed', 'failed', 'cancelled')
      AND finished_at < now() - CAST(:days AS float8) * interval '1 day'
    ORDER BY finished_at LIMIT :batch
)
DELETE FROM ai_jobs WHERE id IN (SELECT id FROM old) RETURNING id
"""
