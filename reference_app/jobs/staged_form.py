"""The form a validated snapshot chunk is staged in, so the job applies it without validating again.

The request decodes and validates a snapshot once (``obsyk_core.wire``); what
it stages is that result, not the body it received: one line per resource, the
resource's identity as a small JSON array, a tab, and the record's canonical
JSON exactly as validated and hashed (``IncomingResource.record_json``).  The
job reads the lines back into :class:`~obsyk_core.ingest.IncomingResource`
without the kinds' validation, the canonical re-encoding or the hashing; it
decodes only each record (a backend needs it as a mapping) and takes the
canonical bytes as they are.

A staged chunk is trusted because it can be proven unchanged: its first line
carries a SHA-256 digest of everything after it, checked before the chunk is
used.  A chunk that fails the check, or a payload in an earlier form (a raw
body staged by an older version), is not guessed at: :func:`read_staged`
returns ``None`` and the job falls back to validating it as a body.

Layout::

    obsyk-staged 1 <sha256 hex of the rest>\\n
    {"agent_version": ..., "kubernetes_version": ..., "kinds": [carried kinds]}\\n
    ["Pod", uid, name, namespace, labels, annotations, content_hash]\\t<record JSON>\\n
    ...

JSON never holds a raw tab or newline (they are escaped inside strings), so
the separators are unambiguous.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from obsyk_core.ingest import IncomingResource
from obsyk_core.wire import Snapshot

MAGIC = b"obsyk-staged 1 "


@dataclass(slots=True)
class StagedResources:
    """A staged chunk read back: its metadata and its resources by carried kind."""

    agent_version: str | None
    kubernetes_version: str | None
    resources: dict[str, list[IncomingResource]]


def staged_payload(snapshot: Snapshot) -> bytes:
    """The validated ``snapshot`` (one chunk of it) in the staged form.

    Built from pieces the parse already made (each record's canonical JSON is
    referenced, not copied) and joined once, so staging holds one new buffer
    the size of the payload next to the parsed snapshot.
    """
    meta = {
        "agent_version": snapshot.agent_version,
        "kubernetes_version": snapshot.kubernetes_version,
        "kinds": list(snapshot.resources),
    }
    pieces = [orjson.dumps(meta), b"\n"]
    pieces.extend(_resource_pieces(snapshot))
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return b"".join([MAGIC, digest.hexdigest().encode(), b"\n", *pieces])


def _resource_pieces(snapshot: Snapshot) -> Iterator[bytes]:
    """Each resource's line, as its identity, a tab, its record JSON and a newline."""
    dumps = orjson.dumps
    for items in snapshot.resources.values():
        for item in items:
            record_json = item.record_json
            if record_json is None:  # every parsed resource has it; a hand-built one may not
                record_json = IncomingResource.from_record(item.kind, item.record).record_json
            assert record_json is not None
            yield dumps(
                (
                    item.kind,
                    item.uid,
                    item.name,
                    item.namespace,
                    item.labels,
                    item.annotations,
                    item.content_hash,
                )
            )
            yield b"\t"
            yield record_json
            yield b"\n"


def read_staged(payload: bytes) -> StagedResources | None:
    """The resources of a chunk staged by :func:`staged_payload`; ``None`` if it is not one.

    ``None`` also when the digest does not match: the chunk changed since it
    was staged, so nothing in it is trusted without validation.
    """
    if not payload.startswith(MAGIC):
        return None
    first_end = payload.find(b"\n")
    digest = payload[len(MAGIC) : first_end].decode()
    body = memoryview(payload)[first_end + 1 :]
    if hashlib.sha256(body).hexdigest() != digest:
        return None
    meta_end = payload.find(b"\n", first_end + 1)
    meta = orjson.loads(payload[first_end + 1 : meta_end])
    resources: dict[str, list[IncomingResource]] = {kind: [] for kind in meta["kinds"]}
    loads = orjson.loads
    for line in payload[meta_end + 1 :].splitlines():
        identity, _, record_json = line.partition(b"\t")
        kind, uid, name, namespace, labels, annotations, content_hash = loads(identity)
        resources[kind].append(
            IncomingResource(
                kind=kind,
                uid=uid,
                name=name,
                namespace=namespace,
                labels=labels,
                annotations=annotations,
                record=loads(record_json),
                content_hash=content_hash,
                record_json=record_json,
            )
        )
    return StagedResources(
        agent_version=meta["agent_version"],
        kubernetes_version=meta["kubernetes_version"],
        resources=resources,
    )
