"""Plumbing for the chat-workbook notebooks.

The notebooks show the code a student learns (the stage modules in ``helpers.stages``);
this package holds the rest: running servers inside the kernel, widget chat clients and
transcripts.
"""

from helpers.lifecycle import current_server, start_server, stop_server

__all__ = ["current_server", "start_server", "stop_server"]
