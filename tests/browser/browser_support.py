"""What the browser tests need, and what they do without it: skip, or fail when CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.programs.chromium import CHROMIUM
from tests.scale_support import IN_CI


def require(available: bool, reason: str) -> None:
    """Skip without ``available``, with ``reason``; in CI (``CI=true``) fail instead."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run in CI)", pytrace=False)
    pytest.skip(reason)


def chromium_missing() -> str | None:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set WORKBOOK_CHROMIUM)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None
