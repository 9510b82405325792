"""Prometheus metrics, computed from the database at scrape time, so every replica reports the same
figures whichever process ran the jobs."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.services.queue import sql

BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]


class _Snapshot:
    """A collector that yields metric families computed beforehand (prometheus_client collectors are sync)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def render(conn: AsyncConnection, pool: str = "gpu") -> bytes:
    jobs = GaugeMetricFamily("aijobs_jobs", "Jobs in the database by status and type.", labels=["status", "job_type"])
    for row in await conn.execute(text(sql.METRICS_JOB_COUNTS)):
        jobs.add_metric([row.status, row.job_type], row.n)
    queue_length = (await conn.execute(text(sql.QUEUE_LENGTH), {"pool": pool})).scalar_one()
    totals = (await conn.execute(text(sql.METRICS_TOTALS))).one()
    sums = (await conn.execute(text(sql.METRICS_HISTOGRAM_SUMS))).one()
    buckets = (await conn.execute(text(sql.METRICS_HISTOGRAMS), {"bounds": [float(b) for b in BUCKETS]})).all()

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
    ]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))  # type: ignore[arg-type]
    return generate_latest(registry)
