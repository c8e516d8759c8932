"""`triage bench pipeline`: the whole service under load, against the raw classifier, in one table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Benchmark the service end to end.", no_args_is_help=True)

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@bench_app.command("pipeline")
def pipeline_command(
    tickets: Annotated[int, typer.Option(min=10, help="Tickets posted through the pipeline.")] = 500,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent clients posting them.")] = 8,
    workers: Annotated[int, typer.Option(min=1, help="Inference worker processes.")] = 2,
    api_workers: Annotated[int, typer.Option(min=1, help="API (uvicorn) processes.")] = 2,
    intake_requests: Annotated[int, typer.Option(min=100, help="Requests per intake measurement.")] = 2000,
    intake_connections: Annotated[int, typer.Option(min=1, help="Connections for intake alone.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed of the ticket mix.")] = 7,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Labelled public data (default: ../shared/data)."),
    ] = None,
    postgres_url: Annotated[
        str,
        typer.Option(
            help="PostgreSQL server (admin URL) for a throwaway database; empty skips PostgreSQL.",
            envvar="TRIAGE_BENCH_POSTGRES_URL",
        ),
    ] = DEFAULT_POSTGRES_URL,
) -> None:
    """Post tickets through the embedded stack and measure it against the raw classifier."""
    from workers.bench.pipeline import run_pipeline_bench
    from workers.training.data import DEFAULT_DATA_DIR

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    report = run_pipeline_bench(
        tickets=tickets,
        clients=clients,
        worker_processes=workers,
        api_workers=api_workers,
        intake_requests=intake_requests,
        intake_connections=intake_connections,
        seed=seed,
        data_dir=data_dir or DEFAULT_DATA_DIR,
        postgres_url=postgres_url or None,
        log=lambda m: typer.echo(m, err=True),
    )
    typer.echo(report.table())


@bench_app.command("evidence")
def evidence_command(
    texts: Annotated[int, typer.Option(min=10, help="Dev texts of two or more sentences.")] = 300,
    threads: Annotated[int, typer.Option(min=1)] = 1,
    data_dir: Annotated[
        Path | None, typer.Option(help="Labelled public data (default: ../shared/data).")
    ] = None,
) -> None:
    """Print how often one-pass evidence names the same top sentence as occlusion, and both speeds."""
    from workers.bench.evidence import dev_texts, measure_agreement
    from workers.training.data import DEFAULT_DATA_DIR

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sample = dev_texts(texts, data_dir or DEFAULT_DATA_DIR)
    typer.echo(measure_agreement(sample, threads=threads, log=lambda m: typer.echo(m, err=True)).table())


@bench_app.command("int8")
def int8_command(
    data_dir: Annotated[
        Path | None, typer.Option(help="Labelled public data (default: ../shared/data).")
    ] = None,
) -> None:
    """Compare torch.ao int8 with ONNX Runtime int8: texts/s and agreement with fp32 decisions."""
    from workers.bench.int8 import run_int8_comparison
    from workers.training.data import DEFAULT_DATA_DIR

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    typer.echo(run_int8_comparison(data_dir or DEFAULT_DATA_DIR, log=lambda m: typer.echo(m, err=True)))
