# Local CloudWatch Logs / S3 emulator for docker-compose.yml (the `logs` service): moto's
# server from requirements/emulator.txt (hash-checked, the versions of requirements/dev.txt).
# Not used in AWS.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY requirements/emulator.txt /tmp/emulator.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/emulator.txt \
 && rm /tmp/emulator.txt \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent app
USER 10001:10001
EXPOSE 4566
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4566/moto-api/', timeout=2)"]
CMD ["moto_server", "-H", "0.0.0.0", "-p", "4566"]
