"""Every SQL statement that moves a job, named, in one place (run on asyncpg; `:name` parameters).

Rules the statements keep (DESIGN.md, invariants):
- A job's status changes only here, each change one conditional statement (`WHERE status = …`).
- A running job's outcome is written only while it is still `running` with the same `attempt` (the
  fencing token): a worker that lost its lease cannot overwrite the job's new attempt.
- A GPU slot has at most one holder because `leases.key` is the primary key. A slot whose job lease
  expired is taken over only after its grace (`leases.grace_seconds`, LEASE_RESCUE_GRACE_SECONDS): its
  runner stops its own work before its lease runs out, and the grace covers a runner slow to notice.
- Each transition is one statement in its own (auto-committed) transaction: claiming is one round trip,
  and finishing a job hands its slot to the next one in the same round trip.
- `pool_users.queued` counts each user's queued jobs; every statement that moves a job in or out of
  `queued` keeps it, and the enqueue checks the quota on it (`aijobs_check_quota` raises, undoing the
  whole statement), so a quota holds under any number of concurrent submissions.
- Whatever frees a lease also closes its `lease_history` row and NOTIFYs `aijobs_slot_freed`.
"""

from __future__ import annotations

from app.db import Statement

# NOTIFY channels. Payloads are short strings (a pool name or a job id), far below NOTIFY's 8000 bytes.
CHANNEL_JOB_QUEUED = "aijobs_job_queued"  # payload: pool
CHANNEL_SLOT_FREED = "aijobs_slot_freed"  # payload: pool
CHANNEL_JOB_CANCEL = "aijobs_job_cancel"  # payload: job id

QUOTA_SQLSTATE = "P0429"  # raised by aijobs_check_quota (migration 0006)

_COLUMNS = (
    "id, user_id, username, job_type, status, priority, pool, request_data, result_data, error_message, "
    "error_kind, retry_count, max_retries, attempt, run_at, timeout_seconds, queue_deadline, progress, "
    "details, locks, idempotency_key, cancel_requested_at, worker_id, created_at, started_at, finished_at, "
    "updated_at, model, requires, host"
)


def columns(table: str) -> str:
    """The job's columns, qualified with a table alias (for joins)."""
    return ", ".join(f"{table}.{name}" for name in _COLUMNS.split(", "))


JOB_COLUMNS = _COLUMNS

# ---- submitting ----------------------------------------------------------------------------------

ENQUEUE_JOB = Statement(f"""
WITH new_job AS (
    INSERT INTO ai_jobs (user_id, username, job_type, priority, pool, request_data, details, max_retries,
                         timeout_seconds, queue_deadline, idempotency_key, locks, requires, model)
    VALUES (:user_id, :username, :job_type, :priority, :pool, :request_data::jsonb, :details, :max_retries,
            :timeout_seconds, :queue_deadline, :idempotency_key, :locks::text[], :requires::text[],
            -- the model it will run: its own, else (a job type that runs a model) its user's default, else
            -- everyone's, else DEFAULT_MODEL; named as hosts name loaded models (`name:tag`, lower case)
            (SELECT CASE WHEN m ~ ':[^/]*$' THEN m ELSE m || ':' || 'latest' END FROM lower(coalesce(:model::text,
                CASE WHEN :fallback_model::text IS NOT NULL THEN coalesce(
                    (SELECT value #>> '{{}}' FROM system_settings WHERE key = 'default_model:' || :user_id),
                    (SELECT value #>> '{{}}' FROM system_settings WHERE key = 'active_model'),
                    :fallback_model) END)) m))
    ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING {JOB_COLUMNS}
), counted AS (
    INSERT INTO pool_users AS u (pool, user_id, queued) SELECT pool, user_id, 1 FROM new_job
    ON CONFLICT (pool, user_id) DO UPDATE SET queued = u.queued + 1
    RETURNING queued
), admitted AS (
    SELECT aijobs_check_quota(queued, :quota) AS ok FROM counted
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, 'queued', 0, 'submitted' FROM new_job
)
SELECT new_job.*, pg_notify('{CHANNEL_JOB_QUEUED}', new_job.pool) IS NULL AS notified
FROM new_job, admitted
""")

JOB_BY_IDEMPOTENCY_KEY = Statement(f"""
SELECT {JOB_COLUMNS} FROM ai_jobs WHERE user_id = :user_id AND idempotency_key = :idempotency_key
""")

GET_JOB = Statement(f"SELECT {JOB_COLUMNS} FROM ai_jobs WHERE id = :job_id")

# ---- where a queued job stands ---------------------------------------------------------------------

# A job with, while it is queued, its place in the order the claim will take jobs: every queued job of
# a higher priority, then, at its own priority, turn by turn between users (the claim's fairness):
# each other user's jobs until the turn this job is in (at most as many as this job has of its own
# user ahead of it), plus one more from each user whose turn comes before its user's in that round.
# Also what an ETA needs: the GPU slots' holders (who, what, since when, how far — never their text),
# the mix of job types ahead (from the jobs queued just before it, at most :sample of each side), and
# each of those types' recent mean run time; and, with :with_queue_length, the queue's length (a
# submission shows the lock as it is with the new job).
#
# Its cost does not grow with the queue when every queued job of the pool has one priority (the usual
# case: only admins raise one): each user's queued count is then `pool_users.queued`, and only this
# job's own user's older jobs and each user's first job are read, by index. With several priorities
# queued it counts the queued jobs at its priority or above (`mixed`).
JOB_VIEW = Statement(f"""
WITH me AS (
    SELECT {columns("j")}, coalesce(u.last_claimed_at, '-infinity') AS turn
    FROM ai_jobs j LEFT JOIN pool_users u ON u.pool = j.pool AND u.user_id = j.user_id
    WHERE j.id = :job_id
), mixed AS (
    -- the queue's first and last priorities, each one index entry (the queue order's ends)
    SELECT (SELECT q.priority FROM ai_jobs q WHERE q.pool = me.pool AND q.status = 'queued'
            ORDER BY q.priority DESC, q.created_at, q.id LIMIT 1) > me.priority
        OR (SELECT q.priority FROM ai_jobs q WHERE q.pool = me.pool AND q.status = 'queued'
            ORDER BY q.priority, q.created_at DESC, q.id DESC LIMIT 1) < me.priority AS yes
    FROM me WHERE me.status = 'queued'
), queued AS (
    -- several priorities: one pass over the queued jobs that can come before it
    SELECT q.user_id, q.priority > me.priority AS higher, (q.created_at, q.id) < (me.created_at, me.id) AS older,
           q.created_at
    FROM ai_jobs q, me
    -- (a condition evaluated once, before the scan: as a join with `mixed`, the plan read the whole queue
    -- and then found it was not wanted)
    WHERE (SELECT yes FROM mixed) AND q.pool = me.pool AND q.status = 'queued' AND q.priority >= me.priority
), users AS (
    -- per user at its priority: jobs queued, those older than it (its own user's), when their first was
    -- queued, and their last turn
    SELECT q.user_id, q.user_id = me.user_id AS mine, count(*) AS queued, count(*) FILTER (WHERE q.older) AS older,
           min(q.created_at) AS head_at,
           (SELECT p.last_claimed_at FROM pool_users p WHERE p.pool = me.pool AND p.user_id = q.user_id) AS turn
    FROM queued q, me WHERE NOT q.higher GROUP BY q.user_id, me.user_id, me.pool
    UNION ALL
    SELECT u.user_id, u.user_id = me.user_id, u.queued,
           CASE WHEN u.user_id = me.user_id THEN (
               SELECT count(*) FROM ai_jobs q WHERE q.pool = me.pool AND q.user_id = me.user_id
               AND q.status = 'queued' AND q.priority = me.priority AND (q.created_at, q.id) < (me.created_at, me.id))
           END,
           (SELECT q.created_at FROM ai_jobs q WHERE q.pool = u.pool AND q.user_id = u.user_id AND q.status = 'queued'
            ORDER BY q.priority DESC, q.created_at, q.id LIMIT 1),
           u.last_claimed_at
    FROM pool_users u, me, mixed
    WHERE NOT mixed.yes AND u.pool = me.pool AND u.queued > 0
), mine AS (
    SELECT coalesce((SELECT older FROM users WHERE mine), 0) AS ahead, (SELECT head_at FROM users WHERE mine) AS head_at
), others_ahead AS (
    SELECT coalesce(sum(least(o.queued, mine.ahead)
                        + CASE WHEN o.queued > mine.ahead
                                    AND (coalesce(o.turn, '-infinity'), o.head_at) < (me.turn, mine.head_at)
                               THEN 1 ELSE 0 END), 0) AS n
    FROM users o JOIN me ON true JOIN mine ON true
    WHERE NOT o.mine
), holders AS (
    SELECT l.key, l.operation, l.details, l.job_id, l.user_id, l.username, l.task_ref, l.acquired_at AS started_at,
           l.expires_at, j.job_type, EXTRACT(EPOCH FROM now() - l.acquired_at) AS elapsed_seconds,
           EXTRACT(EPOCH FROM l.expires_at - now()) AS expires_in,
           jsonb_strip_nulls(jsonb_build_object('percent', j.progress -> 'percent', 'message', j.progress -> 'message',
                                                'tokens', j.progress -> 'tokens')) AS progress
    FROM leases l LEFT JOIN ai_jobs j ON j.id = l.job_id
    WHERE l.key LIKE 'gpu/%' AND l.expires_at + make_interval(secs => l.grace_seconds) > now()
    ORDER BY l.acquired_at
), ahead_types AS (
    -- the mix of job types ahead, from those queued just before it at its priority and the first of higher ones
    SELECT a.job_type, count(*) AS n FROM me CROSS JOIN LATERAL (
        (SELECT q.job_type FROM ai_jobs q
         WHERE q.pool = me.pool AND q.status = 'queued' AND q.priority = me.priority
           AND (q.created_at, q.id) < (me.created_at, me.id)
         ORDER BY q.priority, q.created_at DESC, q.id DESC LIMIT :sample)  -- the queue order backwards
        UNION ALL
        (SELECT q.job_type FROM ai_jobs q
         WHERE q.pool = me.pool AND q.status = 'queued' AND q.priority > me.priority
         ORDER BY q.priority DESC, q.created_at, q.id LIMIT :sample)
    ) a WHERE me.status = 'queued' GROUP BY a.job_type
), types AS (
    SELECT job_type FROM ahead_types UNION SELECT job_type FROM holders WHERE job_type IS NOT NULL
    UNION SELECT job_type FROM me
), means AS (
    -- by :pool, not me.pool: a join here would keep the planner from reading the index in order (it
    -- read every completed job of the type, 180 ms at a million)
    SELECT t.job_type, (SELECT avg(EXTRACT(EPOCH FROM r.finished_at - r.started_at)) FROM (
        SELECT c.finished_at, c.started_at FROM ai_jobs c
        WHERE c.pool = :pool AND c.job_type = t.job_type AND c.status = 'completed' AND c.started_at IS NOT NULL
        ORDER BY c.finished_at DESC LIMIT 20) r) AS seconds
    FROM types t WHERE EXISTS (SELECT 1 FROM me WHERE me.status = 'queued')
)
SELECT me.*,
       CASE WHEN me.status = 'queued'
            THEN ((SELECT count(*) FROM queued WHERE higher) + (SELECT ahead FROM mine)
                  + (SELECT n FROM others_ahead))::int
       END AS position,
       (SELECT coalesce(json_agg(holders), '[]') FROM holders) AS holders,
       (SELECT coalesce(sum(slots), 0) FROM hosts WHERE reachable AND NOT draining)::int AS slots,
       CASE WHEN :with_queue_length
            THEN (SELECT coalesce(sum(u.queued), 0) FROM pool_users u WHERE u.pool = me.pool)::int
       END AS queue_length,
       (SELECT coalesce(json_object_agg(job_type, n), '{{}}') FROM ahead_types) AS ahead_types,
       (SELECT coalesce(json_object_agg(job_type, seconds), '{{}}') FROM means) AS mean_seconds
FROM me
""")

# The pool's queued jobs, from the per-user counts every transition keeps (no scan of the queue).
QUEUE_LENGTH = Statement("SELECT coalesce(sum(queued), 0)::int FROM pool_users WHERE pool = :pool")

# Mean run time of the pool's recent completed jobs (Retry-After of a 429).
RECENT_RUN_SECONDS = Statement("""
SELECT avg(seconds) FROM (
    SELECT EXTRACT(EPOCH FROM finished_at - started_at) AS seconds FROM ai_jobs
    WHERE pool = :pool AND status = 'completed' AND started_at IS NOT NULL
    ORDER BY finished_at DESC LIMIT 50
) recent
""")

# ---- claiming ------------------------------------------------------------------------------------

# The next job the claim takes, fair between users: per user, their best eligible queued job (priority,
# then age; its extra lease keys free; not past its queue deadline); across users, priority first, then
# the user who has waited longest since their last claim, then age. Walking users (not jobs) keeps this
# flat however many rows are queued; SKIP LOCKED lets concurrent claimers pass each other.
_PICK = """
    SELECT j.* FROM pool_users u
    CROSS JOIN LATERAL (
        SELECT c.* FROM (
            -- the user's first eligible job in queue order that is not left for another host …
            SELECT * FROM (
                SELECT {columns}, {aged} AS aged,
                       NOT :fifo AND coalesce(ai_jobs.model = ANY(host.loaded_models), false) AS warm
                FROM ai_jobs, host
                WHERE {eligible}
                  AND (:fifo OR ai_jobs.model IS NULL OR ai_jobs.model = ANY(host.loaded_models)
                       OR {aged} OR NOT EXISTS ({left_for_another}))
                ORDER BY ai_jobs.priority DESC, ai_jobs.created_at, ai_jobs.id
                LIMIT 1
                FOR UPDATE OF ai_jobs SKIP LOCKED
            ) head
            UNION ALL
            -- … and, with placement, their first eligible job of each model the host has loaded
            SELECT warm.* FROM host CROSS JOIN unnest(host.loaded_models) AS m(model)
            CROSS JOIN LATERAL (
                SELECT {columns}, {aged} AS aged, true AS warm
                FROM ai_jobs
                WHERE NOT :fifo AND ai_jobs.model = m.model AND {eligible}
                ORDER BY ai_jobs.priority DESC, ai_jobs.created_at, ai_jobs.id
                LIMIT 1
                FOR UPDATE OF ai_jobs SKIP LOCKED
            ) warm
        ) c
        ORDER BY c.priority DESC, c.aged DESC, CASE WHEN c.aged THEN c.run_at END, c.warm DESC, c.created_at, c.id
        LIMIT 1
    ) j
    -- only users with queued jobs (kept exact by every transition): every user who ever used the pool keeps
    -- a row, and looking into each of theirs made a FINISH 13.6 ms instead of 2.6 with 2,000 such users
    WHERE u.pool = :pool AND u.queued > 0 AND {when}
    ORDER BY j.priority DESC, j.aged DESC, CASE WHEN j.aged THEN j.run_at END, j.warm DESC,
             {last_claimed_at} ASC NULLS FIRST, j.created_at, j.id
"""

# The pick of a job to start (a claim, a hand-off): the first user in the pick's order whom no concurrent
# claim is serving (a transaction-scoped advisory lock per user, taken with `try` in that order, so only
# the one chosen is taken), else the first user. Concurrent claims see the same order (each one's turn is
# written at its commit), so without this they all served the same user and then waited, one commit
# after another, on that user's `pool_users` row: a 10-slot drain of 4 users ran at the 1-slot rate,
# with runs of one user's jobs 3.55 long on average (21 at most) where round-robin makes them 1.
_PICK_TO_START = """
    WITH ordered AS MATERIALIZED ({pick})
    (SELECT * FROM ordered WHERE pg_try_advisory_xact_lock(hashtext('aijobs-user:' || pool || ':' || user_id))
     LIMIT 1)
    UNION ALL
    (SELECT * FROM ordered LIMIT 1)  -- every user's is taken: the first user's job (after that claim commits)
    LIMIT 1
"""

# A queued job of the user `u` the host may run now: due, before its queue deadline, its extra lease keys
# free, the labels it requires on the host, its model fitting the host's GPU memory (when known) and
# installed there (`_HAS_MODEL`), and not reserved for another running job's hand-off (`_reserve_ahead`) —
# the hand-off of the job `mine` may take the job reserved for it.
_ELIGIBLE = """
    ai_jobs.pool = u.pool AND ai_jobs.user_id = u.user_id AND ai_jobs.status = 'queued'
    AND ai_jobs.run_at <= now() AND (ai_jobs.queue_deadline IS NULL OR ai_jobs.queue_deadline > now())
    AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.key = ANY(ai_jobs.locks)
                    AND l.expires_at + make_interval(secs => l.grace_seconds) > now())
    AND ai_jobs.requires <@ (host.labels || ARRAY['host:' || host.name])
    AND (host.gpu_memory IS NULL OR coalesce((host.installed ->> ai_jobs.model)::bigint, 0) <= host.gpu_memory)
    AND {has_model}
    AND (ai_jobs.reserved_for IS NULL OR ai_jobs.reserved_for = {mine}
         OR NOT EXISTS (SELECT 1 FROM leases r WHERE r.job_id = ai_jobs.reserved_for AND r.expires_at > now()))
"""

# The host has the job's model (as its last probe listed them), so Ollama there will not answer "model not
# found": in a fleet whose hosts hold different models, a job goes where its model is. Any host may take
# it when its probe has not listed models yet, when it is an unload, or when no host that takes work has
# the model (then Ollama's own 404 ends the job at once, rather than the job waiting in the queue forever).
_HAS_MODEL = """(
    ai_jobs.model IS NULL OR ai_jobs.job_type = 'model.unload' OR {host}.installed = '{{}}'::jsonb
    OR {host}.installed ? ai_jobs.model
    OR NOT EXISTS (SELECT 1 FROM hosts g WHERE g.reachable AND NOT g.draining AND g.installed ? ai_jobs.model)
)"""

# Waited past the aging bound: such a job goes first among its priority, oldest first, warm or not.
_AGED = "(NOT :fifo AND ai_jobs.run_at < now() - make_interval(secs => :bypass))"

# The models running (or being loaded) on host {host} now: a load in progress is not in /api/ps yet.
_RUNNING_MODELS = """
    SELECT r.model FROM leases l JOIN ai_jobs r ON r.id = l.job_id
    WHERE l.host = {host} AND r.model IS NOT NULL AND r.job_type <> 'model.unload'
      AND l.expires_at + make_interval(secs => l.grace_seconds) > now()
"""

# A cold job is left for another host that has its model loaded and will be free sooner than this host
# could load it (a free slot now, or a running job expected to end before this host's load time for the
# model: learned, else :load_seconds) — until the job has waited :bypass seconds.
_LEFT_FOR_ANOTHER = f"""
    SELECT 1 FROM hosts g
    WHERE g.name <> host.name AND g.reachable AND NOT g.draining
      AND (ai_jobs.model = ANY(g.loaded_models)
           OR ai_jobs.model IN ({_RUNNING_MODELS.format(host="g.name")}))
      AND ai_jobs.requires <@ (g.labels || ARRAY['host:' || g.name])
      AND coalesce((SELECT CASE WHEN count(*) < g.slots THEN now() ELSE min(coalesce(l.expected_end, now())) END
                    FROM leases l WHERE l.host = g.name
                      AND l.expires_at + make_interval(secs => l.grace_seconds) > now()), now())
          < now() + make_interval(secs => coalesce(
                (SELECT c.load_seconds FROM host_model_costs c WHERE c.host = host.name AND c.model = ai_jobs.model),
                :load_seconds))
"""


def _pick(*, when: str, only: str = "", mine: str = "NULL", served: str | None = None, to_start: bool = False) -> str:
    """The next job for the host (`_PICK`), if `when`; `only`: a further condition on it; `mine`: the
    running job whose reserved next job it may take; `served`: a CTE of the job this statement starts,
    whose user counts as just served (the statement's own update of their turn is not visible to it);
    `to_start`: the job is started now (`_PICK_TO_START`), not reserved."""
    last_claimed_at = "u.last_claimed_at"
    if served is not None:
        last_claimed_at = f"CASE WHEN u.user_id IN (SELECT user_id FROM {served}) THEN now() ELSE u.last_claimed_at END"
    pick = _PICK.format(
        columns=columns("ai_jobs"),
        eligible=_ELIGIBLE.format(has_model=_HAS_MODEL.format(host="host"), mine=mine) + only,
        when=when,
        left_for_another=_LEFT_FOR_ANOTHER,
        aged=_AGED,
        last_claimed_at=last_claimed_at,
    )
    return _PICK_TO_START.format(pick=pick) if to_start else pick + "    LIMIT 1\n"


# The host a claim is for, if it takes work (up and not draining), with what it has loaded: what the
# prober saw, and the models of the jobs running there (a fresh load is not in /api/ps until it is done;
# in FINISH this includes the model the finishing job just ran).
_HOST = f"""host AS (
    SELECT h.name, h.labels, h.gpu_memory, h.installed,
           h.loaded_models || ARRAY({_RUNNING_MODELS.format(host="h.name")}) AS loaded_models
    FROM hosts h WHERE h.name = :host AND h.reachable AND NOT h.draining
)"""

# Who holds a slot, as the lease records it: the job's operation (from :job_types/:operations, the
# registry's names) and details, its user, its attempt (the fencing token), the renewing worker, the GPU
# host (slot leases only) and when the job is expected to end (from what the host learned, for placement).
_HOLD = """
    {slot}, {job}.id::text, {job}.attempt + 1, {job}.id, :worker_id,
    coalesce((SELECT o FROM unnest(:job_types::text[], :operations::text[]) AS m(t, o) WHERE m.t = {job}.job_type),
             {job}.job_type),
    {job}.details, {job}.user_id, {job}.username, 'job:' || {job}.id, now(), now() + make_interval(secs => :ttl),
    {host}, now() + make_interval(secs => coalesce(
        (SELECT c.run_seconds FROM host_model_costs c WHERE c.host = :host AND c.model = {job}.model), :run_seconds))
"""

_LEASE_COLUMNS = (
    "key, holder, attempt, job_id, worker_id, operation, details, user_id, username, task_ref, acquired_at, "
    "expires_at, host, expected_end"
)

# The claimed job's user just had their turn: they go to the back of the fairness order.
_TURN = """, turn AS (
    UPDATE pool_users SET last_claimed_at = now(), queued = queued - 1
    WHERE (pool, user_id) IN (SELECT pool, user_id FROM started)
)"""

_START = f"""
started AS (
    UPDATE ai_jobs j SET status = 'running', attempt = j.attempt + 1, worker_id = :worker_id, host = :host,
                         started_at = now(), updated_at = now(), progress = '{{{{}}}}'::jsonb,
                         reserved_for = NULL
    FROM {{lease}} a
    -- The job is queued: the pick locked it (FOR UPDATE, which rechecks the row it locks). A check of its
    -- status here led the generic plan of a table without statistics to find it through an index of the
    -- queued jobs, walking all of them, rather than by its key.
    WHERE j.id = a.job_id {{condition}}
    RETURNING {columns("j")}, a.key AS slot
){{turn}}, started_event AS (
    INSERT INTO job_events (job_id, status, attempt, worker_id) SELECT id, 'running', attempt, :worker_id FROM started
)"""

# ---- reserving the next job ahead ------------------------------------------------------------------

# What a hand-off may take: a job with extra lease keys is claimed, not handed a slot (its keys may be busy).
_HANDED_ON = "AND cardinality(ai_jobs.locks) = 0"

# A reservation never keeps a job from an idle GPU: none is made while another host could run the job.
_ANOTHER_HOST_COULD_RUN = """
    SELECT 1 FROM hosts g
    WHERE g.name <> :host AND g.reachable AND NOT g.draining
      AND ahead.requires <@ (g.labels || ARRAY['host:' || g.name])
      AND (ahead.model IS NULL OR g.installed = '{}'::jsonb OR g.installed ? ahead.model)
"""


def _reserve_ahead(started: str, mine: str = "NULL") -> str:
    """CTEs `ahead` and `reserved` for a statement that starts a job on a slot (CLAIM, FINISH's hand-off),
    `started` being its CTE: with :reserve_ahead (a one-slot host) and a job of :early_types started, the
    job that job's own hand-off would take next — the same fair pick, its user counted as just served — is
    reserved for it while it holds a live lease (`_ELIGIBLE`; `mine` as in `_pick`: FINISH may pass on the
    job reserved for the finishing one). The processor then sends that
    job's request the moment the started one ends (an *early start*) while FINISH writes the outcome and
    picks again, fairly: if the pick is another job (a fairer one came meanwhile, the reserved one was
    cancelled), the early start is stopped and the reservation cleared. The job stays `queued`; no other
    claim takes it meanwhile, and none is made while another host could run it. Only types of
    :early_types (they only ask Ollama for an answer) are reserved: their start may be stopped with
    nothing to undo."""
    gate = f":reserve_ahead AND EXISTS (SELECT 1 FROM {started} WHERE job_type = ANY(:early_types::text[]))"
    only = f"{_HANDED_ON} AND ai_jobs.id NOT IN (SELECT id FROM {started})"
    # The pick sees the host as it will be when the started job ends: with that job's model loaded too
    # (the statement does not see the lease it writes). The inner `host` reads the statement's own.
    return f"""ahead AS (
    WITH host AS (
        SELECT h.name, h.labels, h.gpu_memory, h.installed,
               h.loaded_models || ARRAY(SELECT model FROM {started} WHERE model IS NOT NULL) AS loaded_models
        FROM host h
    ){_pick(when=gate, only=only, served=started, mine=mine)}
), reserved AS (
    UPDATE ai_jobs j SET reserved_for = s.id
    FROM ahead, {started} s
    WHERE j.id = ahead.id AND ahead.job_type = ANY(:early_types::text[]) AND NOT EXISTS ({_ANOTHER_HOST_COULD_RUN})
    RETURNING j.id
)"""


# Claim: take a free slot of :slot_keys (no live lease, or one expired longer than the grace) together
# with the next job, and mark the job running — one statement. Concurrent claimers try different free
# slots (a transaction-scoped advisory lock per key, taken with `try`, so a slot another claimer is
# taking is passed over, not waited for) and different jobs (SKIP LOCKED). The job's extra lease keys
# (`locks`) are taken in the same statement; if one was taken meanwhile by someone else, the job is not
# started and `started_id` is null: the caller releases what was taken (`RELEASE_LEASES`).
CLAIM = Statement(f"""
WITH {_HOST}, slot AS (
    -- The free keys in order, then the first one no concurrent claimer is taking. OFFSET 0 keeps the
    -- planner from trying the lock on every key before it knows which are free.
    SELECT free.key FROM (
        SELECT k.key FROM unnest(:slot_keys::text[]) WITH ORDINALITY AS k(key, n)
        WHERE NOT EXISTS (SELECT 1 FROM leases l
                          WHERE l.key = k.key AND l.expires_at + make_interval(secs => l.grace_seconds) > now())
          AND EXISTS (SELECT 1 FROM host)
        ORDER BY k.n OFFSET 0
    ) free
    WHERE pg_try_advisory_xact_lock(hashtext('aijobs-slot:' || free.key))
    LIMIT 1
), picked AS ({_pick(when="EXISTS (SELECT 1 FROM slot)", to_start=True)}
), acquired AS (
    INSERT INTO leases AS l ({_LEASE_COLUMNS}, grace_seconds)
    SELECT {_HOLD.format(slot="slot.key", job="picked", host=":host")}, :grace::float8 FROM slot, picked
    UNION ALL
    SELECT {_HOLD.format(slot="extra.key", job="picked", host="NULL")}, :grace::float8
    FROM picked, unnest(picked.locks) AS extra(key)
    ON CONFLICT (key) DO UPDATE SET grace_seconds = excluded.grace_seconds,
        holder = excluded.holder, attempt = excluded.attempt, job_id = excluded.job_id,
        worker_id = excluded.worker_id, operation = excluded.operation, details = excluded.details,
        user_id = excluded.user_id, username = excluded.username, task_ref = excluded.task_ref,
        acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, host = excluded.host,
        expected_end = excluded.expected_end
    WHERE l.expires_at + make_interval(secs => l.grace_seconds) <= now()
    RETURNING l.key, l.job_id, l.attempt, l.operation, l.details, l.user_id, l.username, l.holder, l.task_ref,
              l.acquired_at
), slot_lease AS (
    SELECT a.* FROM acquired a JOIN slot ON slot.key = a.key
),{
    _START.format(
        lease="slot_lease", condition="AND (SELECT count(*) FROM acquired) = 1 + cardinality(j.locks)", turn=_TURN
    )
},
expired AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'expired'
    WHERE key IN (SELECT key FROM acquired) AND released_at IS NULL
), recorded AS (
    INSERT INTO lease_history (key, holder, operation, details, user_id, username, task_ref, acquired_at)
    SELECT key, holder, operation, details, user_id, username, task_ref, acquired_at FROM acquired
), {_reserve_ahead("started")}
SELECT 'started' AS what, started.*, picked.id AS picked_id, picked.attempt + 1 AS picked_attempt,
       (SELECT count(*) FROM acquired) AS leases_taken
FROM picked LEFT JOIN started ON started.id = picked.id
UNION ALL
SELECT 'reserved', {columns("ahead")}, NULL, NULL, NULL, NULL FROM ahead JOIN reserved ON reserved.id = ahead.id
""")

# Reserve ahead for a job already running (a job was queued since it started): the job its hand-off would
# take now — the same fair pick as CLAIM's and FINISH's (`_reserve_ahead`), which may be the job already
# reserved for it or a fairer one that came since; the one it replaces is freed. Only while that job still
# runs this attempt under a live lease of :host's slot.
RESERVE_AHEAD = Statement(f"""
WITH {_HOST}, running AS (
    SELECT j.* FROM ai_jobs j
    WHERE j.id = :job_id AND j.attempt = :attempt AND j.status = 'running'
      AND EXISTS (SELECT 1 FROM leases l WHERE l.job_id = j.id AND l.attempt = j.attempt AND l.host = :host
                                           AND l.expires_at > now())
), {_reserve_ahead("running", mine=":job_id")}, replaced AS (
    UPDATE ai_jobs j SET reserved_for = NULL
    FROM running r
    WHERE j.reserved_for = r.id AND j.status = 'queued' AND j.id NOT IN (SELECT id FROM reserved)
)
SELECT {columns("ahead")} FROM ahead JOIN reserved ON reserved.id = ahead.id
""")

# The leases of a job's attempt, given back: a claim that took leases but could not start its job (an
# extra key was taken by someone else first), or a slot FINISH kept while a request started early on it
# was being closed (`:keep_slot`).
RELEASE_LEASES = Statement("""
WITH released AS (
    DELETE FROM leases WHERE job_id = :job_id AND attempt = :attempt RETURNING key
)
UPDATE lease_history SET released_at = now(), end_reason = 'released'
WHERE key IN (SELECT key FROM released) AND released_at IS NULL
""")

# ---- running ---------------------------------------------------------------------------------------

# One heartbeat per processor: the live leases of the jobs it still runs (:job_ids/:attempts — never a
# job it stopped), renewed at once; with each job's cancel request, so a cancel NOTIFY that was missed is
# still seen. An expired lease is not renewed (it may already be someone else's).
HEARTBEAT = Statement("""
WITH renewed AS (
    UPDATE leases SET expires_at = now() + make_interval(secs => :ttl)
    WHERE worker_id = :worker_id AND expires_at > now()
      AND (job_id, attempt) IN (SELECT * FROM unnest(:job_ids::uuid[], :attempts::int[]))
    RETURNING key, job_id, attempt
)
SELECT r.key, r.job_id, r.attempt, j.cancel_requested_at IS NOT NULL AS cancel_requested
FROM renewed r LEFT JOIN ai_jobs j ON j.id = r.job_id
""")

# Progress of every running job of a processor that changed, in one statement.
UPDATE_PROGRESS = Statement("""
UPDATE ai_jobs j SET progress = p.progress, updated_at = now()
FROM unnest(:job_ids::uuid[], :attempts::int[], :progress::jsonb[]) AS p(id, attempt, progress)
WHERE j.id = p.id AND j.status = 'running' AND j.attempt = p.attempt
RETURNING j.id
""")

# ---- finishing (and handing the slot on) -------------------------------------------------------------

# A run's load_duration above this means Ollama loaded the model for it (a warm start reports milliseconds).
LOADED_AFTER = 0.5
# A moving average: recent runs count more (the host's cache, the model's quantisation change over time).
_MOVING = "{old} * 0.7 + {new} * 0.3"

# The outcome a finished job gets: `:outcome` is one of these; each is a SET clause for the job row.
OUTCOMES = ("completed", "failed", "retry", "cancelled", "requeue")

# One statement: write the outcome of the running job (fenced by its attempt); release its extra leases;
# then, with :hand_on, hand its GPU slot straight to the next job (the lease row changes holder — the slot
# is never free, so no other processor can take it in between) and start that job; otherwise free the
# slot. A transient failure whose cancel was asked meanwhile ends cancelled, not queued again.
FINISH = Statement(f"""
WITH {_HOST}, finished AS (
    UPDATE ai_jobs SET
        status = CASE
            WHEN :outcome = 'completed' THEN 'completed'
            WHEN :outcome = 'failed' THEN 'failed'
            WHEN :outcome = 'cancelled' OR cancel_requested_at IS NOT NULL THEN 'cancelled'
            ELSE 'queued' END,
        result_data = CASE WHEN :outcome = 'completed' THEN :result::jsonb ELSE result_data END,
        progress = coalesce(:progress::jsonb, progress),
        error_message = CASE
            WHEN :outcome = 'completed' THEN NULL
            WHEN :outcome = 'requeue' THEN error_message
            WHEN :outcome <> 'cancelled' AND cancel_requested_at IS NOT NULL THEN 'Cancelled on request.'
            ELSE :message END,
        error_kind = CASE
            WHEN :outcome = 'completed' THEN NULL
            WHEN :outcome = 'requeue' THEN error_kind
            WHEN :outcome = 'cancelled' OR cancel_requested_at IS NOT NULL THEN 'cancelled'
            WHEN :outcome = 'retry' THEN 'transient'
            ELSE :error_kind END,
        retry_count = retry_count + CASE WHEN :outcome = 'retry' AND cancel_requested_at IS NULL THEN 1 ELSE 0 END,
        run_at = CASE WHEN :outcome = 'retry' THEN now() + make_interval(secs => :delay) ELSE now() END,
        finished_at = CASE WHEN :outcome IN ('retry', 'requeue') AND cancel_requested_at IS NULL THEN NULL
                           ELSE now() END,
        worker_id = NULL, updated_at = now()
    WHERE id = :job_id AND status = 'running' AND attempt = :attempt
    RETURNING {JOB_COLUMNS}
), finished_event AS (
    INSERT INTO job_events (job_id, status, attempt, worker_id, message)
    SELECT id, status, attempt, :worker_id, :message FROM finished
), extra AS (
    DELETE FROM leases WHERE job_id = :job_id AND attempt = :attempt AND key <> :slot
      AND EXISTS (SELECT 1 FROM finished)
    RETURNING key
), next AS ({_pick(when=":hand_on AND EXISTS (SELECT 1 FROM finished)", only=_HANDED_ON, mine=":job_id", to_start=True)}
), moved AS (
    UPDATE leases l SET {", ".join(f"{name} = h.{name}" for name in _LEASE_COLUMNS.split(", ") if name != "key")}
    FROM (SELECT {_HOLD.format(slot=":slot", job="next", host=":host")} FROM next) AS h({_LEASE_COLUMNS})
    WHERE l.key = :slot AND l.job_id = :job_id AND l.attempt = :attempt AND EXISTS (SELECT 1 FROM finished)
    RETURNING l.key, l.job_id, l.attempt, l.operation, l.details, l.user_id, l.username, l.holder, l.task_ref,
              l.acquired_at
), freed AS (
    -- (not with :keep_slot: a request started early on it is still open; the processor gives the slot
    -- back once that request is closed, so no other processor's request can meet it there)
    DELETE FROM leases WHERE key = :slot AND job_id = :job_id AND attempt = :attempt
      AND EXISTS (SELECT 1 FROM finished) AND NOT EXISTS (SELECT 1 FROM next) AND NOT :keep_slot
    RETURNING key
),{_START.format(lease="moved", condition="", turn="")}, {_reserve_ahead("started", mine=":job_id")}, unreserved AS (
    -- the job reserved for this one, if neither handed the slot nor reserved again: free for all now
    -- (its lease may live on, held by the next job)
    UPDATE ai_jobs SET reserved_for = NULL
    WHERE reserved_for = :job_id AND EXISTS (SELECT 1 FROM finished)
      AND id NOT IN (SELECT id FROM next) AND id NOT IN (SELECT id FROM reserved)
), counted AS (
    -- one update of each user's row for both moves (a re-queued job and the job handed its slot may be
    -- the same user's: two updates of one row in one statement would keep only one)
    UPDATE pool_users u SET queued = u.queued + d.delta,
                            last_claimed_at = CASE WHEN d.claimed THEN now() ELSE u.last_claimed_at END
    FROM (SELECT pool, user_id, sum(delta) AS delta, bool_or(claimed) AS claimed FROM (
              SELECT pool, user_id, 1 AS delta, false AS claimed FROM finished WHERE status = 'queued'
              UNION ALL SELECT pool, user_id, -1, true FROM started) moves
          GROUP BY pool, user_id) d
    WHERE u.pool = d.pool AND u.user_id = d.user_id
),
closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'released'
    WHERE key IN (SELECT key FROM extra UNION ALL SELECT key FROM freed UNION ALL SELECT key FROM moved)
      AND released_at IS NULL
), recorded AS (
    INSERT INTO lease_history (key, holder, operation, details, user_id, username, task_ref, acquired_at)
    SELECT key, holder, operation, details, user_id, username, task_ref, acquired_at FROM moved
), ran AS (  -- what this run taught about the model on this host
    SELECT f.model, f.status, EXTRACT(EPOCH FROM now() - f.started_at) AS seconds,
           (f.result_data ->> 'load_duration')::float8 / 1e9 AS load_seconds,
           (f.result_data ->> 'eval_count')::float8
               / nullif((f.result_data ->> 'eval_duration')::float8 / 1e9, 0) AS tokens_per_second
    FROM finished f WHERE f.model IS NOT NULL AND f.status IN ('completed', 'failed', 'queued')
), learned AS (
    INSERT INTO host_model_costs AS c (host, model, loads, load_seconds, loading_seconds_total, jobs, failures,
                                       run_seconds, busy_seconds_total, tokens_per_second)
    SELECT :host, r.model, (coalesce(r.load_seconds, 0) > {LOADED_AFTER})::int,
           CASE WHEN r.load_seconds > {LOADED_AFTER} THEN r.load_seconds END, coalesce(r.load_seconds, 0),
           (r.status = 'completed')::int, (r.status <> 'completed')::int,
           CASE WHEN r.status = 'completed' THEN r.seconds END, r.seconds, r.tokens_per_second
    FROM ran r
    ON CONFLICT (host, model) DO UPDATE SET
        loads = c.loads + excluded.loads,
        load_seconds = coalesce({_MOVING.format(old="c.load_seconds", new="excluded.load_seconds")},
                                excluded.load_seconds, c.load_seconds),
        loading_seconds_total = c.loading_seconds_total + excluded.loading_seconds_total,
        jobs = c.jobs + excluded.jobs, failures = c.failures + excluded.failures,
        run_seconds = coalesce({_MOVING.format(old="c.run_seconds", new="excluded.run_seconds")},
                               excluded.run_seconds, c.run_seconds),
        busy_seconds_total = c.busy_seconds_total + excluded.busy_seconds_total,
        tokens_per_second = coalesce(
            {_MOVING.format(old="c.tokens_per_second", new="excluded.tokens_per_second")},
            excluded.tokens_per_second, c.tokens_per_second
        ),
        updated_at = now()
), warmed AS (
    -- The model is loaded there now, most recently used first (an unload: no longer). When the host's
    -- GPU memory is known, the least recently used models that no longer fit beside it are dropped, as
    -- Ollama evicts them (sizes as /api/ps reported them, else as installed); the prober corrects the rest.
    UPDATE hosts h SET loaded_models = (
        SELECT coalesce(array_agg(kept.m ORDER BY kept.n), '{{}}') FROM (
            SELECT sized.m, sized.n, sum(sized.size) OVER (ORDER BY sized.n) AS used FROM (
                SELECT t.m, t.n, coalesce(
                    (SELECT (e ->> 'size')::bigint FROM jsonb_array_elements(h.loaded) e
                     WHERE lower(e ->> 'name') = t.m LIMIT 1),
                    (h.installed ->> t.m)::bigint, 0) AS size
                FROM unnest(CASE WHEN f.job_type = 'model.unload' THEN array_remove(h.loaded_models, f.model)
                                 ELSE array_prepend(f.model, array_remove(h.loaded_models, f.model)) END)
                     WITH ORDINALITY AS t(m, n)
            ) sized
        ) kept
        WHERE h.gpu_memory IS NULL OR kept.n = 1 OR kept.used <= h.gpu_memory)
    FROM finished f
    WHERE h.name = :host AND f.model IS NOT NULL AND f.status = 'completed'
)
SELECT 'finished' AS what, finished.*, NULL::text AS slot,
       (SELECT pg_notify('{CHANNEL_SLOT_FREED}', finished.pool || ' ' || :worker_id) FROM freed LIMIT 1)
           IS NULL AS notified
FROM finished
UNION ALL
SELECT 'started', started.*, false FROM started
UNION ALL
SELECT 'reserved', {columns("ahead")}, NULL, false FROM ahead JOIN reserved ON reserved.id = ahead.id
""")

# ---- look-ahead loading (fleet) --------------------------------------------------------------------

# An idle GPU host (up, nothing running, no load of its own queued) and the model it should load ahead
# of time: the one with the most queued jobs that could run there, that it has not loaded, that no idle
# host has loaded and no load is on its way for, that fits its memory — with at least :min_queued such
# jobs that have waited :settle seconds (so the claim, which takes work at once, was not simply about to).
# One pair per call: the next call sees the load this one queued.
LOOK_AHEAD = Statement("""
WITH idle AS (
    SELECT h.* FROM hosts h
    WHERE h.reachable AND NOT h.draining
      AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.host = h.name
                      AND l.expires_at + make_interval(secs => l.grace_seconds) > now())
), loading AS (
    SELECT model, requires FROM ai_jobs WHERE job_type = 'model.load' AND status IN ('queued', 'running')
)
SELECT i.name AS host, q.model, count(*) AS queued
FROM idle i JOIN ai_jobs q
  ON q.pool = :pool AND q.status = 'queued' AND q.model IS NOT NULL AND q.job_type <> 'model.load'
 AND q.run_at < now() - make_interval(secs => :settle)
 AND q.requires <@ (i.labels || ARRAY['host:' || i.name])
 AND NOT q.model = ANY(i.loaded_models)
 AND (i.gpu_memory IS NULL OR coalesce((i.installed ->> q.model)::bigint, 0) <= i.gpu_memory)
 AND (i.installed = '{}'::jsonb OR i.installed ? q.model)
WHERE NOT EXISTS (SELECT 1 FROM idle o WHERE q.model = ANY(o.loaded_models))
  AND NOT EXISTS (SELECT 1 FROM loading g WHERE g.model = q.model OR g.requires @> ARRAY['host:' || i.name])
GROUP BY i.name, q.model
HAVING count(*) >= :min_queued
ORDER BY count(*) DESC, i.name, q.model
LIMIT 1
""")

# ---- cancelling, retrying --------------------------------------------------------------------------

CANCEL_QUEUED_JOB = Statement("""
WITH cancelled AS (
    UPDATE ai_jobs SET status = 'cancelled', error_kind = 'cancelled', error_message = :message,
                       cancel_requested_at = now(), finished_at = now(), updated_at = now()
    WHERE id = :job_id AND status = 'queued'
    RETURNING id, status, attempt, pool, user_id
), counted AS (
    UPDATE pool_users SET queued = queued - 1 WHERE (pool, user_id) IN (SELECT pool, user_id FROM cancelled)
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, 'cancelled', attempt, :message FROM cancelled
)
SELECT id, status FROM cancelled
""")

# A running job is stopped by the process that runs it: it LISTENs on this channel.
REQUEST_CANCEL_RUNNING_JOB = Statement(f"""
UPDATE ai_jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
WHERE id = :job_id AND status = 'running'
RETURNING id, status, pg_notify('{CHANNEL_JOB_CANCEL}', CAST(id AS text)) IS NULL AS notified
""")

# Failed or cancelled → queued again by hand, as a new attempt with a fresh retry budget (its history is
# kept in job_events), within the user's queue quota.
RETRY_ENDED_JOB = Statement(f"""
WITH retried AS (
    UPDATE ai_jobs SET status = 'queued', run_at = now(), error_message = NULL, error_kind = NULL,
                       cancel_requested_at = NULL, finished_at = NULL, started_at = NULL, worker_id = NULL,
                       result_data = NULL, progress = '{{}}'::jsonb, retry_count = 0, updated_at = now()
    WHERE id = :job_id AND status IN ('failed', 'cancelled')
    RETURNING {JOB_COLUMNS}
), counted AS (
    UPDATE pool_users SET queued = queued + 1 WHERE (pool, user_id) IN (SELECT pool, user_id FROM retried)
    RETURNING queued
), admitted AS (
    SELECT aijobs_check_quota(queued, :quota) AS ok FROM counted
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, 'queued', attempt, :message FROM retried
)
SELECT retried.*, pg_notify('{CHANNEL_JOB_QUEUED}', retried.pool) IS NULL AS notified FROM retried, admitted
""")

# ---- background services ---------------------------------------------------------------------------

# The rescuer: a running job whose lease expired longer ago than its grace lost its worker (crash,
# kill -9, partition, a process frozen past its lease). It goes back to the queue (or fails when its
# retries are used up, or ends cancelled if that was asked). Leases expired past the grace are swept.
RESCUE_LOST_JOBS = Statement(f"""
WITH lost AS (
    SELECT j.id FROM ai_jobs j
    WHERE j.status = 'running'
      AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.job_id = j.id AND l.attempt = j.attempt
                      AND l.expires_at + make_interval(secs => l.grace_seconds) > now())
    FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE ai_jobs j SET
        status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                      WHEN j.retry_count < j.max_retries THEN 'queued' ELSE 'failed' END,
        retry_count = CASE WHEN j.cancel_requested_at IS NOT NULL THEN j.retry_count ELSE j.retry_count + 1 END,
        error_kind = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'lost' END,
        error_message = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'Cancelled (its worker had stopped).'
                             ELSE 'Its worker ' || coalesce(j.worker_id, '?') || ' stopped renewing the GPU lease '
                                  || '(crashed, was killed or lost the database); the job was re-queued.' END,
        finished_at = CASE WHEN j.cancel_requested_at IS NOT NULL OR j.retry_count >= j.max_retries
                           THEN now() END,
        run_at = now(), worker_id = NULL, updated_at = now()
    FROM lost WHERE j.id = lost.id
    RETURNING j.id, j.status, j.attempt, j.pool, j.user_id
), counted AS (  -- by user: several of one user's jobs may be rescued at once
    UPDATE pool_users u SET queued = u.queued + r.n
    FROM (SELECT pool, user_id, count(*) AS n FROM rescued WHERE status = 'queued' GROUP BY pool, user_id) r
    WHERE u.pool = r.pool AND u.user_id = r.user_id
), swept AS (
    DELETE FROM leases WHERE expires_at + make_interval(secs => grace_seconds) <= now() RETURNING key
), closed AS (
    UPDATE lease_history SET released_at = now(), end_reason = 'expired'
    WHERE key IN (SELECT key FROM swept) AND released_at IS NULL
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message)
    SELECT id, status, attempt, 'rescued: lease expired' FROM rescued
)
SELECT rescued.id, rescued.status, pg_notify('{CHANNEL_JOB_QUEUED}', rescued.pool) IS NULL AS notified
FROM rescued
""")

# Queued jobs whose queue_deadline passed fail with error_kind 'queue_timeout' (the claim never takes
# them; this sweep gives them their end).
EXPIRE_QUEUED_JOBS = Statement("""
WITH expired AS (
    UPDATE ai_jobs SET status = 'failed', error_kind = 'queue_timeout', finished_at = now(), updated_at = now(),
        error_message = 'Could not start before its queue deadline ('
                        || to_char(queue_deadline, 'YYYY-MM-DD HH24:MI:SS TZ') || '): the GPU stayed busy.'
    WHERE status = 'queued' AND queue_deadline IS NOT NULL AND queue_deadline <= now()
    RETURNING id, status, attempt, pool, user_id
), counted AS (
    UPDATE pool_users u SET queued = u.queued - e.n
    FROM (SELECT pool, user_id, count(*) AS n FROM expired GROUP BY pool, user_id) e
    WHERE u.pool = e.pool AND u.user_id = e.user_id
), event AS (
    INSERT INTO job_events (job_id, status, attempt, message) SELECT id, status, attempt, 'queue deadline passed'
    FROM expired
)
SELECT id FROM expired
""")

# When the next delayed job (or queue deadline) of the pool comes, so an idle processor wakes exactly then.
NEXT_RUN_AT = Statement("""
SELECT min(run_at) FROM ai_jobs WHERE pool = :pool AND status = 'queued' AND run_at > now()
""")

# Finished jobs past retention; never queued or running ones (their events go with them, by cascade).
DELETE_OLD_JOBS = Statement("""
WITH old AS (
    SELECT id FROM ai_jobs
    WHERE status IN ('completed', 'failed', 'cancelled')
      AND finished_at < now() - :days::float8 * interval '1 day'
    ORDER BY finished_at LIMIT :batch
)
DELETE FROM ai_jobs WHERE id IN (SELECT id FROM old) RETURNING id
""")

# ---- lists and figures -------------------------------------------------------------------------------

# Newest first, keyset-paginated by (created_at, id); every filter optional.
LIST_JOBS = Statement(f"""
SELECT {JOB_COLUMNS} FROM ai_jobs
WHERE (:user_id::text IS NULL OR user_id = :user_id)
  AND (:status::text[] IS NULL OR status = ANY(:status::text[]))
  AND (:job_type::text IS NULL OR job_type = :job_type)
  AND (:since::timestamptz IS NULL OR created_at >= :since)
  AND (:before_created::timestamptz IS NULL
       OR (created_at, id) < (:before_created::timestamptz, :before_id::uuid))
ORDER BY created_at DESC, id DESC
LIMIT :limit
""")

# Per job type (and a total row with job_type NULL): counts, success rate, run and wait times.
JOB_STATS = Statement("""
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
WHERE (:user_id::text IS NULL OR user_id = :user_id)
  AND (:since::timestamptz IS NULL OR created_at >= :since)
GROUP BY GROUPING SETS ((job_type), ())
ORDER BY job_type NULLS FIRST
""")
