"""The bounds every value the platform accepts must fit, declared once.

A value beyond them is the sender's mistake and is refused with a 4xx naming
it; it must never reach a layer that fails on it with a 5xx (the upstream
operator retries a 5xx forever).

* :data:`MAX_NESTING`: objects and arrays nested inside one record.  The
  canonical hash (orjson) serializes at most this many levels, so a deeper
  record could never be hashed or stored.  The check costs nothing on the
  common path: the serializer's own refusal is what :func:`too_deep` reads.
* :data:`MAX_INTEGER`: integers the platform stores as numbers
  (``resource_version``): a signed 64-bit integer, what SQLite and PostgreSQL's
  ``bigint`` hold.  :data:`MAX_CHUNK` bounds a chunk number, kept in a
  PostgreSQL ``integer``.
* NUL: text may not contain U+0000 (PostgreSQL's text and ``jsonb`` refuse it;
  no Kubernetes name, label or annotation holds it).
* :data:`UNADDRESSABLE`: a uid of ``.`` or ``..`` could never be named in a URL
  path (browsers and proxies resolve those segments, even percent-encoded), so
  ``/resources/..`` would address the parent path instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

#: Levels of objects/arrays inside a record (orjson's serialization limit).
MAX_NESTING = 254
#: The largest integer stored as a number (signed 64-bit).
MAX_INTEGER = 2**63 - 1
#: The largest chunk number of a chunked snapshot (a PostgreSQL ``integer``).
MAX_CHUNK = 2**31 - 1

NUL = "\x00"
#: How a NUL appears in JSON text (it cannot appear raw): the cheap test before a walk.
JSON_NUL = b"\\u0000"

#: Uids no URL path can name (see above).
UNADDRESSABLE = frozenset({".", ".."})

TOO_DEEP_MESSAGE = f"Nested deeper than {MAX_NESTING} levels."
UNADDRESSABLE_MESSAGE = "Cannot be '.' or '..': no URL path could name it."
NUL_MESSAGE = "Must not contain a NUL byte (\\u0000)."


def too_deep(error: TypeError) -> bool:
    """True when the canonical serializer refused a value for its nesting depth."""
    return "Recursion limit" in str(error)


def nul_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """The dotted paths (``pods.0.name``) of every string or key in ``value`` holding a NUL.

    Iterative, so a body nested as deep as the JSON parser allows cannot
    exhaust Python's recursion limit.
    """
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                yield path or "_body"
        elif isinstance(item, Mapping):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and NUL in key:
                    yield child_path
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend(
                (f"{path}.{index}" if path else str(index), child)
                for index, child in enumerate(item)
            )
