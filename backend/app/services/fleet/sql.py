"""Every statement on the GPU hosts (asyncpg; `:name` parameters). The placement of jobs on hosts is part
of the claim, in the queue's statements."""

from __future__ import annotations

from app.db import Statement

CHANNEL_HOSTS_CHANGED = "aijobs_hosts_changed"  # payload: the host's name

HOST_COLUMNS = (
    "name, base_url, slots, gpu_memory, labels, draining, reachable, failures, version, loaded, loaded_models, "
    "installed, probed_at, created_at, updated_at"
)

LIST_HOSTS = Statement(f"SELECT {HOST_COLUMNS} FROM hosts ORDER BY name")

GET_HOST = Statement(f"SELECT {HOST_COLUMNS} FROM hosts WHERE name = :name")

# Add a host, or (seeded again at start, or updated by an admin) change its address, slots, memory, labels.
UPSERT_HOST = Statement(f"""
WITH put AS (
    INSERT INTO hosts AS h (name, base_url, slots, gpu_memory, labels)
    VALUES (:name, :base_url, :slots, :gpu_memory, :labels::text[])
    ON CONFLICT (name) DO UPDATE SET base_url = excluded.base_url, slots = excluded.slots,
        gpu_memory = excluded.gpu_memory, labels = excluded.labels, updated_at = now()
    RETURNING {HOST_COLUMNS}
)
SELECT put.*, pg_notify('{CHANNEL_HOSTS_CHANGED}', put.name) IS NULL AS notified FROM put
""")

INSERT_HOST = Statement(f"""
WITH put AS (
    INSERT INTO hosts (name, base_url, slots, gpu_memory, labels)
    VALUES (:name, :base_url, :slots, :gpu_memory, :labels::text[])
    ON CONFLICT (name) DO NOTHING
    RETURNING {HOST_COLUMNS}
)
SELECT put.*, pg_notify('{CHANNEL_HOSTS_CHANGED}', put.name) IS NULL AS notified FROM put
""")

# An admin changes a host's address, slots, memory or labels (what it is not given stays as it was).
UPDATE_HOST = Statement(f"""
WITH put AS (
    UPDATE hosts SET base_url = :base_url, slots = :slots, gpu_memory = :gpu_memory, labels = :labels::text[],
        updated_at = now()
    WHERE name = :name
    RETURNING {HOST_COLUMNS}
)
SELECT put.*, pg_notify('{CHANNEL_HOSTS_CHANGED}', put.name) IS NULL AS notified FROM put
""")

SET_DRAINING = Statement(f"""
WITH put AS (
    UPDATE hosts SET draining = :draining, updated_at = now() WHERE name = :name RETURNING {HOST_COLUMNS}
)
SELECT put.*, pg_notify('{CHANNEL_HOSTS_CHANGED}', put.name) IS NULL AS notified FROM put
""")

# A host may be removed only when nothing runs on it (drain it first).
DELETE_HOST = Statement(f"""
WITH gone AS (
    DELETE FROM hosts h WHERE name = :name
      AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.host = h.name
                      AND l.expires_at + make_interval(secs => l.grace_seconds) > now())
    RETURNING name
)
SELECT name, pg_notify('{CHANNEL_HOSTS_CHANGED}', name) IS NULL AS notified FROM gone
""")

# What a probe saw. A host is marked unreachable after :down_after failures in a row; a change of state
# is NOTIFYed so processors stop (or start again) placing work on it.
PROBED = Statement(f"""
WITH before AS (
    SELECT reachable FROM hosts WHERE name = :name
), put AS (
    UPDATE hosts SET
        reachable = CASE WHEN :ok THEN true ELSE failures + 1 < :down_after END,
        failures = CASE WHEN :ok THEN 0 ELSE failures + 1 END,
        version = coalesce(:version, version),
        loaded = CASE WHEN :ok THEN :loaded::jsonb ELSE loaded END,
        loaded_models = CASE WHEN :ok THEN :loaded_models::text[] ELSE loaded_models END,
        installed = CASE WHEN :ok THEN :installed::jsonb ELSE installed END,
        probed_at = now()
    WHERE name = :name
    RETURNING name, reachable, loaded_models
)
SELECT put.name, put.reachable, (SELECT reachable FROM before) AS was_reachable,
       CASE WHEN put.reachable IS DISTINCT FROM (SELECT reachable FROM before)
            THEN pg_notify('{CHANNEL_HOSTS_CHANGED}', put.name) IS NULL END AS notified
FROM put
""")

# Per host: what it learned and what runs on it (for the Fleet panel, `aijobs hosts list`, the lock view and
# /metrics). `running`: its GPU slots' leases still held (past expiry only within their grace), with the
# job's model — never the request. `queued_warm`: queued jobs whose model it has loaded.
HOSTS_VIEW = Statement(f"""
SELECT {", ".join(f"h.{name}" for name in HOST_COLUMNS.split(", "))},
       (SELECT count(*) FROM ai_jobs j WHERE j.status = 'queued' AND j.model = ANY(h.loaded_models)) AS queued_warm,
       (SELECT coalesce(json_agg(json_build_object(
                   'model', c.model, 'loads', c.loads, 'load_seconds', c.load_seconds,
                   'run_seconds', c.run_seconds, 'tokens_per_second', c.tokens_per_second, 'jobs', c.jobs,
                   'failures', c.failures, 'loading_seconds_total', c.loading_seconds_total,
                   'busy_seconds_total', c.busy_seconds_total) ORDER BY c.model), '[]')
        FROM host_model_costs c WHERE c.host = h.name) AS costs,
       (SELECT coalesce(json_agg(json_build_object(
                   'slot', s.slot, 'job_id', l.job_id, 'username', l.username, 'operation', l.operation,
                   'model', j.model, 'since', l.acquired_at) ORDER BY s.slot, l.key), '[]')
        FROM leases l
        CROSS JOIN LATERAL (SELECT substring(l.key FROM '/([0-9]+)$')::int AS slot) s
        LEFT JOIN ai_jobs j ON j.id = l.job_id
        WHERE l.host = h.name AND l.key LIKE 'gpu/%'
          AND l.expires_at + make_interval(secs => l.grace_seconds) > now()) AS running
FROM hosts h ORDER BY h.name
""")
