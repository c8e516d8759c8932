"""The assist page in a real headless Chromium: what an agent sees, copies, inserts and sends back.

Needs Debian's chromium (`apt-get install -y chromium`) and the playwright Python package; no browser
download: Playwright drives /usr/bin/chromium.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from service.domain import Message, Ticket
from service.storage.models import FeedbackRow
from service.tickets.service import store_ticket
from tests.conftest import API_KEY, make_settings
from tests.service.assist.png import decode
from tests.service.assist.scenario import SentenceEvidenceClassifier, build_world
from tests.workers.routing.stored import lexical_drafter
from workers.pipeline import triage_tickets
from workers.routing.policy import load_policy

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HIGHLIGHT = (0xFF, 0xD2, 0x4D)  # mark background in assist.css
SEVERE = (0xD9, 0x2D, 0x20)  # .level-severe badge background


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Helpdesk:
    """A stand-in helpdesk on another local origin that embeds the sidebar and records its messages."""

    def __init__(self) -> None:
        self.page = ""
        handler = self._handler()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # localhost, not 127.0.0.1: another origin, as a real helpdesk is, but still a local address
        # (Chromium refuses to frame a loopback page inside a public one).
        self.origin = f"http://localhost:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        helpdesk = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = helpdesk.page.encode()
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def helpdesk() -> Iterator[Helpdesk]:
    stand_in = Helpdesk()
    yield stand_in
    stand_in.close()


@pytest.fixture
def server(sqlite_url: str, sessions, helpdesk: Helpdesk) -> Iterator[str]:
    import uvicorn

    from service.main import create_app

    settings = make_settings(sqlite_url, assist_frame_ancestors=["'self'", helpdesk.origin])
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def open_page(browser, url: str, *, clipboard: bool = False):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 520, "height": 1400})
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.split("/assist")[0])
    page = context.new_page()
    page.goto(url)
    return page


def feedback(sessions) -> list[FeedbackRow]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(FeedbackRow).order_by(FeedbackRow.id)))


def test_agent_sees_scores_evidence_actions_drafts_and_history(server, browser, sessions, tmp_path):
    world = build_world(sessions)
    page = open_page(browser, f"{server}/assist/{world.ticket_id}#key={API_KEY}&agent=jane")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)

    assert page.text_content("#frustration").startswith("frustration: severe (95%, high confidence)")
    assert page.locator("mark").all_text_contents() == [
        "You charged my card twice for one order!",
        "I wrote last week and nobody answered.",
    ]
    assert page.locator("#draft-list li").count() == 3
    assert "taking ownership" in page.input_value("#draft-list li:first-child textarea")
    rules = page.locator("#action-list li").evaluate_all("items => items.map(i => i.dataset.rule)")
    assert "severe-frustration" in rules and "frustrated-reply" in rules
    assert "frustration rising (mild → severe)" in page.text_content("#trend")
    # The key was read from the fragment and removed from the address bar.
    assert API_KEY not in page.url

    shot = page.screenshot(full_page=True)
    (tmp_path / "assist.png").write_bytes(shot)
    image = decode(shot)
    assert image.width == 520
    assert image.count(HIGHLIGHT) > 500, "evidence is not visibly highlighted"
    assert image.count(SEVERE) > 300, "the severe frustration badge is not visible"


def test_copy_accept_edit_reject_and_correct_reach_the_feedback_store(server, browser, sessions):
    world = build_world(sessions)
    page = open_page(browser, f"{server}/assist/{world.ticket_id}#key={API_KEY}&agent=jane", clipboard=True)
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    first = page.locator("#draft-list li").nth(0)

    first.get_by_role("button", name="Copy").click()
    page.wait_for_selector("#status:has-text('copied')")
    assert page.evaluate("navigator.clipboard.readText()") == first.locator("textarea").input_value()

    first.get_by_role("button", name="Accept").click()
    page.wait_for_selector("#status:has-text('accepted')")
    second = page.locator("#draft-list li").nth(1)
    second.locator("textarea").fill("Hello, I am sorry. I have asked billing to check the charges.")
    second.get_by_role("button", name="Accept").click()
    page.wait_for_selector("#status:has-text('edited')")
    page.locator("#draft-list li").nth(2).get_by_role("button", name="Reject").click()
    page.wait_for_selector("#status:has-text('rejected')")
    page.select_option("#fix-frustration", "mild")
    page.click("#send-correction")
    page.wait_for_selector("#status:has-text('Correction saved')")

    stored = [(r.agent, r.kind, r.payload.get("verdict"), r.payload.get("rank")) for r in feedback(sessions)]
    assert stored == [
        ("jane", "draft", "accepted", 1),
        ("jane", "draft", "edited", 2),
        ("jane", "draft", "rejected", 3),
        ("jane", "frustration", "overridden", None),
    ]
    assert feedback(sessions)[1].payload["text"].startswith("Hello, I am sorry.")


def test_insert_posts_the_draft_to_the_embedding_helpdesk_only(server, browser, sessions, helpdesk):
    world = build_world(sessions)
    frame_url = f"{server}/assist/{world.ticket_id}#key={API_KEY}&agent=jane&origin={helpdesk.origin}"
    helpdesk.page = (
        "<!doctype html><title>Helpdesk</title>"
        "<script>window.received = []; "
        "addEventListener('message', e => window.received.push([e.origin, e.data]));</script>"
        f'<iframe id="sidebar" src="{frame_url}" width="500" height="1200"></iframe>'
    )
    page = browser.new_context().new_page()
    page.goto(f"{helpdesk.origin}/agent/tickets/4711")
    frame = page.frame_locator("#sidebar")
    frame.locator("body[data-ready=true]").wait_for(state="attached", timeout=15_000)

    frame.locator("#draft-list li").nth(0).get_by_role("button", name="Insert").click()
    page.wait_for_function("window.received.length > 0")

    [[origin, message]] = page.evaluate("window.received")
    assert origin == server and message["type"] == "triage.insert_draft"
    assert message["ticket"] == world.ticket_id and "taking ownership" in message["text"]


def test_a_helpdesk_not_listed_cannot_frame_the_page(server, browser, sessions):
    world = build_world(sessions)
    stranger = Helpdesk()  # a new port: an origin the settings do not name
    stranger.page = f'<iframe id="sidebar" src="{server}/assist/{world.ticket_id}#key={API_KEY}"></iframe>'
    try:
        page = browser.new_context().new_page()
        page.goto(f"{stranger.origin}/evil")
        page.wait_for_timeout(1500)
    finally:
        stranger.close()

    # frame-ancestors stops the page from rendering: no script ran, so no ticket data was fetched.
    framed = [f for f in page.frames if f.url.startswith(f"{server}/assist/")]
    assert all(f.locator("body[data-ready=true]").count() == 0 for f in framed)


def test_ticket_text_is_shown_as_text_never_run(server, browser, sessions):
    hostile = (
        '[frustration=0.8] <img src=x onerror="window.pwned=1"> You charged my card twice for one order!'
    )
    with sessions.begin() as session:
        ticket_id = store_ticket(
            session,
            Ticket(
                source="api",
                external_id="X",
                subject="<b>hi</b>",
                messages=[Message(author_role="customer", body=hostile)],
            ),
        ).ticket_id
    triage_tickets(
        sessions=sessions,
        ticket_ids=[ticket_id],
        classifier=SentenceEvidenceClassifier(),
        policy=load_policy(None),
        connectors_for=lambda tenant: {},
        max_deliveries=5,
        drafter=lexical_drafter(),
    )
    page = open_page(browser, f"{server}/assist/{ticket_id}#key={API_KEY}")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)

    assert page.locator("#messages img").count() == 0
    assert "<img src=x" in page.text_content("#messages")
    assert page.evaluate("window.pwned === undefined")


def test_wrong_key_shows_an_error_and_no_ticket_data(server, browser, sessions):
    world = build_world(sessions)
    page = open_page(browser, f"{server}/assist/{world.ticket_id}#key=wrong")
    page.wait_for_selector("#error:not([hidden])", timeout=15_000)

    assert "401" in page.text_content("#error")
    assert page.locator("#scores").is_hidden() and page.locator("mark").count() == 0


def test_chromium_is_the_debian_build():
    assert shutil.which("chromium") == CHROMIUM or Path(CHROMIUM).exists()
