"""Prometheus metrics, computed from the database at scrape time, so every replica reports the same
figures whichever process ran the jobs."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.services.usage import service as usage

METRICS_QUEUE_LENGTH = "SELECT count(*) FROM ai_jobs WHERE pool = :pool AND status = 'queued'"

METRICS_JOB_COUNTS = "SELECT status, job_type, count(*) AS n FROM ai_jobs GROUP BY status, job_type"

METRICS_TOTALS = """
SELECT coalesce(sum(EXTRACT(EPOCH FROM coalesce(finished_at, now()) - started_at))
                FILTER (WHERE started_at IS NOT NULL AND status <> 'queued'), 0) AS gpu_busy_seconds,
       coalesce(sum(retry_count), 0) AS retries,
       (SELECT count(*) FROM job_events WHERE message = 'rescued: lease expired') AS rescues
FROM ai_jobs
"""

# Cumulative histogram counts for run time (completed jobs) and queue wait (started jobs).
METRICS_HISTOGRAMS = """
SELECT b.le,
       count(*) FILTER (WHERE j.status = 'completed'
                         AND EXTRACT(EPOCH FROM j.finished_at - j.started_at) <= b.le) AS run_count,
       count(*) FILTER (WHERE j.started_at IS NOT NULL
                         AND EXTRACT(EPOCH FROM j.started_at - j.created_at) <= b.le) AS wait_count
FROM unnest(CAST(:bounds AS float8[])) AS b(le) CROSS JOIN ai_jobs j
GROUP BY b.le ORDER BY b.le
"""

METRICS_HISTOGRAM_SUMS = """
SELECT count(*) FILTER (WHERE status = 'completed') AS run_n,
       coalesce(sum(EXTRACT(EPOCH FROM finished_at - started_at)) FILTER (WHERE status = 'completed'), 0) AS run_sum,
       count(*) FILTER (WHERE started_at IS NOT NULL) AS wait_n,
       coalesce(sum(EXTRACT(EPOCH FROM started_at - created_at)) FILTER (WHERE started_at IS NOT NULL), 0) AS wait_sum
FROM ai_jobs
"""


# Per GPU host: whether it takes work, and what its jobs taught (summed over its models).
METRICS_HOSTS = """
SELECT h.name, h.slots, (h.reachable AND NOT h.draining) AS up,
       coalesce(sum(c.busy_seconds_total), 0) AS busy_seconds, coalesce(sum(c.loads), 0) AS loads,
       coalesce(sum(c.loading_seconds_total), 0) AS loading_seconds, coalesce(sum(c.jobs), 0) AS jobs,
       coalesce(sum(c.failures), 0) AS failures
FROM hosts h LEFT JOIN host_model_costs c ON c.host = h.name
GROUP BY h.name ORDER BY h.name
"""

BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]


class _Snapshot:
    """A collector that yields metric families computed beforehand (prometheus_client collectors are sync)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def render(conn: AsyncConnection, pool: str = "gpu") -> bytes:
    jobs = GaugeMetricFamily("aijobs_jobs", "Jobs in the database by status and type.", labels=["status", "job_type"])
    for row in await conn.execute(text(METRICS_JOB_COUNTS)):
        jobs.add_metric([row.status, row.job_type], row.n)
    queue_length = (await conn.execute(text(METRICS_QUEUE_LENGTH), {"pool": pool})).scalar_one()
    totals = (await conn.execute(text(METRICS_TOTALS))).one()
    sums = (await conn.execute(text(METRICS_HISTOGRAM_SUMS))).one()
    buckets = (await conn.execute(text(METRICS_HISTOGRAMS), {"bounds": [float(b) for b in BUCKETS]})).all()

    run = HistogramMetricFamily("aijobs_job_run_seconds", "Run time of completed jobs.")
    run.add_metric([], [(str(b.le), b.run_count) for b in buckets] + [("+Inf", sums.run_n)], float(sums.run_sum))
    wait = HistogramMetricFamily("aijobs_job_wait_seconds", "Time from submission to start.")
    wait.add_metric([], [(str(b.le), b.wait_count) for b in buckets] + [("+Inf", sums.wait_n)], float(sums.wait_sum))
    families: list[Metric] = [
        jobs,
        GaugeMetricFamily("aijobs_queue_length", "Jobs waiting for a GPU slot.", value=queue_length),
        CounterMetricFamily(
            "aijobs_gpu_busy_seconds",
            "Seconds jobs held the GPU (kept jobs only).",
            value=float(totals.gpu_busy_seconds),
        ),
        CounterMetricFamily("aijobs_job_retries", "Retries after transient failures.", value=int(totals.retries)),
        CounterMetricFamily("aijobs_job_rescues", "Jobs re-queued after their worker died.", value=int(totals.rescues)),
        run,
        wait,
        *await _host_families(conn),
        *await usage.metric_families(conn),
    ]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))  # type: ignore[arg-type]
    return generate_latest(registry)


async def _host_families(conn: AsyncConnection) -> list[Metric]:
    """Per GPU host: up (takes work), slots, busy seconds, model loads, seconds spent loading, jobs, failures."""
    families = {
        "up": GaugeMetricFamily("aijobs_host_up", "1 if the GPU host answers and is not draining.", labels=["host"]),
        "slots": GaugeMetricFamily("aijobs_host_slots", "GPU slots of the host.", labels=["host"]),
        "busy_seconds": CounterMetricFamily(
            "aijobs_host_busy_seconds", "Seconds the host's slots ran jobs.", labels=["host"]
        ),
        "loads": CounterMetricFamily("aijobs_host_model_loads", "Model loads the host's jobs caused.", labels=["host"]),
        "loading_seconds": CounterMetricFamily(
            "aijobs_host_loading_seconds", "Seconds the host spent loading models for jobs.", labels=["host"]
        ),
        "jobs": CounterMetricFamily("aijobs_host_jobs", "Jobs the host completed.", labels=["host"]),
        "failures": CounterMetricFamily("aijobs_host_job_failures", "Jobs that ended badly there.", labels=["host"]),
    }
    for row in await conn.execute(text(METRICS_HOSTS)):
        for name, family in families.items():
            value = getattr(row, name)
            family.add_metric([row.name], float(value) if not isinstance(value, bool) else int(value))
    return list(families.values())
