"""Opaque keyset-pagination cursors: base64url of the JSON sort key of the last item served.

Clients must treat a cursor as opaque; anything that does not decode to a sort
key of the expected length is refused (422) rather than silently restarting
the listing from the top.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import marshmallow as ma
import orjson


class InvalidCursor(ValueError):
    """The text is not a cursor this API issued."""


def encode_cursor(key: Sequence[str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(text: str, length: int) -> tuple[str, ...]:
    padded = text + "=" * (-len(text) % 4)
    try:
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError):
        raise InvalidCursor("Not a cursor this API issued.") from None
    if not (isinstance(key, list) and len(key) == length and all(isinstance(k, str) for k in key)):
        raise InvalidCursor("Not a cursor this API issued.")
    return tuple(key)


class CursorField(ma.fields.String):
    """A query parameter holding a cursor; loads to the sort-key tuple."""

    def __init__(self, *, key_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_length = key_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return decode_cursor(text, self.key_length)
        except InvalidCursor as error:
            raise ma.ValidationError(str(error)) from None
