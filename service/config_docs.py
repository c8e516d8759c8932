"""Print the configuration table the README carries: every setting, its env var and its default."""

from __future__ import annotations

import json

from pydantic import SecretStr

from service.config import Settings


def settings_table() -> str:
    """Return a Markdown table of every setting, built from the Settings class itself."""
    rows = ["| env var | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default is None or default == "":
            shown = "(empty)"
        elif isinstance(default, SecretStr):
            shown = "(secret)"
        elif isinstance(default, list | dict):
            shown = f"`{json.dumps(default)}`"
        else:
            shown = f"`{default}`"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `TRIAGE_{name.upper()}` | {shown} | {description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
