"""A missing test-only package skips locally and fails under CI=true (no `pytest.importorskip` left)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.optional_deps import import_or_skip


def test_missing_module_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        import_or_skip("no_such_module_issue_27", "test")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        import_or_skip("no_such_module_issue_27", "test")
    assert import_or_skip("json", "test").dumps([]) == "[]"


def test_no_test_uses_importorskip():
    tests = Path(__file__).resolve().parent
    users = [str(p.relative_to(tests)) for p in tests.rglob("*.py")
             if p.name != Path(__file__).name and "importorskip(" in p.read_text(encoding="utf-8")]
    assert users == [], users
