# Hostledger API image. Production settings: it refuses to start without
# HOSTLEDGER_SECRET_KEY, HOSTLEDGER_DATA_KEYS, HOSTLEDGER_BLIND_INDEX_KEY and a PostgreSQL
# HOSTLEDGER_DATABASE_URL (see docker-compose.yml and README.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOSTLEDGER_ENV=production

RUN groupadd --system hostledger \
    && useradd --system --gid hostledger --create-home --home-dir /home/hostledger hostledger

# Only what the package needs (never .venv, var/ or a local .env). The wheel carries the
# migrations; `hostledger migrate` does not need alembic.ini.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install . && rm -rf /src/build /src/*.egg-info

USER hostledger
WORKDIR /home/hostledger

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# `exec` hands PID 1 to uvicorn, so SIGTERM from `docker stop` reaches it (graceful shutdown).
CMD ["sh", "-c", "hostledger migrate && exec hostledger serve --host 0.0.0.0 --port 8000 --workers 4"]
