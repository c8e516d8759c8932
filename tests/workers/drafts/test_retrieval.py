"""Retrieval drafts: the right template for what the customer said, tone from the scores, nothing unsafe."""

from __future__ import annotations

import pytest

from service.domain import Message, Ticket
from tests.workers.routing.builders import triage
from workers.drafts.base import DraftRequest, write_drafts
from workers.drafts.compose import OPENINGS
from workers.drafts.encoder import LexicalEncoder, MiniLMEncoder
from workers.drafts.library import LibraryError, load_library
from workers.drafts.retrieval import RetrievalBackend
from workers.routing.policy import DraftRules

CHARGED = "You charged my card twice for the same order. Reach me at jane.doe@example.com or +49 170 1234567."
LOCKED = "I cannot log in, the password reset email never arrives and I'm locked out of my account."


def request(body: str, **scores: object) -> DraftRequest:
    ticket = Ticket(
        source="api", external_id="1", subject="", messages=[Message(author_role="customer", body=body)]
    )
    return DraftRequest(ticket=ticket, triage=triage(**scores))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def minilm() -> RetrievalBackend:
    return RetrievalBackend(load_library(), MiniLMEncoder())


@pytest.fixture(scope="module")
def lexical() -> RetrievalBackend:
    return RetrievalBackend(load_library(), LexicalEncoder())


@pytest.mark.model
@pytest.mark.parametrize(
    ("body", "topic", "template"),
    [
        (CHARGED, None, "billing-double-charge"),
        (LOCKED, None, "account-access"),
        ("Our whole team sees a 503 error, nothing loads since this morning.", "outage", "outage"),
        ("Parcel never came, tracking stuck for a week", None, "shipping-delay"),
        ("Somebody logged into my account from another country, I didn't do that", None, "security-concern"),
        ("How do I add a second user to our workspace?", None, "how-to"),
        ("Just wanted to say thank you, Maria sorted everything out in five minutes!", None, "praise"),
    ],
)
def test_minilm_ranks_the_template_for_what_the_customer_said_first(minilm, body, topic, template):
    drafts = minilm.drafts(request(body, frustration=0.6, evidence=body[:40], topic=topic))

    assert drafts[0].template_id == template
    assert [d.rank for d in drafts] == [1, 2, 3]
    assert drafts[0].score > drafts[1].score


def test_severe_frustration_gets_ownership_and_a_concrete_next_step_not_cheer(lexical):
    [severe, *_] = lexical.drafts(request(CHARGED, frustration=0.95, frustration_level="severe"))
    [calm, *_] = lexical.drafts(request(CHARGED, frustration=0.1))

    assert "taking ownership" in severe.text and "senior specialist" in severe.text
    assert "!" not in severe.text and "Thank you for getting in touch" not in severe.text
    assert calm.text.splitlines()[2].startswith(OPENINGS["none"])
    assert severe.tone == "severe" and calm.tone == "none"


def test_draft_acknowledges_the_problem_and_the_cues_found(lexical):
    [draft, *_] = lexical.drafts(
        request(CHARGED, frustration=0.8, frustration_level="moderate", reason_codes=["repeat_contact"])
    )

    assert "charged in a way you did not expect" in draft.text
    assert "contact us more than once" in draft.text


def test_urgent_ticket_says_it_was_marked_urgent(lexical):
    [draft, *_] = lexical.drafts(request(LOCKED, frustration=0.3, urgency="critical"))

    assert "marked your case as urgent" in draft.text


def test_drafts_never_echo_personal_data_or_promise_refunds_or_deadlines(lexical):
    drafts = lexical.drafts(
        request(CHARGED + " Refund me in 24 hours!", frustration=0.95, frustration_level="severe")
    )

    for draft in drafts:
        lowered = draft.text.lower()
        assert "jane.doe" not in lowered and "1234567" not in lowered
        assert "we will refund" not in lowered and "24 hours" not in lowered
        assert draft.template_id != "billing-refund-approved"


@pytest.mark.model
def test_a_template_stating_an_incident_needs_the_outage_topic_not_similar_words(minilm):
    # Furious about waiting and a looping bot: "nothing works" and "down" must not link it to an incident.
    body = "I've waited 3 hours, your chat bot loops, nothing works and your support is down. Useless!"
    guessed = minilm.drafts(request(body, frustration=0.9, evidence=body[:40]))
    as_complaint = minilm.drafts(
        request(body, frustration=0.9, evidence=body[:40], topic="service_complaint")
    )
    unsure = minilm.drafts(request(body, frustration=0.9, topic="outage", topic_probability=0.3))

    for drafts in (guessed, as_complaint, unsure):
        assert "outage" not in [d.template_id for d in drafts]
        assert all("incident" not in d.text for d in drafts)
    assert as_complaint[0].template_id == "service-complaint"


def test_below_the_similarity_floor_the_drafts_claim_nothing_specific(lexical):
    drafts = lexical.drafts(request("zzqx vvkp", frustration=0.5))

    assert drafts[0].template_id == "acknowledge"


def test_refund_template_offered_only_where_the_policy_allows_it(lexical):
    plain = request(
        "Refund my double charge, I was charged for a cancelled order", frustration=0.6, topic="refund"
    )
    allowed = DraftRequest(plain.ticket, plain.triage, DraftRules(allow_promises=["refund"]))

    assert "billing-refund-approved" not in [d.template_id for d in lexical.drafts(plain)]
    assert "billing-refund-approved" in [d.template_id for d in lexical.drafts(allowed)]


def test_deadline_only_when_allowed(lexical):
    plain = request(LOCKED, frustration=0.3)
    allowed = DraftRequest(plain.ticket, plain.triage, DraftRules(allow_promises=["deadline"]))

    assert "within one business day" not in lexical.drafts(plain)[0].text
    assert "within one business day" in lexical.drafts(allowed)[0].text


def test_unsupported_language_gets_no_drafts(lexical):
    assert write_drafts(lexical, request(LOCKED, supported=False)) == []


def test_operator_library_errors_name_the_template(tmp_path):
    path = tmp_path / "lib.yaml"
    path.write_text(
        "templates:\n  - id: Bad Id\n    title: t\n    match: m\n    acknowledge: a\n    body: b\n"
    )

    with pytest.raises(LibraryError, match=r"templates\.0\.id"):
        load_library(path)


def test_operator_template_that_breaks_the_rules_is_never_shown(tmp_path):
    path = tmp_path / "lib.yaml"
    path.write_text(
        "templates:\n"
        "  - id: sneaky\n    title: Billing\n    match: charged twice card billing\n"
        "    acknowledge: I see the charge.\n    body: We will credit your account by tomorrow.\n"
        "  - id: fine\n    title: Other\n    match: anything else\n"
        "    acknowledge: Thanks.\n    body: I am looking into it.\n"
    )
    backend = RetrievalBackend(load_library(path), LexicalEncoder())

    assert [d.template_id for d in backend.drafts(request(CHARGED))] == ["fine"]
