"""The code checks on any draft: one hostile input per test."""

from __future__ import annotations

from workers.drafts.checks import check_draft, redact, strip_invisible

APPROVED = "I have asked our billing team to check the charges. See https://status.example.com for updates."
GOOD = (
    "Hello,\n\nI am sorry about the double charge. "
    "I have asked our billing team to check the charges.\n\nKind regards,"
)


def problems(text: str, *, allow: tuple[str, ...] = (), customer: str = "") -> list[str]:
    return check_draft(text, approved=APPROVED, customer_text=customer, allow_promises=allow, max_chars=600)


def test_a_plain_draft_passes():
    assert problems(GOOD) == []


def test_link_not_in_the_template_fails_but_the_templates_own_link_passes():
    assert problems(GOOD + " Visit https://evil.example.net/login") == ["link not in the approved template"]
    assert problems(GOOD + " See https://status.example.com for updates.") == []


def test_contact_details_not_in_the_template_fail():
    assert "email address not in the approved template" in problems(GOOD + " Write to help@evil.example.org.")
    assert "phone number not in the approved template" in problems(GOOD + " Call +1 415 555 0100.")


def test_refund_credit_and_deadline_promises_fail_unless_allowed():
    assert problems(GOOD + " We will refund you.") == ["promises a refund the policy does not allow"]
    assert problems(GOOD + " We'll add a service credit.") == ["promises a credit the policy does not allow"]
    assert problems(GOOD + " It will be fixed within 2 hours.") == [
        "promises a deadline the policy does not allow"
    ]
    assert problems(GOOD + " We will refund you.", allow=("refund",)) == []


def test_echoed_personal_data_fails():
    customer = "My order 88812345 never came, mail me at joe@example.org"

    assert "repeats personal data from the ticket" in problems(
        GOOD + " About order 88812345:", customer=customer
    )


def test_too_long_and_too_short_fail():
    assert problems("Hi.")[0].startswith("length 3 outside")
    assert problems(GOOD + " x" * 400)[0].startswith("length")


def test_prompt_leak_and_placeholders_fail():
    assert "contains model or prompt artefacts" in problems(GOOD + " As an AI language model I cannot.")
    assert "contains markup or an unfilled placeholder" in problems(GOOD + " {customer_name}")


def test_invisible_characters_are_stripped():
    hidden = "Hello\u200b \u202eevil\u202c\u2066 there\ufeff"

    assert strip_invisible(hidden) == "Hello evil there"


def test_redaction_removes_contacts_and_numbers_before_a_prompt():
    text = (
        "I'm jane@example.com, call 0170 1234567, card 4111 1111 1111 1111, see https://x.io/a, order 99123"
    )

    redacted = redact(text)

    assert "jane@" not in redacted and "1234567" not in redacted and "4111" not in redacted
    assert "x.io" not in redacted and "99123" not in redacted
    assert "[email]" in redacted and "[link]" in redacted
