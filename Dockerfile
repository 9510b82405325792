# aijobs: the API, the job processor and the page in one image.
# Build: docker build -t aijobs .     Run: docker run -p 8000:8000 -e DATABASE_URL=… -e OLLAMA_BASE_URL=… aijobs
# A worker-only container runs the same image with the command `aijobs worker`.

# --- 1. the page: built with Node; only its static files reach the final image -----------------------
FROM node:20-slim AS page
WORKDIR /build/frontend
# The manifests first, so the npm layer is rebuilt only when they change. The lock file is optional
# (the trailing * lets COPY match nothing).
COPY frontend/package.json frontend/package-lock.json* ./
# `npm install` rather than `npm ci`: with a lock file it installs the pinned versions all the same, but
# it also copes with a lock that lacks other platforms' optional packages (rollup's native builds),
# which `npm ci` rejects outright ("Missing: @rollup/rollup-… from lock file").
RUN npm install --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- 2. the service: a slim Python with the package installed ---------------------------------------
FROM python:3.11-slim
# PORT: what `aijobs serve` binds (Railway sets its own); WEB_DIR: where the page from stage 1 is;
# AIJOBS_DATA_DIR: the embedded PostgreSQL's data, used only when DATABASE_URL is unset.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8000 \
    HOST=0.0.0.0 \
    WEB_DIR=/app/frontend/dist \
    AIJOBS_DATA_DIR=/app/data
WORKDIR /app
# What `pip install .` needs: pyproject.toml and setup.py, the README it names as the long description,
# the code, and the migrations (alembic/, installed inside the package as app/migrations).
COPY pyproject.toml setup.py README.md ./
COPY backend/ backend/
COPY alembic/ alembic/
RUN pip install .
COPY --from=page /build/frontend/dist /app/frontend/dist
# Never run as root: the service needs no privileges, only a data directory it owns (and the embedded
# PostgreSQL refuses to start as root anyway).
RUN useradd --create-home --uid 10001 aijobs && mkdir -p /app/data && chown aijobs /app/data
USER aijobs
EXPOSE 8000
# Docker's own check (Railway uses healthcheckPath in railway.toml instead). urllib raises on a non-2xx
# answer or no answer, so python exits 1: unhealthy. 503 means the database is unreachable.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/health', timeout=4)"
# Migrations first (a no-op when up to date; `serve` would apply them too), then uvicorn inside
# `aijobs serve`, with proxy headers trusted so client addresses and https links are right behind
# Railway's or any proxy. A shell is needed to expand ${PORT} at start; it is spelled out (JSON form of
# `sh -c`) rather than using the bare shell form, which BuildKit flags (JSONArgsRecommended), and
# `exec` hands PID 1 to aijobs so `docker stop` / Railway's SIGTERM reach the server directly.
# railway.toml's startCommand is this same command (tests/test_deploy.py checks that they match).
CMD ["sh", "-c", "aijobs migrate && exec aijobs serve --host 0.0.0.0 --port \"${PORT}\""]
