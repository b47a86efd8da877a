"""Read a refused event batch's answer: which entries were bad, or was the batch form itself?

A platform that speaks batches validates each event and names the bad ones by
path (the reference app answers 422 with
``{"code", "status", "message", "errors": {"events.3.object.uid": [...]}}``);
only those entries can never be accepted, the rest of the batch can.  A
platform that does not speak batches reads the body as one upstream event and
complains about the top level (``type``, ``kind``, ``uid`` missing), or answers
with no ``errors`` at all: then the batch form is what it refuses.
"""

from __future__ import annotations

import re

import orjson

_EVENT_PATH = re.compile(r"events\.(\d+)(?:\.|$)")


def refused_entries(answer: str, batch_size: int) -> dict[int, list[str]]:
    """The batch positions the answer names, each with its problems (``"object.uid: ..."``).

    Empty when the answer names no entry of the batch: not JSON, no ``errors``
    object, or only paths outside ``events.<n>`` (the batch form itself was refused).
    """
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return {}
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}
    named: dict[int, list[str]] = {}
    for path, messages in errors.items():
        match = _EVENT_PATH.match(str(path))
        if match is None or int(match.group(1)) >= batch_size:
            continue
        detail = str(path)[match.end() :] or "event"
        texts = messages if isinstance(messages, list) else [messages]
        named.setdefault(int(match.group(1)), []).extend(f"{detail}: {text}" for text in texts)
    return named
