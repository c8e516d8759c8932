"""Evaluate the model against a TF-IDF baseline trained in the same run on the same rows.

Three kinds of held-out text, printed in one table:
- the support corpus (written for the project): its test split, or the report half of its dev split
  while choosing models (`split="dev"`);
- real customer tweets to airlines (../shared/data/airline_eval, evaluation only, never trained or
  calibrated on);
- the report halves of the public dev splits (GoEmotions; Banking77, Bitext and Hadoop JIRA), so that
  nothing learned before regresses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from service.domain import FRUSTRATION_LEVELS, TOPICS, URGENCY_LEVELS, AuthorRole, Message, Scores, Ticket
from workers.inference.artifacts_io import CALIBRATION_FILE, METADATA_FILE, SHIPPED_DIR
from workers.inference.calibration import Calibration
from workers.inference.conversation import MAX_MESSAGES_SCORED, score_tickets, thread_text
from workers.training.baseline import Baseline, tfidf_pipeline
from workers.training.calibrate import fit_calibration
from workers.training.corpus import CORPUS_DIR, CorpusTicket, load_split
from workers.training.data import (
    DEFAULT_DATA_DIR,
    NO_LABEL,
    Example,
    corpus_examples,
    load_splits,
    split_calibration,
    subsample,
)
from workers.training.metrics import expected_calibration_error, frustration_metrics, urgency_metrics

AGREEMENT_TEXTS = 1000
AIRLINE_FILE = Path("airline_eval") / "airline_eval.jsonl"
MODERATE = FRUSTRATION_LEVELS.index("moderate")


@dataclass(frozen=True)
class Row:
    """One figure of the table: where it was measured, the model's and the baseline's value."""

    section: str
    figure: str
    model: float
    baseline: float | None
    higher_is_better: bool = True
    # Headline figures decide the command's exit status; the others are printed for the reader.
    headline: bool = True

    @property
    def model_wins(self) -> bool:
        """Whether the model is at least as good as the baseline (True when there is no baseline)."""
        if self.baseline is None:
            return True
        return self.model >= self.baseline if self.higher_is_better else self.model <= self.baseline


@dataclass
class Report:
    """Every figure of one eval run, plus the int8/fp16 agreement with fp32."""

    rows: list[Row]
    sizes: dict[str, int]
    precision: str
    agreement: dict[str, float] = field(default_factory=dict)

    def wins(self) -> dict[str, bool]:
        """Return, per headline figure with a baseline, whether the model is at least as good."""
        return {
            f"{r.section}.{r.figure}": r.model_wins
            for r in self.rows
            if r.baseline is not None and r.headline
        }

    def table(self) -> str:
        """Render the comparison as a fixed-width text table."""
        sizes = ", ".join(f"{k} n={v}" for k, v in self.sizes.items() if not k.startswith("agreement"))
        lines = [
            f"model precision {self.precision}; {sizes}",
            f"{'section':<16}{'figure':<36}{'model':>9}{'baseline':>10}  better",
        ]
        for row in self.rows:
            theirs = f"{row.baseline:>10.4f}" if row.baseline is not None else f"{'-':>10}"
            verdict = "-" if row.baseline is None else ("model" if row.model_wins else "BASELINE")
            if not row.headline:
                verdict = f"({verdict.lower()})"
            lines.append(f"{row.section:<16}{row.figure:<36}{row.model:>9.4f}{theirs}  {verdict}")
        if self.agreement:
            lines.append(
                f"{self.precision} vs fp32 on the first {self.sizes['agreement_frustration']} frustration "
                f"and {self.sizes['agreement_urgency']} urgency report texts:"
            )
        for key, value in self.agreement.items():
            lines.append(f"  {key:<34}{value:>8.4f}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """Return the figures as plain JSON."""
        return {
            "rows": [vars(r) for r in self.rows],
            "sizes": self.sizes,
            "precision": self.precision,
            "agreement": self.agreement,
        }


def _labels(examples: Sequence[Example], attribute: str) -> np.ndarray:
    return np.array([getattr(e, attribute) for e in examples])


def corpus_ticket(ticket: CorpusTicket) -> Ticket:
    """Return a corpus ticket in the shape every intake produces."""
    return Ticket(
        id=ticket.id,
        source="corpus",
        external_id=ticket.id,
        subject=ticket.subject,
        messages=[
            Message(
                author_role=AuthorRole.CUSTOMER if m.role == "customer" else AuthorRole.AGENT,
                body=m.body,
            )
            for m in ticket.messages
        ],
    )


def ticket_text(ticket: CorpusTicket) -> str:
    """Return the one text a text-only model reads for a ticket (what the network trains on)."""
    bodies = [m.body for m in ticket.customer_messages][-MAX_MESSAGES_SCORED:]
    if len(bodies) == 1:
        return f"{ticket.subject}\n\n{bodies[0]}" if ticket.subject else bodies[0]
    return thread_text(ticket.subject, bodies)


def support_figures(
    frustrated: np.ndarray,
    levels: Sequence[str],
    urgency: np.ndarray,
    topics: Sequence[str | None],
    tickets: Sequence[CorpusTicket],
) -> dict[str, float]:
    """Return the support figures for per-ticket P(frustrated), levels, urgency distributions, topics."""
    truth = np.array([FRUSTRATION_LEVELS.index(t.frustration) for t in tickets])
    predicted = np.array([FRUSTRATION_LEVELS.index(level) for level in levels])
    positive = truth >= MODERATE
    calm = truth == 0
    figures = {
        "frustration roc_auc": float(roc_auc_score(positive, frustrated)),
        "frustrated flagged": float(np.mean(predicted[positive] >= MODERATE)),
        "calm flagged": float(np.mean(predicted[calm] >= MODERATE)),
        "mild flagged": float(np.mean(predicted[truth == 1] >= MODERATE)),
        "level accuracy": float(np.mean(predicted == truth)),
        "frustration ece": expected_calibration_error(frustrated, positive.astype(float)),
    }
    figures |= {
        f"urgency {k}": v
        for k, v in urgency_metrics(
            urgency, np.array([URGENCY_LEVELS.index(t.urgency) for t in tickets])
        ).items()
    }
    figures["topic accuracy"] = float(np.mean([p == t.topic for p, t in zip(topics, tickets, strict=True)]))
    return figures


# (figure, higher is better, headline)
SUPPORT_ROWS = (
    ("frustration roc_auc", True, True),
    ("frustrated flagged", True, True),
    ("calm flagged", False, True),
    ("mild flagged", False, False),
    ("level accuracy", True, True),
    ("frustration ece", False, True),
    ("urgency macro_f1", True, True),
    ("urgency recall_critical", True, True),
    ("urgency recall_high", True, False),
    ("urgency recall_normal", True, False),
    ("urgency recall_low", True, False),
    ("urgency accuracy", True, True),
    ("urgency ece", False, True),
    ("topic accuracy", True, True),
    ("draft topic top1", True, True),
)


def _model_support(
    classifier: object, tickets: Sequence[CorpusTicket]
) -> tuple[dict[str, float], list[Scores]]:
    """Score tickets through the serving path (hygiene, language gate, cues, thread folding)."""
    scored = score_tickets(classifier, [(corpus_ticket(t), []) for t in tickets])  # type: ignore[arg-type]
    scores = [s.scores for s in scored]
    frustrated = np.array([s.frustration.probability if s.frustration else 0.0 for s in scores])
    levels = [s.frustration.level if s.frustration else "none" for s in scores]
    uniform = [1.0 / len(URGENCY_LEVELS)] * len(URGENCY_LEVELS)
    urgency = np.array(
        [
            [s.urgency.distribution[level] for level in URGENCY_LEVELS] if s.urgency else uniform
            for s in scores
        ]
    )
    topics = [s.topic.label if s.topic else None for s in scores]
    return support_figures(frustrated, levels, urgency, topics, tickets), scores


def draft_topic_accuracy(
    scores: Sequence[Scores], tickets: Sequence[CorpusTicket], *, use_topic: bool
) -> float:
    """Share of tickets whose top retrieval draft comes from a template for the ticket's labelled topic."""
    from service.domain import Triage
    from workers.drafts.base import DraftRequest
    from workers.drafts.encoder import MiniLMEncoder
    from workers.drafts.library import load_library
    from workers.drafts.retrieval import RetrievalBackend

    library = load_library()
    topics_of = {t.id: t.topics for t in library.templates}
    backend = RetrievalBackend(library, MiniLMEncoder(), use_topic=use_topic)
    hits = 0
    for ticket, score in zip(tickets, scores, strict=True):
        triage = Triage(
            ticket_id=ticket.id,
            revision=1,
            frustration=score.frustration,
            urgency=score.urgency,
            language=score.language,
            supported=score.supported,
            reason_codes=score.reason_codes,
            model_version=score.model_version,
            topic=score.topic,
        )
        drafts = backend.drafts(DraftRequest(corpus_ticket(ticket), triage), n=1)
        hits += bool(drafts) and ticket.topic in topics_of.get(drafts[0].template_id or "", [])
    return hits / len(tickets)


def _baseline_support(
    baseline: Baseline, calibration: Calibration, topic_model: object, tickets: Sequence[CorpusTicket]
) -> dict[str, float]:
    texts = [ticket_text(t) for t in tickets]
    frustrated, severe, any_frustration = calibration.frustration_ordinal(baseline.frustration_logits(texts))
    levels = [
        calibration.ordinal_level(
            float(frustrated[i]),
            float(severe[i]),
            None if any_frustration is None else float(any_frustration[i]),
        )
        for i in range(len(texts))
    ]
    topics = list(topic_model.predict(texts))  # type: ignore[attr-defined]
    return support_figures(
        frustrated, levels, calibration.urgency(baseline.urgency_logits(texts)), topics, tickets
    )


def _airline(data_dir: Path) -> tuple[list[str], np.ndarray]:
    rows = [json.loads(line) for line in (data_dir / AIRLINE_FILE).read_text().splitlines() if line.strip()]
    return [r["text"] for r in rows], np.array([r["airline_sentiment"] == "negative" for r in rows])


def airline_figures(frustrated: np.ndarray, levels: Sequence[str], negative: np.ndarray) -> dict[str, float]:
    """ROC-AUC of P(frustrated) for negative vs the rest, and how many negative tweets reach each level."""
    predicted = np.array([FRUSTRATION_LEVELS.index(level) for level in levels])
    return {
        "roc_auc negative": float(roc_auc_score(negative, frustrated)),
        "negative flagged": float(np.mean(predicted[negative] >= MODERATE)),
        "negative scored none": float(np.mean(predicted[negative] == 0)),
        "rest flagged": float(np.mean(predicted[~negative] >= MODERATE)),
    }


AIRLINE_ROWS = (
    ("roc_auc negative", True, True),
    ("negative flagged", True, False),
    ("negative scored none", False, False),
    ("rest flagged", False, False),
)
# The public figures that must not regress; calibration there is informational (the model is
# calibrated for support text, not Reddit comments), per-source rows are for the reader.
PUBLIC_HEADLINES = frozenset(
    {
        "goemotions roc_auc",
        "all urgency macro_f1",
        "banking77 urgency macro_f1",
        "hadoop_jira urgency macro_f1",
    }
)


def public_figures(
    calibration: Calibration,
    frustration_logits: np.ndarray,
    urgency_logits: np.ndarray,
    frustration_examples: Sequence[Example],
    urgency_examples: Sequence[Example],
) -> dict[str, float]:
    """GoEmotions: P(any frustration) against "upset" labels; urgency per source and overall."""
    frustrated, _, any_frustration = calibration.frustration_ordinal(frustration_logits)
    upset_probability = frustrated if any_frustration is None else any_frustration
    threshold = calibration.frustration_threshold if any_frustration is None else calibration.mild_threshold
    figures = {
        f"goemotions {k}": v
        for k, v in frustration_metrics(
            upset_probability, _labels(frustration_examples, "any_frustration"), threshold
        ).items()
    }
    distributions = calibration.urgency(urgency_logits)
    labels = _labels(urgency_examples, "urgency")
    sources = np.array([e.source for e in urgency_examples])
    for name, mask in [("all", np.ones(len(labels), bool))] + [
        (s, sources == s) for s in sorted(set(sources))
    ]:
        measured = urgency_metrics(distributions[mask], labels[mask])
        figures[f"{name} urgency macro_f1"] = measured["macro_f1"]
        if name in ("all", "hadoop_jira"):
            figures[f"{name} urgency recall_critical"] = measured["recall_critical"]
    return figures


def evaluate(
    artifact_dir: Path = SHIPPED_DIR,
    *,
    data_dir: Path = DEFAULT_DATA_DIR,
    corpus_dir: Path = CORPUS_DIR,
    split: str = "test",
    device: str = "cpu",
    precision: str = "auto",
    threads: int = 1,
    check_agreement: bool = True,
    log: Callable[[str], None] = print,
) -> Report:
    """Score every held-out set with the model and with a freshly trained baseline; compare."""
    from workers.inference.runtime import InferenceRuntime
    from workers.inference.transformer import TransformerClassifier
    from workers.training.pipeline import split_corpus_dev

    metadata = json.loads((artifact_dir / METADATA_FILE).read_text())
    train_config = (
        metadata.get("train_config")
        or json.loads((artifact_dir / "training.json").read_text())["train_config"]
    )
    seed = int(train_config["seed"])
    splits = load_splits(data_dir)
    frustration_calib, frustration_report = split_calibration(splits.frustration_dev)
    urgency_calib, urgency_report = split_calibration(splits.urgency_dev)
    corpus_train = corpus_examples(load_split("train", corpus_dir)) if (corpus_dir / "train").is_dir() else []
    corpus_calib, corpus_dev_report = split_corpus_dev(load_split("dev", corpus_dir))
    support = load_split("test", corpus_dir) if split == "test" else corpus_dev_report
    if not support:
        raise ValueError(f"no support tickets to evaluate in the {split} split under {corpus_dir}")
    calib_tickets = [e for e in corpus_examples(corpus_calib) if e.topic != NO_LABEL]
    airline_texts, negative = _airline(data_dir)

    log(f"scoring {len(support)} support tickets ({split}) and {len(airline_texts)} airline tweets ...")
    classifier = TransformerClassifier(
        artifact_dir,
        device=device,
        precision=precision,  # type: ignore[arg-type]
        threads=threads,
        evidence="none",
    )
    model_support, support_scores = _model_support(classifier, support)
    log("ranking reply templates for every support ticket (with the topic, and by similarity alone) ...")
    model_support["draft topic top1"] = draft_topic_accuracy(support_scores, support, use_topic=True)
    similarity_only = draft_topic_accuracy(support_scores, support, use_topic=False)
    airline_scores = classifier.predict(airline_texts)
    model_airline = airline_figures(
        np.array([s.frustration.probability if s.frustration else 0.0 for s in airline_scores]),
        [s.frustration.level if s.frustration else "none" for s in airline_scores],
        negative,
    )
    log("scoring the public dev report halves ...")
    runtime = classifier.runtime
    calibration = Calibration.load(artifact_dir / CALIBRATION_FILE, runtime.precision)
    model_frustration = runtime.logits([e.text for e in frustration_report]).frustration
    model_urgency = runtime.logits([e.text for e in urgency_report]).urgency
    model_public = public_figures(
        calibration, model_frustration, model_urgency, frustration_report, urgency_report
    )

    log("training the TF-IDF + logistic-regression baseline on the same training rows ...")
    public_frustration = subsample(splits.frustration_train, train_config["frustration_limit"], seed)
    public_urgency = subsample(splits.urgency_train, train_config["urgency_limit"], seed)
    baseline = Baseline.fit([*public_frustration, *corpus_train], [*public_urgency, *corpus_train], seed)
    topic_model = _fit_topics(corpus_train, seed)
    # The baseline gets the same treatment as the model: the support calibration half for the support
    # register (and urgency), the public calibration halves for the public report halves.
    support_calibration = _fit_baseline(baseline, calib_tickets, [*calib_tickets, *urgency_calib])
    public_calibration = _fit_baseline(baseline, frustration_calib, urgency_calib)
    baseline_support = _baseline_support(baseline, support_calibration, topic_model, support)
    # The drafts' bar is ranking by similarity alone, what retrieval did before it read the topic.
    baseline_support["draft topic top1"] = similarity_only
    b_frustrated, b_severe, b_any = support_calibration.frustration_ordinal(
        baseline.frustration_logits(airline_texts)
    )
    baseline_airline = airline_figures(
        b_frustrated,
        [
            support_calibration.ordinal_level(float(f), float(s), None if b_any is None else float(b_any[i]))
            for i, (f, s) in enumerate(zip(b_frustrated, b_severe, strict=True))
        ],
        negative,
    )
    baseline_public = public_figures(
        public_calibration,
        baseline.frustration_logits([e.text for e in frustration_report]),
        baseline.urgency_logits([e.text for e in urgency_report]),
        frustration_report,
        urgency_report,
    )
    rows = [
        Row(f"support {split}", name, model_support[name], baseline_support[name], up, headline)
        for name, up, headline in SUPPORT_ROWS
    ]
    rows += [
        Row("airline (real)", name, model_airline[name], baseline_airline[name], up, headline)
        for name, up, headline in AIRLINE_ROWS
    ]
    rows += [
        Row(
            "public dev",
            name,
            value,
            baseline_public[name],
            not name.endswith("ece"),
            name in PUBLIC_HEADLINES,
        )
        for name, value in model_public.items()
    ]
    report = Report(
        rows=rows,
        sizes={
            f"support {split}": len(support),
            "airline": len(airline_texts),
            "goemotions": len(frustration_report),
            "urgency": len(urgency_report),
        },
        precision=runtime.precision,
    )
    if check_agreement and runtime.precision != "fp32":
        f_count = min(AGREEMENT_TEXTS, len(frustration_report))
        u_count = min(AGREEMENT_TEXTS, len(urgency_report))
        log(f"scoring {f_count}+{u_count} texts again in fp32 to check the {runtime.precision} path ...")
        reference = InferenceRuntime.load(artifact_dir, device=device, precision="fp32", threads=threads)
        report.agreement = agreement(
            (calibration, Calibration.load(artifact_dir / CALIBRATION_FILE, "fp32")),
            (model_frustration[:f_count], model_urgency[:u_count]),
            (
                reference.logits([e.text for e in frustration_report[:f_count]]).frustration,
                reference.logits([e.text for e in urgency_report[:u_count]]).urgency,
            ),
        )
        report.sizes |= {"agreement_frustration": f_count, "agreement_urgency": u_count}
    return report


def _fit_baseline(
    baseline: Baseline, frustration: Sequence[Example], urgency: Sequence[Example]
) -> Calibration:
    texts = [e.text for e in frustration]
    return fit_calibration(
        baseline.frustration_logits(texts),
        _labels(frustration, "frustrated"),
        _labels(frustration, "severe"),
        baseline.urgency_logits([e.text for e in urgency]),
        _labels(urgency, "urgency"),
        any_frustration=_labels(frustration, "any_frustration"),
    )


def _fit_topics(corpus_train: Sequence[Example], seed: int) -> object:
    tickets = [e for e in corpus_train if e.topic != NO_LABEL]
    return tfidf_pipeline(seed).fit([e.text for e in tickets], [TOPICS[e.topic] for e in tickets])


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
