# syntax=docker/dockerfile:1.7
# API image: FastAPI, the CLI, migrations and beat. No torch: the API never imports the model stack.
# Build from the repository root:
#   docker build -f deploy/docker/api.Dockerfile -t triage-api:0.1.0 .

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY . .
# Versions come from pyproject.toml, where every dependency is pinned; no `ml` extra here.
RUN pip install --no-cache-dir .

FROM python:3.11.14-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="triage-api" \
      org.opencontainers.image.description="Support triage API, migrations and beat (no torch)" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed, unprivileged uid so Kubernetes runAsNonRoot can check it without a name lookup.
RUN groupadd --system --gid 10001 triage \
    && useradd --system --uid 10001 --gid triage --home-dir /home/triage --create-home --shell /usr/sbin/nologin triage
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/triage-entrypoint
COPY --chmod=0644 deploy/docker/healthcheck.py /usr/local/lib/triage/healthcheck.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRIAGE_ENVIRONMENT=production \
    TRIAGE_DATA_DIR=/tmp/triage
WORKDIR /home/triage
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/usr/local/lib/triage/healthcheck.py", "api"]
ENTRYPOINT ["triage-entrypoint"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
