"""What the workbook does before each notebook cell runs, when it runs inside IPython.

- waits count from the cell's beginning (``helpers.common.waiting.cell_began``): a line left over
  from an earlier run never satisfies a wait;
- the server's new errors, and news such as a port handed over to another notebook, are
  printed at the top of the cell (``helpers.kernel.lifecycle.report_to_next_cell``).

Registered once, when ``helpers.kernel.lifecycle`` is first imported in a kernel (a notebook's
first ``from helpers import start_server``); outside IPython it does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["before_each_cell"]

_callbacks: list[Callable[[], None]] = []
_registered = False


def before_each_cell(callback: Callable[[], None]) -> None:
    """Run ``callback()`` before every cell of this kernel (once registered, never twice)."""
    if callback not in _callbacks:
        _callbacks.append(callback)
    _register()


def _register() -> None:
    global _registered
    if _registered:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("pre_run_cell", _run_callbacks)
    _registered = True


def _run_callbacks(*_: object) -> None:
    for callback in _callbacks:
        callback()
