"""Database URLs as people write them, made into what SQLAlchemy expects."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def sqlalchemy_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3 here, not SQLAlchemy's psycopg2."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in POSTGRES_SCHEMES:
        return urlunsplit(parts._replace(scheme="postgresql+psycopg"))
    if scheme == "sqlite":
        return url
    raise ValueError(
        f"unsupported database URL scheme {parts.scheme!r}: expected sqlite:// or postgresql://"
    )


def is_sqlite_memory(url: str) -> bool:
    """``sqlite://`` and ``sqlite:///:memory:`` are private in-memory databases."""
    path = urlsplit(url).path
    return path in ("", "/", "/:memory:")
