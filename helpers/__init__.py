"""Plumbing for the chat-workbook notebooks.

The notebooks write the code a student learns in their cells; ``make export`` copies those
cells into ``helpers.stages`` (and ``helpers.protocol``, ``helpers.delivery``), which the
command line runs and the tests drive. This package holds the rest: running servers inside
the kernel, widget chat clients, transcripts, and the exercises' checkers.
"""

from helpers.lifecycle import current_server, start_server, stop_server

__all__ = ["current_server", "start_server", "stop_server"]
