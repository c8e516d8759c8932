"""The `triage` command: run everything on one machine, or each part on its own for production."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from service.config import Settings, get_settings

app = typer.Typer(help="Self-hosted customer-support triage.", no_args_is_help=True, add_completion=False)


def _worker_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    # Fast tokenizers fork badly under prefork and their threads were slower here (performance.md).
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


def worker_command(
    queues: str,
    concurrency: int,
    *,
    beat_schedule: Path | None = None,
    hostname: str | None = None,
    pool: str = "prefork",
) -> list[str]:
    """Return the command line of a Celery worker on `queues`, running beat when given its schedule file."""
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "--queues",
        queues,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--hostname",
        hostname or f"{queues.replace(',', '-')}@%h",
        "--pool",
        pool,
    ]
    if beat_schedule is not None:
        args += ["--beat", "--schedule", str(beat_schedule.resolve())]
    return args


def api_command(host: str, port: int, settings: Settings | None = None) -> list[str]:
    """Return the command line of one uvicorn process serving the API, with its client limits."""
    from service.server import uvicorn_flags

    return [
        sys.executable,
        "-m",
        "uvicorn",
        "service.asgi:app",
        "--host",
        host,
        "--port",
        str(port),
        "--log-level",
        "warning",
        *uvicorn_flags(settings or get_settings()),
    ]


def _api_key(settings: Settings) -> str:
    """Return the configured API key, or one generated on first start and kept in the data dir."""
    if settings.api_key:
        return settings.api_key.get_secret_value()
    key_file = settings.data_dir / "api_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(24)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface the API binds to.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Start Redis (unless one is configured), migrate the database, and run the API and a worker."""
    from service.embedded import start_redis
    from service.storage.migrate import upgrade

    settings = get_settings()
    _require_free_port(host, port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Stop cleanly on Ctrl-C and on SIGTERM (systemd, docker stop), even where the parent shell
    # started us with SIGINT ignored.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _raise_interrupt)
    children: list[subprocess.Popen[bytes]] = []
    redis_url = settings.redis_url
    if "redis_url" not in settings.model_fields_set:
        redis_process, redis_url = start_redis(settings.data_dir / "redis")
        children.append(redis_process)
    upgrade(settings.sqlalchemy_url)
    api_key = _api_key(settings)
    metrics_dir = tempfile.mkdtemp(prefix="triage-metrics-")
    env = _worker_env(
        {
            "TRIAGE_REDIS_URL": redis_url,
            "TRIAGE_API_KEY": api_key,
            "TRIAGE_DATA_DIR": str(settings.data_dir.resolve()),
            "TRIAGE_DATABASE_URL": settings.sqlalchemy_url,
            "TRIAGE_PUBLIC_URL": f"http://{host}:{port}",
            "TRIAGE_WORKER_METRICS_HOST": host,
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
    )
    try:
        children.append(
            subprocess.Popen(
                api_command(host, port, settings),
                # The API gets its own metrics directory: sharing the worker's would export API
                # samples from the worker's /metrics too.
                env={**env, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="triage-api-metrics-")},
            )
        )
        children.append(
            subprocess.Popen(
                worker_command(
                    "inference,actions", concurrency, beat_schedule=settings.data_dir / "beat-schedule"
                ),
                env=env,
            )
        )
        _wait_healthy(f"http://{host}:{port}/healthz", children)
        typer.echo(
            f"\nTriage service is up.\n"
            f"  API:      http://{host}:{port}/v1\n"
            f"  Docs:     http://{host}:{port}/docs\n"
            f"  API key:  {api_key}\n"
            f"  Redis:    {redis_url}\n"
            f"  Database: {settings.sqlalchemy_url}\n"
            f"Press Ctrl-C to stop.\n"
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        stopped = next(child for child in children if child.poll() is not None)
        command = stopped.args if isinstance(stopped.args, list) else [stopped.args]
        typer.echo(f"{' '.join(map(str, command[:4]))} exited ({stopped.returncode}); stopping", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _require_free_port(host: str, port: int) -> None:
    """Refuse to start when the API port is taken: the health check would find the other server."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            typer.echo(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port", err=True)
            raise typer.Exit(2) from exc


def _wait_healthy(url: str, children: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise typer.Exit(1)
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise typer.Exit(1)


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the API alone (production: migrate first with `triage migrate`)."""
    import uvicorn

    from service.server import uvicorn_options

    uvicorn.run(
        "service.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        **uvicorn_options(get_settings()),
    )


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated: inference, actions.")] = "inference,actions",
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    beat: Annotated[bool, typer.Option(help="Also run the periodic sweep (one per deployment).")] = False,
    pool: Annotated[
        str,
        typer.Option(
            help="prefork (CPU: one model per process) or threads (GPU: one model, gathered batches)."
        ),
    ] = "prefork",
) -> None:
    """Run a Celery worker on the given queues."""
    settings = get_settings()
    env = _worker_env({})
    if "PROMETHEUS_MULTIPROC_DIR" not in env:
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="triage-metrics-")
    if pool not in ("prefork", "threads"):
        raise typer.BadParameter("--pool must be prefork or threads")
    args = worker_command(
        queues, concurrency, beat_schedule=settings.data_dir / "beat-schedule" if beat else None, pool=pool
    )
    os.execvpe(args[0], args, env)


@app.command()
def beat() -> None:
    """Run Celery beat, which schedules the reconciliation sweep (exactly one per deployment)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str((settings.data_dir / "beat-schedule").resolve()),
    ]
    os.execvpe(args[0], args, _worker_env({}))


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    from service.storage.migrate import upgrade

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    typer.echo("database is at the latest revision")


def _mount_model_commands() -> None:
    """Add `triage model ...` and `triage classify` when the worker's model stack is installed."""
    try:
        from workers.cli_model import classify, model_app
    except ImportError:
        return
    app.add_typer(model_app, name="model")
    app.command(name="classify")(classify)


def _mount_bench_commands() -> None:
    """Add `triage bench ...` when the worker's model stack is installed (it measures the model too)."""
    try:
        from workers.bench.cli import bench_app
    except ImportError:
        return
    app.add_typer(bench_app, name="bench")


def _mount_operator_commands() -> None:
    """Add the operator commands (policy, feedback, retention, erase); imported here: `serve` stays light."""
    from service.feedback.cli import feedback_app
    from service.lifecycle.cli import erase, erasures, retention_app
    from workers.routing.cli import policy_app

    app.add_typer(policy_app, name="policy")
    app.add_typer(feedback_app, name="feedback")
    app.add_typer(retention_app, name="retention")
    app.command(name="erase")(erase)
    app.command(name="erasures")(erasures)


_mount_model_commands()
_mount_bench_commands()
_mount_operator_commands()


if __name__ == "__main__":
    app()
