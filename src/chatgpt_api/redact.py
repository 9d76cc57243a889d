"""Keeping secrets out of logs and error messages.

Two layers: :func:`redact_text` removes anything that *looks* like a secret (bearer tokens,
JWTs, session cookies, API keys, passwords in URLs or forms), and callers that know the exact
secrets of a request pass them as ``known`` so even an unusual-looking token is removed.
:class:`RedactingFilter` applies the same to every log record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[REDACTED]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON Web Tokens (ChatGPT access tokens are RS256 JWTs).
    # (Each pattern starts only where its run of characters starts, keeping the scan linear.)
    (re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # Authorization header values.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    # OpenAI-style API keys, and this gateway's own keys.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\bcak-[A-Za-z0-9_-]{8,}"), MASK),
    # user:password@ in URLs.
    (re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://)[^/\s@]+@"), rf"\1{MASK}@"),
    # key=value pairs whose key names a secret (query strings, forms, cookies): any key ending
    # in token (access_token, id_token, ...session-token), password or api key.
    (
        re.compile(r"(?i)(token|api_key|apikey|password)=([^&;\s\"']+)"),
        rf"\1={MASK}",
    ),
    # "password": "..." style JSON members.
    (
        re.compile(
            r"(?i)(\"(?:access_token|accessToken|refresh_token|session_token|api_key|password)"
            r"\"\s*:\s*\")(?:[^\"\\]|\\.)*\""
        ),
        rf'\1{MASK}"',
    ),
)

_MIN_KNOWN_SECRET = 4

#: Every pattern above needs one of these substrings to match: text without any of them (most
#: log lines: paths, user agents, plain messages) is returned as it is, after one cheap search.
_TRIGGER = re.compile(r'eyJ|sk-|cak-|@|=|"\s*:|(?i:bearer|basic)')


def redact_text(text: str, known: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret and every secret-looking substring masked."""
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted(filter(None, known), key=len, reverse=True):
        if secret and len(secret) >= _MIN_KNOWN_SECRET and secret in text:
            text = text.replace(secret, MASK)
    if _TRIGGER.search(text) is None:
        return text
    return _apply_patterns(text)


def _apply_patterns(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message and traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True
