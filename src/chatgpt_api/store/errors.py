"""Errors raised by the conversation store, and the one place that classifies driver errors.

Every store error is a :class:`~chatgpt_api.errors.ServiceError`: :class:`StoreUnavailable`
(503: the database is locked, full, unreachable or lost) or a request error
(:class:`InvalidParent` 400, :class:`ConversationNotFound` / :class:`MessageNotFound` 404,
:class:`DuplicateId` 409). :func:`translate_errors` turns driver and OS errors that mean "the
database cannot serve us now" into :class:`StoreUnavailable` with a short redacted reason (never
a URL); anything else (a bug) propagates unchanged. The classifiers load ``sqlalchemy.exc``
when first called (only where a store is open), so importing this module loads no SQLAlchemy.
"""

from __future__ import annotations

import re
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from chatgpt_api.errors import RequestError, ServiceError
from chatgpt_api.redact import redact_text

if TYPE_CHECKING:
    from sqlalchemy import exc as sa_exc


class StoreUnavailable(ServiceError):
    """The database cannot be used right now; retrying later may succeed."""

    status = 503
    error_type = "server_error"
    code = "store_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the conversation store is unavailable: {reason}")
        self.reason = reason


class InvalidParent(RequestError):
    """``parent_id`` is neither None nor a message of the conversation."""

    code = "invalid_parent"

    def __init__(self) -> None:
        super().__init__("parent message not found in this conversation")


class ConversationNotFound(RequestError):
    status = 404
    code = "conversation_not_found"

    def __init__(self) -> None:
        super().__init__("conversation not found")


class MessageNotFound(RequestError):
    status = 404
    code = "message_not_found"

    def __init__(self) -> None:
        super().__init__("message not found in this conversation")


class DuplicateId(RequestError):
    status = 409
    code = "duplicate_id"

    def __init__(self) -> None:
        super().__init__("a conversation or message with this id already exists")


# SQLite primary result codes meaning "the database file cannot serve us" (sqlite3.h).
_SQLITE_UNAVAILABLE = {
    3,  # PERM
    5,  # BUSY ("database is locked")
    6,  # LOCKED
    7,  # NOMEM
    8,  # READONLY
    10,  # IOERR
    11,  # CORRUPT
    13,  # FULL
    14,  # CANTOPEN
    15,  # PROTOCOL
    26,  # NOTADB
}
# PostgreSQL SQLSTATE classes: connection exception, invalid authorization, invalid catalog
# name (no such database), insufficient resources (disk full, too many connections), object
# not in prerequisite state (database not accepting connections, lock not available), operator
# intervention (shutdown, terminated backend), system error.
_PG_UNAVAILABLE_CLASSES = {"08", "28", "3D", "53", "55", "57", "58"}
_SQLITE_UNIQUE = {"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"}
_PG_UNIQUE_VIOLATION = "23505"
_ADAPTED_PREFIX = re.compile(r"^<class '[\w.]+'>:\s*")
_MAX_REASON = 200


def short_reason(error: BaseException) -> str:
    """The first line of a driver message, without secrets, cut to a readable length."""
    text = _ADAPTED_PREFIX.sub("", str(error)).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    first = redact_text(first)
    return first if len(first) <= _MAX_REASON else first[: _MAX_REASON - 1] + "…"


def _sqlstate(error: BaseException | None) -> str | None:
    value = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return value if isinstance(value, str) else None


def _dbapi_reason(error: sa_exc.DBAPIError) -> str | None:
    from sqlalchemy import exc as sa_exc

    orig: BaseException = error.orig if error.orig is not None else error
    if error.connection_invalidated:
        return "connection lost"
    if isinstance(orig, sqlite3.Error):
        return _sqlite_reason(orig)
    state = _sqlstate(orig)
    if state is not None:
        return short_reason(orig) if state[:2] in _PG_UNAVAILABLE_CLASSES else None
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return short_reason(orig)
    cause = orig.__cause__
    return unavailable_reason(cause) if isinstance(cause, OSError) else None


def _sqlite_reason(error: sqlite3.Error) -> str | None:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return short_reason(error) if code & 0xFF in _SQLITE_UNAVAILABLE else None
    return short_reason(error) if isinstance(error, sqlite3.OperationalError) else None


def unavailable_reason(error: BaseException) -> str | None:
    """A short reason if ``error`` means the database is unavailable, else None (a SQLAlchemy
    error, or a plain ``sqlite3`` one from the writer thread's fast path)."""
    from sqlalchemy import exc as sa_exc

    if isinstance(error, sa_exc.DBAPIError):
        return _dbapi_reason(error)
    if isinstance(error, sqlite3.Error):
        return _sqlite_reason(error)
    if isinstance(error, sa_exc.TimeoutError):
        return "no free database connection (pool timeout)"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "database host not found"
    if isinstance(error, TimeoutError):
        return "timed out connecting to the database"
    if isinstance(error, ConnectionError):
        return "connection lost"
    if isinstance(error, OSError):
        return error.strerror or short_reason(error)
    return None


def is_unique_violation(error: BaseException) -> bool:
    from sqlalchemy import exc as sa_exc

    if isinstance(error, sqlite3.IntegrityError):
        orig: BaseException | None = error
    elif isinstance(error, sa_exc.IntegrityError):
        orig = error.orig
    else:
        return False
    return (
        getattr(orig, "sqlite_errorname", None) in _SQLITE_UNIQUE
        or _sqlstate(orig) == _PG_UNIQUE_VIOLATION
    )


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise database-unavailable errors as :class:`StoreUnavailable` (and duplicates as
    :class:`DuplicateId`); our own errors and bugs pass through untouched."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as error:
        if is_unique_violation(error):
            raise DuplicateId() from error
        reason = unavailable_reason(error)
        if reason is None:
            raise
        raise StoreUnavailable(reason) from error


def job_error(error: BaseException) -> BaseException:
    """What the caller of a failed write sees: our own errors as they are, a duplicate as
    :class:`DuplicateId`, an unavailable database as a fresh :class:`StoreUnavailable` (one
    per caller), anything else (a bug) unchanged."""
    if isinstance(error, StoreUnavailable):
        return StoreUnavailable(error.reason)
    if isinstance(error, ServiceError):
        return error
    mapped: ServiceError
    if is_unique_violation(error):
        mapped = DuplicateId()
    else:
        reason = unavailable_reason(error)
        if reason is None:
            return error
        mapped = StoreUnavailable(reason)
    mapped.__cause__ = error
    return mapped
