"""The form a validated snapshot chunk is staged in, so the job applies it without validating again.

The request decodes and validates a snapshot once (``obsyk_core.wire``); what
it stages is that result, not the body it received: one line per resource,
its kind, its content hash and the record's canonical JSON exactly as
validated and hashed (``IncomingResource.record_json``).  The job reads the
lines back into :class:`~obsyk_core.ingest.IncomingResource` without the
kinds' validation, the canonical re-encoding or the hashing
(:meth:`~obsyk_core.ingest.IncomingResource.from_encoded`); it decodes only
each record (a backend needs it as a mapping) and takes the canonical bytes as
they are.  The rest of a resource's identity (uid, name, labels...) is read
from its record, as the parse read it.

A staged chunk is trusted because it can be proven unchanged: its first line
carries a SHA-256 digest of everything after it, checked before the chunk is
used.  A chunk that fails the check, or a payload in an earlier form (a raw
body staged by an older version), is not guessed at: :func:`read_staged`
returns ``None`` and the job falls back to validating it as a body.

Layout::

    obsyk-staged 2 <sha256 hex of the rest>\\n
    {"agent_version": ..., "kubernetes_version": ..., "kinds": [carried kinds]}\\n
    <kind>\\t<content hash>\\t<record JSON>\\n
    ...

JSON never holds a raw tab or newline (they are escaped inside strings), and
kind names and hashes hold neither, so the separators are unambiguous.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from obsyk_core.ingest import IncomingResource
from obsyk_core.wire import Snapshot

MAGIC = b"obsyk-staged 2 "


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
    for kind, items in snapshot.resources.items():
        kind_tab = kind.encode() + b"\t"
        for item in items:
            record_json = item.record_json
            if record_json is None:  # every parsed resource has it; a hand-built one may not
                record_json = IncomingResource.from_record(kind, item.record).record_json
            assert record_json is not None
            pieces += (kind_tab, item.content_hash.encode(), b"\t", record_json, b"\n")
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    pieces[:0] = (MAGIC, digest.hexdigest().encode(), b"\n")
    return b"".join(pieces)


def read_staged(payload: bytes) -> StagedResources | None:
    """The resources of a chunk staged by :func:`staged_payload`; ``None`` if it is not one.

    ``None`` also when the digest does not match: the chunk changed since it
    was staged, so nothing in it is trusted without validation.
    """
    if not payload.startswith(MAGIC):
        return None
    first_end = payload.find(b"\n")
    digest = payload[len(MAGIC) : first_end].decode()
    if hashlib.sha256(memoryview(payload)[first_end + 1 :]).hexdigest() != digest:
        return None
    meta_end = payload.find(b"\n", first_end + 1)
    meta = orjson.loads(payload[first_end + 1 : meta_end])
    resources: dict[str, list[IncomingResource]] = {kind: [] for kind in meta["kinds"]}
    loads, from_encoded = orjson.loads, IncomingResource.from_encoded
    for line in payload[meta_end + 1 :].split(b"\n")[:-1]:
        kind, content_hash, record_json = line.split(b"\t", 2)
        kind_name = kind.decode()
        resources[kind_name].append(
            from_encoded(kind_name, loads(record_json), record_json, content_hash.decode())
        )
    return StagedResources(
        agent_version=meta["agent_version"],
        kubernetes_version=meta["kubernetes_version"],
        resources=resources,
    )
