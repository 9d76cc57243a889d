# chatgpt-api: the HTTP service in a slim image, run as an unprivileged user.
#
#   docker build -t chatgpt-api .
#   docker run --rm -p 3000:3000 -v chatgpt-data:/data chatgpt-api
#   docker run --rm -p 3000:3000 chatgpt-api chatgpt-api serve --demo   # offline try-out
#
# Configuration is the CHATGPT_API_* environment (see docs/configuration.md); the data directory
# (SQLite store, generated secret key) is the /data volume. docker-compose.yml runs two
# instances on PostgreSQL and Redis.

# ---- build: install the package and its pinned dependencies into a virtualenv ----
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CONSTRAINT=/src/constraints.txt

WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/chatgpt-api --version

# ---- runtime: the virtualenv only, no build tools, no sources ----
FROM python:3.11-slim

# CHATGPT_API_HOST=0.0.0.0: the service listens on loopback only unless told otherwise, and
# a container must accept connections on its published port.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CHATGPT_API_HOST=0.0.0.0 \
    CHATGPT_API_PORT=3000 \
    CHATGPT_API_HOME=/data

RUN groupadd --system --gid 10001 chatgpt \
    && useradd --system --uid 10001 --gid chatgpt --home-dir /data --shell /usr/sbin/nologin chatgpt \
    && mkdir -p /data \
    && chown chatgpt:chatgpt /data

COPY --from=build /opt/venv /opt/venv

USER chatgpt
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000

# Liveness: GET /healthz on the port the service listens on (no curl in the slim image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CHATGPT_API_PORT', '3000'), timeout=4)"]

CMD ["chatgpt-api", "serve"]
