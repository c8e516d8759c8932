"""Structured logs: one JSON object per line, for the API and the workers alike.

Log lines carry ids, counts and outcomes only. Ticket text and personal data never reach a log line:
code logs ticket ids, and Celery logs task arguments as the ids it was given.
"""

from __future__ import annotations

import logging
import sys

import structlog

HANDLER_NAME = "triage-structured"


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route stdlib and structlog logging through one handler on stderr, as JSON or for a console."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    # Replace our own handler on a second call; leave others (a test's log capture) in place.
    root.handlers = [h for h in root.handlers if h.get_name() != HANDLER_NAME and not _is_plain_stderr(h)]
    root.addHandler(handler)
    root.setLevel(level.upper())


def _is_plain_stderr(handler: logging.Handler) -> bool:
    """Return whether `handler` is a default stderr handler (basicConfig's), which would log twice."""
    return type(handler) is logging.StreamHandler and getattr(handler, "stream", None) is sys.stderr
