"""Test-only packages (requirements-dev.txt): skipped locally when missing, a FAILURE under CI=true (a CI run must
never pass without exercising what they prove)."""
from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def import_or_skip(name: str, reason: str) -> ModuleType:
    """`pytest.importorskip`, except that under CI=true a missing module fails the test (or the module)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if in_ci():
            pytest.fail(f"{name} is needed under CI: {reason} ({exc})", pytrace=False)
        pytest.skip(f"{name} is not installed: {reason}", allow_module_level=True)
