"""A stand-in for Ollama's HTTP API (development and tests): `python -m app.simulator --help`.

Modules: `names` (model name rules), `models` (catalogue), `durations` (keep_alive), `sizes`
(8GiB, Ollama's HumanBytes2), `text` (deterministic replies, JSON, embeddings, tool arguments),
`media` (images, Go's base64 rules), `plans` (what a generation produces: reasoning, text or a
tool call), `stats` (counters and log), `residency` (loaded models and the GPU memory scheduler),
`holds` (pausing generations for tests), `state` (settings, failures, everything together), `gpu`
(one request's hold on its model), `responses` (streaming with disconnect detection, dropped
connections), `generation`, `embedding` and `management` (the endpoints), `control` (/_sim/),
`app` (ASGI app), `main` (command line).
"""
