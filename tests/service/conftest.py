"""Print the schemathesis figures at the end of the run, where `make test` output shows them."""

from __future__ import annotations

import pytest

from tests.service.tally import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    tally = config.stash.get(TALLY, None)
    if tally is not None:
        terminalreporter.write_sep("=", "schemathesis")
        for line in tally.summary():
            terminalreporter.write_line(line)
