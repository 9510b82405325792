"""Every statement on token usage. `job_usage` (migration 0005) reads Ollama's counts out of completed
jobs' results; `ai_jobs_usage_idx (user_id, finished_at)` serves these, per user and per window."""

from __future__ import annotations

from app.db import Statement

# The start of today (UTC): daily limits and "today" reset at 00:00 UTC.
TODAY = "(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"

# Per user: jobs, tokens and seconds today and over the last 7 days; one user, or all (:user_id NULL).
USAGE_BY_USER = f"""
SELECT user_id, max(username) AS username,
       count(*) FILTER (WHERE finished_at >= {TODAY}) AS today_jobs,
       coalesce(sum(prompt_tokens) FILTER (WHERE finished_at >= {TODAY}), 0) AS today_prompt_tokens,
       coalesce(sum(completion_tokens) FILTER (WHERE finished_at >= {TODAY}), 0) AS today_completion_tokens,
       coalesce(sum(total_duration_ns) FILTER (WHERE finished_at >= {TODAY}), 0) AS today_total_ns,
       coalesce(sum(eval_duration_ns) FILTER (WHERE finished_at >= {TODAY}), 0) AS today_eval_ns,
       count(*) AS week_jobs,
       coalesce(sum(prompt_tokens), 0) AS week_prompt_tokens,
       coalesce(sum(completion_tokens), 0) AS week_completion_tokens,
       coalesce(sum(total_duration_ns), 0) AS week_total_ns,
       coalesce(sum(eval_duration_ns), 0) AS week_eval_ns
FROM job_usage
WHERE finished_at >= now() - interval '7 days'
  AND (CAST(:user_id AS text) IS NULL OR user_id = :user_id)
GROUP BY user_id
ORDER BY user_id
"""

# A user's tokens today, and the seconds until the limit resets (run on asyncpg: it is on the submit path).
TOKENS_TODAY = Statement(f"""
SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) AS used,
       EXTRACT(EPOCH FROM {TODAY} + interval '1 day' - now()) AS seconds_left
FROM job_usage
WHERE user_id = :user_id AND finished_at >= {TODAY}
""")
