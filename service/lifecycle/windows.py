"""How long each sender we accept keeps retrying one webhook delivery, and where that is written.

A delivery id must outlive its sender's whole retry window, not just the signature's replay window:
a retry after the id is forgotten would be taken for a new delivery. `TRIAGE_DELIVERY_RETENTION_HOURS`
refuses values below the longest window here (service/config.py keeps that figure, and a test keeps
the two in step); the default keeps ids about twice as long, rounded up to a week. docs/deployment.md
carries the same table for operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class SenderWindow:
    """One sender's retry window: the time from its first try to its last retry of one event."""

    sender: str
    window: timedelta | None  # None: the sender documents no duration
    how: str
    source: str
    verified: bool  # read in the vendor's own documentation or source code


SENDER_WINDOWS = (
    SenderWindow(
        "zendesk",
        timedelta(hours=1),
        "a few retries within minutes for some status codes (409, 429 and 503 with Retry-After, "
        "timeouts), behind a circuit breaker; 1 h is an upper bound, not a documented figure",
        "https://developer.zendesk.com/api-reference/webhooks/introduction/ (Webhook retries)",
        verified=False,
    ),
    SenderWindow(
        "freshdesk",
        timedelta(hours=25, minutes=35),
        "retries 5 min, 30 min and 60 min after a failure (1 h 35 min); webhooks deferred by the "
        "account's rate limit are dropped after 24 h",
        "Freshdesk knowledge base: 'Receiving webhook failure emails' (supportsandbox.freshdesk.com, "
        "article 11000000028141) and 'Handling and preventing webhook drops'",
        verified=False,
    ),
    SenderWindow(
        "zammad",
        timedelta(minutes=7),
        "5 attempts, 10, 20, 30 and 40 s apart, each allowed 60 s (TriggerWebhookJob retry_on)",
        "zammad/zammad app/jobs/trigger_webhook_job.rb",
        verified=True,
    ),
    SenderWindow(
        "helpscout",
        None,
        "up to 10 retries of a non-2xx answer; intervals not documented (a 410 deactivates the webhook)",
        "https://developer.helpscout.com/webhooks/ (summarised by a third party; not read in full here)",
        verified=False,
    ),
    SenderWindow(
        "intercom",
        timedelta(hours=2),
        "a 429 throttles deliveries for 1 min up to 2 h, then throttled notifications are dropped; an "
        "endpoint failing for 7 days is suspended (no documented retry of one notification that long)",
        "https://developers.intercom.com/docs/webhooks/webhook-notifications",
        verified=True,
    ),
    SenderWindow(
        "standard",
        timedelta(hours=75, minutes=35, seconds=5),
        "the spec's example schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h "
        "(it recommends a schedule spanning multiple days); Svix's is 27.6 h",
        "Standard Webhooks spec v1.0.0, 'Deliverability and reliability' "
        "(standard-webhooks/standard-webhooks spec/standard-webhooks.md)",
        verified=True,
    ),
)


def longest_window() -> timedelta:
    """Return the longest documented retry window of any sender."""
    return max(w.window for w in SENDER_WINDOWS if w.window is not None)
