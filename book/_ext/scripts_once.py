"""A Sphinx extension of the book: each page loads each of its scripts once.

sphinx-thebe 0.3.1 adds its configuration script at every ``env-before-read-docs``, which
Jupyter Book 1 fires twice: the pages then declared ``THEBE_JS_URL`` twice, and Chromium
reported the error on every page. The book needs no Thebe (its launch buttons open Binder or
a JupyterHub), only pages without errors.
"""

from __future__ import annotations

from typing import Any


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _scripts_once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _scripts_once(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    seen: set[tuple[str | None, str | None]] = set()
    kept = []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body")
        key = (getattr(script, "filename", str(script)) or None, body)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept

