"""The README is the user's first page: every setting documented, and CI runs the README's test command."""
from __future__ import annotations

import re

from app_config import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table():
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    run_command, test_command = re.findall(r"```bash\n(.+?)\n```", README, re.S)[:2]
    ci_lines = [line.strip() for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command.strip() in ci_lines
    assert run_command.strip().endswith("citu_app.py")  # the run command ends in the service entry point
    script = (PROJECT_ROOT / test_command.strip()).read_text()
    assert "pytest" in script and "requirements-dev.txt" in script


def test_readme_links_to_existing_docs():
    for link in set(re.findall(r"\]\((docs/[\w./-]+)\)", README)):
        assert (PROJECT_ROOT / link).is_file(), link
