"""Every statement on leases: the GPU slots and any other named resource share one table (asyncpg;
`:name` parameters). The claim and the finish of a job take and hand on slot leases themselves, in the
queue's statements (`app/services/queue/sql.py`).

- A key has at most one holder because `leases.key` is the primary key; an expired row is free and is
  taken over by the same INSERT … ON CONFLICT that would create it — a row a job held only once it
  expired longer ago than its grace (`grace_seconds`), since its runner may still be stopping.
- Whatever frees a lease also closes its `lease_history` row (released · expired · force_released).
"""

from __future__ import annotations

from app.db import Statement
from app.services.queue.sql import CHANNEL_JOB_CANCEL, CHANNEL_SLOT_FREED

LEASE_COLUMNS = (
    "key, holder, attempt, job_id, worker_id, operation, details, user_id, username, task_ref, acquired_at, expires_at"
)

# A lease is held until it expires plus its grace (LEASE_RESCUE_GRACE_SECONDS for a job's, 0 for others).
_HELD = "{l}.expires_at + make_interval(secs => {l}.grace_seconds) > now()"

# Take the first free key of :keys (a free key has no row, or an expired one). Returns no row when every
# key is held.
ACQUIRE_LEASE = Statement(f"""
WITH free AS (
    SELECT k.key FROM unnest(:keys::text[]) WITH ORDINALITY AS k(key, n)
    WHERE NOT EXISTS (SELECT 1 FROM leases l WHERE l.key = k.key AND {_HELD.format(l="l")})
    ORDER BY k.n
    LIMIT 1
), acquired AS (
    INSERT INTO leases AS l ({LEASE_COLUMNS}, grace_seconds)
    SELECT key, :holder, :attempt, :job_id, :worker_id, :operation, :details, :user_id, :username, :task_ref,
           now(), now() + make_interval(secs => :ttl), :grace
    FROM free
    ON CONFLICT (key) DO UPDATE SET grace_seconds = excluded.grace_seconds,
        holder = excluded.holder, attempt = excluded.attempt, job_id = excluded.job_id,
        worker_id = excluded.worker_id, operation = excluded.operation, details = excluded.details,
        user_id = excluded.user_id, username = excluded.username, task_ref = excluded.task_ref,
        acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
    WHERE NOT ({_HELD.format(l="l")})
    RETURNING l.*
), expired AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'expired'
    WHERE key IN (SELECT key FROM acquired) AND released_at IS NULL
), recorded AS (
    INSERT INTO lease_history (key, holder, operation, details, user_id, username, task_ref, acquired_at)
    SELECT key, holder, operation, details, user_id, username, task_ref, acquired_at FROM acquired
)
SELECT key, acquired_at, expires_at FROM acquired
""")

# Held leases, with how far the holding job is. Only its percent, message and token count: the lock view
# is shared by everyone, and a job's text, logs and results are its owner's alone.
ACTIVE_LEASES = Statement(f"""
SELECT {", ".join(f"l.{name}" for name in LEASE_COLUMNS.split(", "))},
       jsonb_strip_nulls(jsonb_build_object('percent', j.progress -> 'percent', 'message', j.progress -> 'message',
                                            'tokens', j.progress -> 'tokens')) AS job_progress
FROM leases l LEFT JOIN ai_jobs j ON j.id = l.job_id
WHERE {_HELD.format(l="l")} AND (:keys::text[] IS NULL OR l.key = ANY(:keys::text[]))
  AND (:prefix::text IS NULL OR l.key LIKE :prefix || '%')
ORDER BY l.acquired_at
""")

# The lease's owner gives it back; anyone else matches nothing (the caller tells 403 from 404).
RELEASE_LEASE = Statement(f"""
WITH released AS (
    DELETE FROM leases WHERE key = :key AND user_id = :user_id AND expires_at > now() RETURNING key
), closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'released', ended_by = :username
    WHERE key IN (SELECT key FROM released) AND released_at IS NULL
)
SELECT key, pg_notify('{CHANNEL_SLOT_FREED}', :pool) IS NULL AS notified FROM released
""")

# A job gives back a lease it took while running (a model load), by holder and attempt: never another
# job's, nor its own from an earlier attempt.
RELEASE_JOB_LEASE = Statement("""
WITH released AS (
    DELETE FROM leases WHERE key = :key AND job_id = :job_id AND attempt = :attempt RETURNING key
)
UPDATE lease_history SET released_at = now(), end_reason = 'released'
WHERE key IN (SELECT key FROM released) AND released_at IS NULL
""")

RENEW_LEASE = Statement(f"""
UPDATE leases SET expires_at = now() + make_interval(secs => :ttl)
WHERE key = :key AND user_id = :user_id AND expires_at > now()
RETURNING {LEASE_COLUMNS}
""")

# An admin takes a lease away. When a job held it, the job is cancelled in the same statement (fenced
# by the lease's attempt) and its worker is told to stop the GPU work.
FORCE_RELEASE_LEASE = Statement(f"""
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
    WHERE j.id = r.job_id AND j.status = 'running' AND j.attempt = r.attempt
    RETURNING j.id, j.attempt, j.pool
), other_leases AS (
    DELETE FROM leases WHERE job_id IN (SELECT id FROM cancelled) RETURNING key
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
""")

LEASE_HISTORY = Statement("""
SELECT id, key, holder, operation, details, user_id, username, task_ref, acquired_at, released_at, end_reason,
       ended_by
FROM lease_history
WHERE (:prefix::text IS NULL OR key LIKE :prefix || '%')
  AND (:key::text IS NULL OR key = :key)
  AND (:before_id::bigint IS NULL OR id < :before_id)
ORDER BY id DESC
LIMIT :limit
""")

# Expired leases are deleted and their history closed as `expired` (the rescuer does this too); a
# job's only after the grace.
SWEEP_EXPIRED_LEASES = Statement(f"""
WITH swept AS (
    DELETE FROM leases l WHERE NOT ({_HELD.format(l="l")}) RETURNING key
)
UPDATE lease_history SET released_at = now(), end_reason = 'expired'
WHERE key IN (SELECT key FROM swept) AND released_at IS NULL
RETURNING key
""")
