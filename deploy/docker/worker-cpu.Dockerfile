# syntax=docker/dockerfile:1.7
# CPU worker image: the Celery workers with the `ml` extra and the CPU build of torch.
# Build from the repository root:
#   docker build -f deploy/docker/worker-cpu.Dockerfile -t triage-worker-cpu:0.1.0 .

FROM python:3.11.14-slim-bookworm AS build
# Must equal the torch pin in pyproject.toml (tests/deploy checks it).
ARG TORCH_VERSION=2.13.0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first and alone, from the CPU wheel index: PyPI's Linux wheel would pull gigabytes of CUDA
# libraries. This layer only changes when the pin does, so code changes do not download it again.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"
WORKDIR /src
COPY . .
# The installed CPU torch satisfies the `torch==` pin (PEP 440 ignores the `+cpu` local label).
# DL3013 takes the local project `.[ml]` for an unpinned package; pyproject.toml pins every version.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[ml]"

FROM python:3.11.14-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="triage-worker-cpu" \
      org.opencontainers.image.description="Support triage Celery workers, CPU inference" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 triage \
    && useradd --system --uid 10001 --gid triage --home-dir /home/triage --create-home --shell /usr/sbin/nologin triage
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/triage-entrypoint
COPY --chmod=0644 deploy/docker/healthcheck.py /usr/local/lib/triage/healthcheck.py
# Workers: no tokenizer threads that deadlock after fork, no hub downloads (the model ships in a
# package), and prometheus-client's multiprocess directory, emptied by the entrypoint at start.
# DL3064 reads "TOKEN" in TOKENIZERS_PARALLELISM as a secret; no secret is set here.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRIAGE_ENVIRONMENT=production \
    TRIAGE_DATA_DIR=/tmp/triage \
    TRIAGE_DEVICE=cpu \
    TRIAGE_WORKER_METRICS_PORT=9100 \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1 \
    HF_HOME=/tmp/huggingface \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
WORKDIR /home/triage
USER 10001:10001
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/lib/triage/healthcheck.py", "worker"]
ENTRYPOINT ["triage-entrypoint"]
CMD ["worker", "--queues", "inference", "--concurrency", "1"]
