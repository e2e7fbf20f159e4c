"""Show the real source in a notebook: the code that runs is the code the student reads."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import FunctionType, ModuleType

from IPython.display import Code

from helpers.app import PUBLIC

__all__ = ["show_file", "show_source"]

_LANGUAGES = {".html": "html", ".mjs": "javascript", ".js": "javascript", ".css": "css"}


def show_source(obj: ModuleType | type | FunctionType) -> Code:
    """The source of a module, class or function, highlighted."""
    return Code(inspect.getsource(obj), language="python")


def show_file(path: str) -> Code:
    """A file of ``public/`` (e.g. ``"chat.html"``, ``"js/main.mjs"``), highlighted."""
    file = PUBLIC / path
    return Code(file.read_text(), language=_LANGUAGES.get(Path(path).suffix, "text"))
