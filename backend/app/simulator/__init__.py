"""A stand-in for Ollama's HTTP API (development and tests): `python -m app.simulator --help`.

Modules: `names` (model name rules), `models` (catalogue), `durations` (keep_alive), `text`
(deterministic replies, JSON, embeddings), `state` (settings, failures, stats, loaded models),
`responses` (streaming with disconnect detection, dropped connections), `generation` and
`management` (the endpoints), `control` (/_sim/), `app` (ASGI app), `main` (command line).
"""
