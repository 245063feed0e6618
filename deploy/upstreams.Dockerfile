# The sample upstream services for docker-compose.yml (`django` and `fastapi` services): one
# image, two commands. Runtime requirements only (requirements/upstreams.txt + lib/logship).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/upstreams.txt requirements/upstreams.txt
COPY requirements/build.txt requirements/build.txt
COPY lib/logship lib/logship
# Hash-checked from the lock; lib/logship (a directory cannot be hash-checked) without dependencies
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements/upstreams.txt -r requirements/build.txt \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation ./lib/logship \
 && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent app \
 && install -d -o app -g app /data /var/spool/upstreams
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY upstreams upstreams
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CATALOG_DB_PATH=/data/catalog.sqlite3 \
    LOG_SPOOL_DIR=/var/spool/upstreams
USER 10001:10001
EXPOSE 8001 8002
STOPSIGNAL SIGTERM
# The command (and so the port) is chosen per service in docker-compose.yml.
CMD ["python", "upstreams/django_api/run.py", "--host", "0.0.0.0", "--port", "8001"]
