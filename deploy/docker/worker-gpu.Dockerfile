# syntax=docker/dockerfile:1.7
# GPU worker image: the Celery inference worker on a CUDA base with the CUDA build of torch.
# Build from the repository root:
#   docker build -f deploy/docker/worker-gpu.Dockerfile -t triage-worker-gpu:0.1.0 .
# The host needs an NVIDIA driver recent enough for CUDA_WHEEL (cu128: driver >= 570) and the NVIDIA
# Container Toolkit (compose) or the NVIDIA device plugin (Kubernetes).

# uv installs a standalone CPython 3.11: the CUDA images are Ubuntu, whose Python is not 3.11.
FROM ghcr.io/astral-sh/uv:0.9.5 AS uv

FROM nvidia/cuda:12.8.1-base-ubuntu22.04 AS build
# Must equal the torch pin in pyproject.toml (tests/deploy checks it).
ARG TORCH_VERSION=2.13.0
# PyTorch wheel index matching the CUDA base above; change both together.
ARG CUDA_WHEEL=cu128
ARG PYTHON_VERSION=3.11.14
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON_PREFERENCE=only-managed \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
RUN uv python install "${PYTHON_VERSION}" \
    && uv venv --python "${PYTHON_VERSION}" /opt/venv
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# torch alone first, from the CUDA wheel index; this layer survives code changes.
RUN uv pip install --index-url "https://download.pytorch.org/whl/${CUDA_WHEEL}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY . .
# The installed CUDA torch satisfies the `torch==` pin (PEP 440 ignores the local label).
RUN uv pip install ".[ml]"

FROM nvidia/cuda:12.8.1-base-ubuntu22.04 AS runtime
LABEL org.opencontainers.image.title="triage-worker-gpu" \
      org.opencontainers.image.description="Support triage inference worker, CUDA" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 triage \
    && useradd --system --uid 10001 --gid triage --home-dir /home/triage --create-home --shell /usr/sbin/nologin triage
# The venv's interpreter is a link into /opt/python, so both directories travel together.
COPY --from=build /opt/python /opt/python
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
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    TRIAGE_ENVIRONMENT=production \
    TRIAGE_DATA_DIR=/tmp/triage \
    TRIAGE_DEVICE=cuda \
    TRIAGE_WORKER_METRICS_PORT=9100 \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1 \
    HF_HOME=/tmp/huggingface \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
WORKDIR /home/triage
USER 10001:10001
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/usr/local/lib/triage/healthcheck.py", "worker"]
ENTRYPOINT ["triage-entrypoint"]
CMD ["worker", "--queues", "inference", "--concurrency", "1"]
