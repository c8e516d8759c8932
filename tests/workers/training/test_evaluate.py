"""The eval table: figures compared in the right direction; support and airline figures computed right."""

from __future__ import annotations

import numpy as np
import pytest

from workers.inference.calibration import Calibration
from workers.training.corpus import CorpusMessage, CorpusTicket
from workers.training.evaluate import Report, Row, agreement, airline_figures, support_figures, ticket_text


def _ticket(
    frustration: str, urgency: str = "normal", topic: str = "bug", bodies: tuple[str, ...] = ("x",)
) -> CorpusTicket:
    return CorpusTicket(
        id=f"t-{frustration}-{urgency}-{len(bodies)}",
        split="dev",
        writer="w",
        industry="saas",
        channel="email",
        subject="Subject",
        messages=tuple(CorpusMessage("customer", b, frustration, urgency) for b in bodies),
        frustration=frustration,
        urgency=urgency,
        topic=topic,
        hard_cases=(),
    )


def test_lower_ece_and_higher_everything_else_wins() -> None:
    report = Report(
        rows=[Row("s", "roc_auc", 0.9, 0.8), Row("s", "ece", 0.02, 0.05, higher_is_better=False)],
        sizes={"s": 1},
        precision="int8",
    )
    assert all(report.wins().values())
    assert "BASELINE" not in report.table()


def test_a_worse_calibration_error_is_reported_as_a_loss() -> None:
    report = Report(
        rows=[Row("s", "ece", 0.09, 0.05, higher_is_better=False)], sizes={"s": 1}, precision="int8"
    )
    assert not report.wins()["s.ece"]
    assert "BASELINE" in report.table()


def test_a_figure_that_is_not_a_headline_is_printed_but_does_not_decide() -> None:
    report = Report(
        rows=[Row("s", "mild flagged", 0.5, 0.1, False, headline=False)], sizes={}, precision="fp32"
    )
    assert report.wins() == {}
    assert "(baseline)" in report.table()


def test_identical_paths_agree_fully() -> None:
    logits = (np.array([[1.0, -1.0], [-2.0, -3.0]]), np.array([[0.0, 1.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]]))
    figures = agreement((Calibration(), Calibration()), logits, logits)
    assert figures["frustrated_decision"] == 1.0 and figures["urgency_top_level"] == 1.0
    assert figures["frustration_max_abs_diff"] == 0.0


def test_support_figures_count_moderate_and_up_as_flagged_and_none_as_calm() -> None:
    tickets = [_ticket("none"), _ticket("none"), _ticket("mild"), _ticket("moderate"), _ticket("severe")]
    figures = support_figures(
        np.array([0.1, 0.6, 0.3, 0.7, 0.9]),
        ["none", "moderate", "mild", "moderate", "mild"],
        np.tile([0.1, 0.7, 0.1, 0.1], (5, 1)),
        ["bug", "bug", "refund", "bug", "bug"],
        tickets,
    )
    assert figures["frustrated flagged"] == pytest.approx(0.5)  # severe one came out mild
    assert figures["calm flagged"] == pytest.approx(0.5)
    assert figures["level accuracy"] == pytest.approx(3 / 5)
    assert figures["topic accuracy"] == pytest.approx(4 / 5)
    assert figures["urgency recall_normal"] == 1.0
    # P(frustrated) ranks: 0.7 and 0.9 against 0.1, 0.6, 0.3: every positive above every negative.
    assert figures["frustration roc_auc"] == 1.0


def test_airline_figures_rank_negative_tweets() -> None:
    negative = np.array([True, True, False, False])
    figures = airline_figures(np.array([0.9, 0.2, 0.3, 0.1]), ["severe", "none", "none", "none"], negative)
    assert figures["roc_auc negative"] == pytest.approx(0.75)
    assert figures["negative flagged"] == 0.5 and figures["negative scored none"] == 0.5
    assert figures["rest flagged"] == 0.0


def test_a_thread_is_read_whole_with_its_subject() -> None:
    text = ticket_text(_ticket("mild", bodies=("first message", "second message")))
    assert text.startswith("Subject") and text.index("first message") < text.index("second message")
