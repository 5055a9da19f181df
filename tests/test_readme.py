"""The README is the user's first page: every setting documented, and CI runs the README's test command."""
from __future__ import annotations

import re

from app_config import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table():
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.+?)\n```", README, re.S)
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    test_command = next(c for c in commands if "pytest" in c or "test" in c.split("&&")[-1])
    assert test_command.strip() in ci
    assert commands[0].strip().endswith("citu_app.py")  # the run command ends in the service entry point
