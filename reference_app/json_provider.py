"""Flask's JSON provider with orjson writing the documents: the same JSON, for less CPU.

Every JSON answer goes through the app's provider (``jsonify``, and
flask-smorest's ``@blp.response`` after its schema has dumped the document),
so this is the one place the bytes are written, and what the OpenAPI schema
documents is what is sent.  A listing of 100 Pods spends most of its Python in
the standard library's encoder (bench/RESULTS.md, 2026-12-05: 8.4-8.6 ms CPU
per request with it, see there for this provider's numbers); orjson writes the
same document, keys sorted like Flask's, compact.

Differences from Flask's provider, none in meaning: non-ASCII text is sent as
UTF-8 rather than ``\\uXXXX`` escapes.  Anything orjson does not take (an
integer beyond 64 bits, a type only Flask's ``default`` knows, ``indent``
asked for) goes to Flask's own encoder, so nothing that answered before fails.
Flask's ``default`` still decides dates (HTTP dates), decimals, UUIDs and
dataclasses, as it always did.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME  # Flask writes dates as HTTP dates: keep its default
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


class OrjsonProvider(DefaultJSONProvider):
    """:class:`~flask.json.provider.DefaultJSONProvider`, serializing with orjson."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.get("indent") is None and kwargs.get("separators") in (None, (",", ":")):
            try:
                return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
            except (orjson.JSONEncodeError, TypeError):
                pass  # beyond orjson: Flask's encoder takes it (or fails as it always did)
        return super().dumps(obj, **kwargs)
