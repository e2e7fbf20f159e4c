"""A logger that says nothing, for the clients the workbook runs."""

from __future__ import annotations

import logging


def quiet_logger(name: str = "socket.io client") -> logging.Logger:
    """A logger that says nothing, for clients: their connection errors are raised to us anyway."""
    logger = logging.Logger(name, level=logging.CRITICAL)
    logger.addHandler(logging.NullHandler())
    return logger
