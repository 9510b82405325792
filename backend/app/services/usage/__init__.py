"""Token usage: what each user's completed jobs cost (Ollama's prompt and generated token counts and
durations, read from the jobs' results through the `job_usage` view), totals for today and the last
7 days, and the optional daily token limit."""
