"""Every statement on leases: the GPU slots and any other named resource share one table.

- A key has at most one holder because `leases.key` is the primary key; an expired row is free and is
  taken over by the same INSERT … ON CONFLICT that would create it.
- Whatever frees a lease also closes its `lease_history` row (released · expired · force_released).
"""

from __future__ import annotations

from app.services.queue.sql import CHANNEL_JOB_CANCEL, CHANNEL_SLOT_FREED

# Cheap pre-check before a claim: are all slots of the pool held (and not expired)?
HELD_SLOT_COUNT = """
SELECT count(*) FROM leases WHERE key = ANY(CAST(:keys AS text[])) AND expires_at > now()
"""

# and named resources alike. Returns no row when every key is held.
ACQUIRE_LEASE = """
WITH free AS (
    SELECT k.key FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS k(key, n)
    WHERE NOT EXISTS (SELECT 1 FROM leases l WHERE l.key = k.key AND l.expires_at > now())
    ORDER BY k.n
    LIMIT 1
), acquired AS (
    INSERT INTO leases AS l (key, holder, attempt, operation, details, user_id, username, task_ref,
                             acquired_at, expires_at)
    SELECT key, :holder, :attempt, :operation, :details, :user_id, :username, :task_ref,
           now(), now() + make_interval(secs => :ttl)
    FROM free
    ON CONFLICT (key) DO UPDATE SET
        holder = excluded.holder, attempt = excluded.attempt, operation = excluded.operation,
        details = excluded.details, user_id = excluded.user_id, username = excluded.username,
        task_ref = excluded.task_ref, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
    WHERE l.expires_at <= now()
    RETURNING l.*
), expired AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'expired'
    WHERE key IN (SELECT key FROM acquired) AND released_at IS NULL
), recorded AS (
    INSERT INTO lease_history (key, holder, operation, details, user_id, username, task_ref, acquired_at)
    SELECT key, holder, operation, details, user_id, username, task_ref, acquired_at FROM acquired
)
SELECT key, acquired_at, expires_at FROM acquired
"""

LEASE_COLUMNS = "key, holder, attempt, operation, details, user_id, username, task_ref, acquired_at, expires_at"

# Live leases, with the holding job's progress when a job holds one.
ACTIVE_LEASES = f"""
SELECT l.{LEASE_COLUMNS.replace(", ", ", l.")}, j.progress AS job_progress, j.status AS job_status
FROM leases l LEFT JOIN ai_jobs j ON l.task_ref = 'job:' || j.id::text
WHERE l.expires_at > now() AND (CAST(:keys AS text[]) IS NULL OR l.key = ANY(CAST(:keys AS text[])))
  AND (CAST(:prefix AS text) IS NULL OR l.key LIKE :prefix || '%')
ORDER BY l.acquired_at
"""

# The lease's owner gives it back; anyone else matches nothing (the caller tells 403 from 404).
RELEASE_LEASE = f"""
WITH released AS (
    DELETE FROM leases WHERE key = :key AND user_id = :user_id AND expires_at > now() RETURNING key
), closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'released', ended_by = :username
    WHERE key IN (SELECT key FROM released) AND released_at IS NULL
)
SELECT key, pg_notify('{CHANNEL_SLOT_FREED}', :pool) IS NULL AS notified FROM released
"""

RENEW_LEASE = f"""
UPDATE leases SET expires_at = now() + make_interval(secs => :ttl)
WHERE key = :key AND user_id = :user_id AND expires_at > now()
RETURNING {LEASE_COLUMNS}
"""

# An admin takes a lease away. When a job held it, the job is cancelled in the same statement (fenced
# by the lease's attempt) and its worker is told to stop the GPU work.
FORCE_RELEASE_LEASE = f"""
WITH released AS (
    DELETE FROM leases WHERE key = :key RETURNING {LEASE_COLUMNS}
), closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'force_released', ended_by = :username
    WHERE key IN (SELECT key FROM released) AND released_at IS NULL
), cancelled AS (
    UPDATE ai_jobs j SET status = 'cancelled', error_kind = 'cancelled', cancel_requested_at = now(),
                         error_message = 'Force-released by ' || :username || '.', finished_at = now(),
                         worker_id = NULL, updated_at = now()
    FROM released r
    WHERE r.task_ref = 'job:' || j.id::text AND j.status = 'running' AND j.attempt = r.attempt
    RETURNING j.id, j.attempt, j.pool
), other_leases AS (
    DELETE FROM leases WHERE holder IN (SELECT id::text FROM cancelled) RETURNING key
), other_closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'force_released', ended_by = :username
    WHERE key IN (SELECT key FROM other_leases) AND released_at IS NULL
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message)
    SELECT id, 'cancelled', attempt, 'force-released by ' || :username FROM cancelled
)
SELECT r.*, c.id AS cancelled_job,
       pg_notify('{CHANNEL_JOB_CANCEL}', c.id::text) IS NULL AS cancel_notified,
       pg_notify('{CHANNEL_SLOT_FREED}', :pool) IS NULL AS slot_notified
FROM released r LEFT JOIN cancelled c ON true
"""

LEASE_HISTORY = """
SELECT id, key, holder, operation, details, user_id, username, task_ref, acquired_at, released_at, end_reason,
       ended_by
FROM lease_history
WHERE (CAST(:prefix AS text) IS NULL OR key LIKE :prefix || '%')
  AND (CAST(:key AS text) IS NULL OR key = :key)
  AND (CAST(:before_id AS bigint) IS NULL OR id < :before_id)
ORDER BY id DESC
LIMIT :limit
"""

# Expired leases are deleted and their history closed as `expired` (the rescuer does this too).
SWEEP_EXPIRED_LEASES = """
WITH swept AS (
    DELETE FROM leases WHERE expires_at <= now() RETURNING key
)
UPDATE lease_history SET released_at = now(), end_reason = 'expired'
WHERE key IN (SELECT key FROM swept) AND released_at IS NULL
RETURNING key
"""
