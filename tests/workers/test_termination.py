"""A SIGTERM inside `deferred_termination` waits for the block to end, then takes effect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from workers.termination import deferred_termination

ROOT = Path(__file__).resolve().parents[2]


def test_the_previous_handler_runs_once_after_the_block() -> None:
    calls: list[str] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append("handler"))
    try:
        with deferred_termination():
            os.kill(os.getpid(), signal.SIGTERM)
            calls.append("block finished")
        calls.append("after")
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert calls == ["block finished", "handler", "after"]


def test_without_a_signal_nothing_happens_and_the_handler_is_restored() -> None:
    def handler(signum: int, frame: object) -> None:
        raise AssertionError("not signalled")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with deferred_termination():
            pass
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_default_action_still_ends_the_process_but_after_the_block(tmp_path: Path) -> None:
    marker = tmp_path / "recorded"
    script = (
        "import os, signal, sys\n"
        "from workers.termination import deferred_termination\n"
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
        "with deferred_termination():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        f"    open({str(marker)!r}, 'w').write('recorded')\n"
        "print('survived')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )

    assert done.returncode == -signal.SIGTERM
    assert marker.read_text() == "recorded"
    assert b"survived" not in done.stdout
