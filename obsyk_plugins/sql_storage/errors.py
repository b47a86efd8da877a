"""Database failures translated into the storage interface's exceptions.

Connection-level failures become :class:`StorageError` (the app answers 503
and the client retries); values the database refuses (out of range, a NUL byte
in text) become :class:`InvalidValueError` (422: retrying cannot help). This is
the one place database errors are sorted into the two; nothing else is swallowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from obsyk_core.storage import InvalidValueError, StorageError

try:  # raw psycopg calls (the PostgreSQL bulk path) raise psycopg's own errors
    import psycopg
except ImportError:  # pragma: no cover - SQLite-only installs
    _DRIVER_ERRORS: tuple[type[Exception], ...] = ()
    _DRIVER_DATA_ERRORS: tuple[type[Exception], ...] = ()
else:
    _DRIVER_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
    _DRIVER_DATA_ERRORS = (psycopg.DataError,)

_REFUSED_VALUES: tuple[type[Exception], ...] = (sa_exc.DataError, *_DRIVER_DATA_ERRORS)

_RETRYABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # connection pool exhausted
    sa_exc.DisconnectionError,
    *_DRIVER_ERRORS,
)


@contextmanager
def storage_errors() -> Iterator[None]:
    """Re-raise connection losses, lock timeouts and the like as :class:`StorageError`."""
    try:
        yield
    except _RETRYABLE as error:
        raise StorageError(f"database unavailable: {_describe(error)}") from error
    except _REFUSED_VALUES as error:
        raise InvalidValueError(f"the database refused a value: {_describe(error)}") from error
    except sa_exc.DBAPIError as error:
        if error.connection_invalidated:
            raise StorageError(f"database connection lost: {_describe(error)}") from error
        raise
    except sa_exc.StatementError as error:
        # A value our types refused (a naive datetime...): the caller's mistake, said plainly.
        if isinstance(error.orig, ValueError):
            raise error.orig from None
        if isinstance(error.orig, OverflowError):  # a time beyond the datetime range
            raise InvalidValueError(f"a value is out of range: {error.orig}") from None
        raise


def _describe(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
