"""Input hygiene: what reaches the model is the customer's own words of this message."""

from __future__ import annotations

from workers.inference.hygiene import clean_message


def test_html_is_reduced_to_visible_text_with_entities_decoded() -> None:
    cleaned = clean_message(
        "<html><body><p>My card was stolen!</p><p>Block it &amp; call me.</p></body></html>"
    )
    assert cleaned == "My card was stolen!\n\nBlock it & call me."


def test_html_blockquote_of_an_earlier_message_is_dropped() -> None:
    cleaned = clean_message("<div>Still broken.</div><blockquote>We have fixed your issue.</blockquote>")
    assert cleaned == "Still broken."


def test_reply_header_and_everything_after_it_is_dropped() -> None:
    text = "Still no refund.\n\nOn Mon, 3 Mar 2025 at 10:00, Support <s@example.com> wrote:\n> We are on it"
    assert clean_message(text) == "Still no refund."


def test_reply_header_wrapped_over_two_lines_is_recognised() -> None:
    text = "Still no refund.\nOn Mon, 3 Mar 2025 at 10:00, Support <s@example.com>\nwrote:\n> We are on it"
    assert clean_message(text) == "Still no refund."


def test_quoted_lines_are_dropped_but_the_reply_kept() -> None:
    assert clean_message("> old text\nNew complaint here.") == "New complaint here."


def test_signature_after_sign_off_is_dropped() -> None:
    text = (
        "Hi,\nThe app crashes on start.\nKind regards,\nJane Doe\nHead of IT, Example Ltd\n+44 20 0000 0000"
    )
    assert clean_message(text) == "Hi,\nThe app crashes on start."


def test_signature_delimiter_and_mobile_footer_are_dropped() -> None:
    assert clean_message("Refund me.\n-- \nJohn") == "Refund me."
    assert clean_message("Refund me.\nSent from my iPhone") == "Refund me."


def test_confidentiality_disclaimer_is_dropped() -> None:
    text = (
        "The invoice is wrong.\n\nThis email and any attachments are confidential and intended solely "
        "for the addressee. If you are not the intended recipient, delete it."
    )
    assert clean_message(text) == "The invoice is wrong."


def test_thanks_inside_the_body_is_not_mistaken_for_a_sign_off() -> None:
    text = "Thanks for nothing.\nI want a refund today."
    assert clean_message(text) == text


def test_message_that_is_only_a_quote_still_yields_text() -> None:
    assert clean_message("> I am angry") != ""
