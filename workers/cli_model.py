"""`triage model train|eval|bench` and `triage classify`; torch loads only inside the commands."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(
    help="Train, evaluate and benchmark the frustration and urgency models.", no_args_is_help=True
)

DataDirOption = Annotated[
    Path | None, typer.Option(help="Labelled public data (default: ../shared/data beside the repository).")
]
ModelDirOption = Annotated[
    Path | None, typer.Option(help="Artefact directory (default: the shipped workers/inference/artifacts).")
]


def _data_dir(value: Path | None) -> Path:
    from workers.training.data import DEFAULT_DATA_DIR

    return value or DEFAULT_DATA_DIR


def _model_dir(value: Path | None) -> Path:
    from workers.inference.artifacts_io import SHIPPED_DIR

    return value or SHIPPED_DIR


@model_app.command("train")
def train_command(
    output: Annotated[
        Path | None, typer.Option(help="Where to write artefacts (default: the shipped directory).")
    ] = None,
    data_dir: DataDirOption = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Customer export (CSV/JSONL: text + priority and/or frustration) to fine-tune on."),
    ] = None,
    base: ModelDirOption = None,
    threads: Annotated[int, typer.Option(min=1, help="torch threads for training.")] = 1,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed for sampling, shuffling and initialisation.")] = 13,
    frustration_limit: Annotated[int, typer.Option(help="GoEmotions rows to train on (0: all).")] = 8_000,
    epochs: Annotated[float, typer.Option(help="Passes over the training examples.")] = 1.0,
    urgency_epochs: Annotated[float, typer.Option(help="Passes over the urgency examples.")] = 2.0,
    stage: Annotated[
        str,
        typer.Option(
            help="all: public data, then the support corpus (the shipped recipe); public: stage 1 only; "
            "support: stage 2 only, continuing from --base."
        ),
    ] = "all",
    corpus_epochs: Annotated[float, typer.Option(help="Stage 2: passes over the support corpus.")] = 2.0,
) -> None:
    """Reproduce the shipped model (public data, then the support corpus), or fine-tune on an export."""
    from dataclasses import replace

    from tqdm import tqdm

    from workers.inference.runtime import resolve_device
    from workers.training.pipeline import fine_tune_on_export, reproduce, support_tune
    from workers.training.train import TrainConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    resolved = str(resolve_device(device))
    bar = tqdm(unit="step")

    def progress(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.update(1)

    if export is not None:
        target = output or Path("var/model")
        config = replace(
            TrainConfig(),
            seed=seed,
            threads=threads,
            epochs=epochs if epochs != 1.0 else 2.0,
            adapter_lr=3e-4,
            head_lr=1e-3,
        )
        calibration = fine_tune_on_export(
            export,
            target,
            base_dir=_model_dir(base),
            data_dir=_data_dir(data_dir),
            config=config,
            device=resolved,
            progress=progress,
        )
    else:
        if stage not in ("all", "public", "support"):
            raise typer.BadParameter("--stage must be all, public or support")
        target = output or _model_dir(None)
        config = replace(
            TrainConfig(),
            seed=seed,
            threads=threads,
            epochs=epochs,
            urgency_epochs=urgency_epochs,
            frustration_limit=frustration_limit or None,
        )
        stage_one = target if stage == "public" else Path(tempfile.mkdtemp(prefix="triage-stage1-"))
        if stage in ("all", "public"):
            calibration = reproduce(
                stage_one, data_dir=_data_dir(data_dir), config=config, device=resolved, progress=progress
            )
        if stage in ("all", "support"):
            base_dir = stage_one if stage == "all" else _model_dir(base)
            if base_dir.resolve() == target.resolve():
                # Stage 2 reads the base while writing the target: work from a copy.
                base_dir = Path(shutil.copytree(base_dir, Path(tempfile.mkdtemp()) / "base"))
            calibration = support_tune(
                target,
                base_dir=base_dir,
                data_dir=_data_dir(data_dir),
                config=replace(config, adapter_lr=5e-4, head_lr=2e-3, epochs=1.0, urgency_epochs=1.0),
                corpus_epochs=corpus_epochs,
                device=resolved,
                progress=progress,
            )
    bar.close()
    typer.echo(f"wrote {target}; calibration: {json.dumps(vars(calibration))}")
    if export is not None:
        typer.echo(f"serve it with TRIAGE_MODEL_DIR={target.resolve()}")


@model_app.command("fit-tenant")
def fit_tenant_command(
    export: Annotated[
        Path,
        typer.Option(
            help="The tenant's labelled tickets: a feedback export, or CSV/JSONL of text + frustration."
        ),
    ],
    model_dir: ModelDirOption = None,
    threads: Annotated[int, typer.Option(min=1)] = 1,
    holdout: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share kept aside to show the effect.")
    ] = 0.3,
) -> None:
    """Fit a tenant's frustration base rate and moderate threshold; print the tenants-file block."""
    import random

    import numpy as np

    from workers.inference.tenant_calibration import fit_tenant_calibration, shifted
    from workers.inference.transformer import TransformerClassifier
    from workers.training.data import NO_LABEL, load_customer_export
    from workers.training.metrics import expected_calibration_error

    examples = [e for e in load_customer_export(export) if e.frustrated != NO_LABEL]
    if len(examples) < 20:
        raise typer.BadParameter(
            f"{export}: {len(examples)} tickets with a frustration label; 20 or more needed"
        )
    classifier = TransformerClassifier(_model_dir(model_dir), threads=threads, evidence="none")
    scores = classifier.predict([e.text for e in examples])
    pairs = [
        (s.frustration.probability, e.frustrated)
        for s, e in zip(scores, examples, strict=True)
        if s.frustration
    ]
    random.Random(13).shuffle(pairs)
    cut = int(len(pairs) * holdout)
    shown, fitted_on = pairs[:cut], pairs[cut:]
    calibration = fit_tenant_calibration([p for p, _ in fitted_on], [y for _, y in fitted_on])
    if shown:
        p = np.array([p for p, _ in shown])
        y = np.array([y for _, y in shown], dtype=float)
        after = np.array([shifted(v, calibration.frustration_shift) for v in p])
        typer.echo(
            f"held-out {len(shown)} tickets, {y.mean():.1%} frustrated (moderate or worse): "
            f"mean P(frustrated) {p.mean():.3f} -> {after.mean():.3f}, "
            f"ECE {expected_calibration_error(p, y):.4f} -> {expected_calibration_error(after, y):.4f}"
        )
    final = fit_tenant_calibration([p for p, _ in pairs], [y for _, y in pairs])
    typer.echo("# add under the tenant in the tenants file:")
    typer.echo("calibration:")
    typer.echo(f"  frustration_shift: {final.frustration_shift}")
    if final.moderate_threshold is not None:
        typer.echo(f"  moderate_threshold: {round(final.moderate_threshold, 4)}")


@model_app.command("eval")
def eval_command(
    model_dir: ModelDirOption = None,
    data_dir: DataDirOption = None,
    precision: Annotated[
        str, typer.Option(help="auto (int8 on CPU, fp16 on GPU), fp32, int8, fp16, bf16.")
    ] = "auto",
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
    threads: Annotated[int, typer.Option(min=1)] = 1,
    agreement: Annotated[bool, typer.Option(help="Also score in fp32 and report agreement.")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON.")] = None,
    split: Annotated[
        str,
        typer.Option(
            help="Support corpus split: test (the figures to quote) or dev (its report half, for choices)."
        ),
    ] = "test",
) -> None:
    """Print model vs TF-IDF baseline figures on held-out sets; exit 1 if the baseline wins any."""
    from workers.inference.runtime import resolve_device
    from workers.training.evaluate import evaluate

    report = evaluate(
        _model_dir(model_dir),
        data_dir=_data_dir(data_dir),
        device=str(resolve_device(device)),
        precision=precision,
        threads=threads,
        check_agreement=agreement,
        split=split,
        log=lambda m: typer.echo(m, err=True),
    )
    typer.echo(report.table())
    if json_out:
        json_out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    if not all(report.wins().values()):
        raise typer.Exit(1)


@model_app.command("bench")
def bench_command(
    model_dir: ModelDirOption = None,
    data_dir: DataDirOption = None,
    texts: Annotated[int, typer.Option(min=8, help="How many texts to score per path.")] = 256,
    threads: Annotated[int, typer.Option(min=1)] = 1,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
) -> None:
    """Print texts/s of a naive batch-1 transformers pipeline and of our runtime, with the ratio."""
    from workers.inference.benchmark import format_results, run_benchmark

    results = run_benchmark(
        _model_dir(model_dir),
        count=texts,
        threads=threads,
        batch_size=batch_size,
        data_dir=_data_dir(data_dir),
        log=lambda m: typer.echo(m, err=True),
    )
    typer.echo(format_results(results, threads))


def classify(
    input: Annotated[
        Path, typer.Option("--input", help="JSONL: {'id','text'} or full tickets with messages.")
    ],
    output: Annotated[
        Path, typer.Option("--output", help="JSONL file to write, one scored line per input line.")
    ],
    model_dir: ModelDirOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Lines scored per model call.")] = 64,
    threads: Annotated[int, typer.Option(min=1)] = 1,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
    evidence: Annotated[str, typer.Option(help="Evidence for: all, flagged or none.")] = "all",
) -> None:
    """Score a JSONL file in batches, with a progress bar."""
    from tqdm import tqdm

    from workers.inference.classify_file import score_lines
    from workers.inference.transformer import TransformerClassifier

    classifier = TransformerClassifier(
        _model_dir(model_dir),
        device=device,
        threads=threads,
        max_batch_size=min(batch_size, 32),
        evidence=evidence,  # type: ignore[arg-type]
    )
    lines = [line for line in input.read_text().splitlines() if line.strip()]
    with output.open("w") as sink, tqdm(total=len(lines), unit="text") as bar:
        for start in range(0, len(lines), batch_size):
            chunk = lines[start : start + batch_size]
            for record in score_lines(classifier, chunk, first_line=start + 1):
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            bar.update(len(chunk))
    typer.echo(f"wrote {len(lines)} scored lines to {output}", err=True)
