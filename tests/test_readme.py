"""The README documents what the code does: every setting, and the test command CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from service.config_docs import settings_table

ROOT = Path(__file__).resolve().parents[1]


def test_readme_settings_table_matches_the_settings_class():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", readme, re.S)

    assert block, "README lacks the settings table markers"
    assert block.group(1).strip() == settings_table().strip(), "run: python -m service.config_docs"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()

    assert "```bash\nmake test\n```" in readme
    assert ci.rstrip().splitlines()[-1] == "make test"
