"""Logging set-up: access lines to stdout, everything else (tracebacks too) to stderr.

Every handler carries :class:`~chatgpt_api.redact.RedactingFilter`, so no token, password or
cookie reaches a log line even if some library puts one in a message.
"""

from __future__ import annotations

import logging
import sys

from chatgpt_api.redact import RedactingFilter

ACCESS_LOGGER = "chatgpt_api.access"


def configure_logging(level: str) -> None:
    redacting = RedactingFilter()
    errors = logging.StreamHandler(sys.stderr)
    errors.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    errors.addFilter(redacting)
    root = logging.getLogger()
    root.handlers[:] = [errors]
    root.setLevel(level.upper())

    access = logging.StreamHandler(sys.stdout)
    access.setFormatter(logging.Formatter("%(message)s"))
    access.addFilter(redacting)
    access_logger = logging.getLogger(ACCESS_LOGGER)
    access_logger.handlers[:] = [access]
    access_logger.propagate = False
    access_logger.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
