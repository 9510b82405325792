# aijobs: the API, the job processor and the page in one image.
# Build: docker build -t aijobs .     Run: docker run -p 8000:8000 -e DATABASE_URL=… -e OLLAMA_BASE_URL=… aijobs
# A worker-only container runs the same image with the command `aijobs worker`.

# --- 1. the page: built with Node, only its static files are kept -----------------------------------
FROM node:20-slim AS page
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm install --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- 2. the service: a slim Python with the package installed ---------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8000 \
    HOST=0.0.0.0 \
    WEB_DIR=/app/frontend/dist \
    AIJOBS_DATA_DIR=/app/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend/ backend/
RUN pip install .
COPY --from=page /build/frontend/dist /app/frontend/dist
# Never run as root: the service needs no privileges, only its data directory.
RUN useradd --create-home --uid 10001 aijobs && mkdir -p /app/data && chown aijobs /app/data
USER aijobs
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=4)"
# Migrations first (a no-op when up to date), then uvicorn (inside `aijobs serve`) with proxy headers
# trusted, so client addresses and https links are right behind Railway's or any proxy.
CMD ["sh", "-c", "aijobs migrate && exec aijobs serve --host 0.0.0.0 --port \"${PORT}\""]
