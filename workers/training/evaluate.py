"""Evaluate the shipped model against a TF-IDF baseline trained in the same run, on the dev report halves."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workers.inference.artifacts_io import CALIBRATION_FILE, METADATA_FILE, SHIPPED_DIR
from workers.inference.calibration import Calibration
from workers.training.baseline import Baseline
from workers.training.calibrate import fit_calibration
from workers.training.data import DEFAULT_DATA_DIR, Example, load_splits, split_calibration, subsample
from workers.training.metrics import frustration_metrics, urgency_metrics

AGREEMENT_TEXTS = 1000
HEADLINES = [
    ("frustration", "roc_auc", "higher"),
    ("frustration", "macro_f1", "higher"),
    ("frustration", "ece", "lower"),
    ("urgency", "macro_f1", "higher"),
    ("urgency", "accuracy", "higher"),
    ("urgency", "ece", "lower"),
    ("urgency", "recall_low", "higher"),
    ("urgency", "recall_normal", "higher"),
    ("urgency", "recall_high", "higher"),
    ("urgency", "recall_critical", "higher"),
]


@dataclass
class Report:
    """Figures for the model and the baseline, plus the int8/fp16 agreement with fp32."""

    model: dict[str, dict[str, float]]
    baseline: dict[str, dict[str, float]]
    sizes: dict[str, int]
    precision: str
    agreement: dict[str, float] = field(default_factory=dict)

    def wins(self) -> dict[str, bool]:
        """Return, per headline figure, whether the model beats the baseline."""
        result = {}
        for task, metric, better in HEADLINES:
            ours, theirs = self.model[task][metric], self.baseline[task][metric]
            result[f"{task}.{metric}"] = ours > theirs if better == "higher" else ours < theirs
        return result

    def table(self) -> str:
        """Render the comparison as a fixed-width text table."""
        lines = [
            f"dev report halves: frustration n={self.sizes['frustration']} (GoEmotions dev), "
            f"urgency n={self.sizes['urgency']} (Banking77+Bitext+JIRA dev); "
            f"model precision {self.precision}",
            f"{'figure':<28}{'model':>10}{'baseline':>10}  better",
        ]
        for (task, metric, _), (_, won) in zip(HEADLINES, self.wins().items(), strict=True):
            ours, theirs = self.model[task][metric], self.baseline[task][metric]
            lines.append(
                f"{task + ' ' + metric:<28}{ours:>10.4f}{theirs:>10.4f}  {'model' if won else 'BASELINE'}"
            )
        if self.agreement:
            lines.append(
                f"{self.precision} vs fp32 on the first {self.sizes['agreement_frustration']} frustration "
                f"and {self.sizes['agreement_urgency']} urgency report texts:"
            )
        for key, value in self.agreement.items():
            lines.append(f"  {key:<34}{value:>8.4f}")
        return "\n".join(lines)


def _labels(examples: Sequence[Example], attribute: str) -> np.ndarray:
    return np.array([getattr(e, attribute) for e in examples])


def evaluate(
    artifact_dir: Path = SHIPPED_DIR,
    *,
    data_dir: Path = DEFAULT_DATA_DIR,
    device: str = "cpu",
    precision: str = "auto",
    threads: int = 1,
    check_agreement: bool = True,
    log: Callable[[str], None] = print,
) -> Report:
    """Score the report halves with the model and with a freshly trained baseline; compare."""
    from workers.inference.runtime import InferenceRuntime

    metadata = json.loads((artifact_dir / METADATA_FILE).read_text())
    train_config = (
        metadata.get("train_config")
        or json.loads((artifact_dir / "training.json").read_text())["train_config"]
    )
    seed = int(train_config["seed"])
    splits = load_splits(data_dir)
    frustration_calib, frustration_report = split_calibration(splits.frustration_dev)
    urgency_calib, urgency_report = split_calibration(splits.urgency_dev)
    frustration_texts = [e.text for e in frustration_report]
    urgency_texts = [e.text for e in urgency_report]

    log("scoring the dev report halves with the model ...")
    runtime = InferenceRuntime.load(artifact_dir, device=device, precision=precision, threads=threads)  # type: ignore[arg-type]
    calibration = Calibration.load(artifact_dir / CALIBRATION_FILE, runtime.precision)
    model_frustration = runtime.logits(frustration_texts).frustration
    model_urgency = runtime.logits(urgency_texts).urgency
    model = _figures(calibration, model_frustration, model_urgency, frustration_report, urgency_report)

    log("training the TF-IDF + logistic-regression baseline on the same training examples ...")
    baseline = Baseline.fit(
        subsample(splits.frustration_train, train_config["frustration_limit"], seed),
        subsample(splits.urgency_train, train_config["urgency_limit"], seed),
        seed,
    )
    # The baseline gets the same treatment: temperatures and thresholds fitted on the calibration half.
    baseline_calibration = fit_calibration(
        baseline.frustration_logits([e.text for e in frustration_calib]),
        _labels(frustration_calib, "frustrated"),
        _labels(frustration_calib, "severe"),
        baseline.urgency_logits([e.text for e in urgency_calib]),
        _labels(urgency_calib, "urgency"),
    )
    baseline_figures = _figures(
        baseline_calibration,
        baseline.frustration_logits(frustration_texts),
        baseline.urgency_logits(urgency_texts),
        frustration_report,
        urgency_report,
    )
    report = Report(
        model=model,
        baseline=baseline_figures,
        sizes={"frustration": len(frustration_report), "urgency": len(urgency_report)},
        precision=runtime.precision,
    )
    if check_agreement and runtime.precision != "fp32":
        # A fixed slice of each report half keeps the fp32 pass short on a 2-core CPU.
        f_count, u_count = (
            min(AGREEMENT_TEXTS, len(frustration_texts)),
            min(AGREEMENT_TEXTS, len(urgency_texts)),
        )
        log(f"scoring {f_count}+{u_count} texts again in fp32 to check the {runtime.precision} path ...")
        reference = InferenceRuntime.load(artifact_dir, device=device, precision="fp32", threads=threads)
        report.agreement = agreement(
            (calibration, Calibration.load(artifact_dir / CALIBRATION_FILE, "fp32")),
            (model_frustration[:f_count], model_urgency[:u_count]),
            (
                reference.logits(frustration_texts[:f_count]).frustration,
                reference.logits(urgency_texts[:u_count]).urgency,
            ),
        )
        report.sizes |= {"agreement_frustration": f_count, "agreement_urgency": u_count}
    return report


def _figures(
    calibration: Calibration,
    frustration_logits: np.ndarray,
    urgency_logits: np.ndarray,
    frustration_examples: Sequence[Example],
    urgency_examples: Sequence[Example],
) -> dict[str, dict[str, float]]:
    frustrated, _ = calibration.frustration(frustration_logits)
    return {
        "frustration": frustration_metrics(
            frustrated, _labels(frustration_examples, "frustrated"), calibration.frustration_threshold
        ),
        "urgency": urgency_metrics(calibration.urgency(urgency_logits), _labels(urgency_examples, "urgency")),
    }


def agreement(
    calibrations: tuple[Calibration, Calibration],
    candidate: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
) -> dict[str, float]:
    """Compare a fast path's served decisions and probabilities with fp32's, each calibrated as served."""
    ours, theirs = calibrations
    ours_p, _ = ours.frustration(candidate[0])
    ref_p, _ = theirs.frustration(reference[0])
    ours_u, ref_u = ours.urgency(candidate[1]), theirs.urgency(reference[1])
    ours_decision = ours_p >= ours.frustration_threshold
    ref_decision = ref_p >= theirs.frustration_threshold
    return {
        "frustrated_decision": float(np.mean(ours_decision == ref_decision)),
        "frustration_max_abs_diff": float(np.max(np.abs(ours_p - ref_p))),
        "frustration_mean_abs_diff": float(np.mean(np.abs(ours_p - ref_p))),
        "urgency_top_level": float(np.mean(ours_u.argmax(1) == ref_u.argmax(1))),
        "urgency_mean_abs_diff": float(np.mean(np.abs(ours_u - ref_u))),
    }
