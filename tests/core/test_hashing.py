"""Content hashes and kind digests: the operator and the platform must agree on them."""

from __future__ import annotations

import hashlib

from obsyk_core.hashing import content_hash, kind_digest


def test_content_hash_ignores_key_order_at_every_level() -> None:
    one = {"uid": "p1", "name": "web", "labels": {"a": "1", "b": "2"}, "containers": [{"x": 1}]}
    two = {"containers": [{"x": 1}], "labels": {"b": "2", "a": "1"}, "name": "web", "uid": "p1"}
    assert content_hash(one) == content_hash(two)
    assert len(content_hash(one)) == 64 and int(content_hash(one), 16) >= 0


def test_content_hash_sees_every_difference() -> None:
    base = {"uid": "p1", "name": "web", "containers": [{"image": "a"}, {"image": "b"}]}
    assert content_hash(base) != content_hash({**base, "name": "web2"})
    assert content_hash(base) != content_hash(
        {**base, "containers": [{"image": "b"}, {"image": "a"}]}
    ), "list order is meaningful"
    assert content_hash(base) != content_hash({**base, "extra": None})


def test_content_hash_is_sha256_of_compact_sorted_json() -> None:
    """The definition another implementation (the Go operator, a script) must reproduce."""
    canonical = b'{"labels":{"a":"1"},"name":"web","uid":"p1"}'
    record = {"uid": "p1", "name": "web", "labels": {"a": "1"}}
    assert content_hash(record) == hashlib.sha256(canonical).hexdigest()


def test_kind_digest_is_order_independent() -> None:
    pairs = [("p1", "aa"), ("p2", "bb"), ("p3", "cc")]
    assert kind_digest(pairs) == kind_digest(reversed(pairs))


def test_kind_digest_is_duplicate_sensitive() -> None:
    pairs = [("p1", "aa"), ("p2", "bb")]
    assert kind_digest(pairs) != kind_digest([*pairs, ("p1", "aa")])
    assert kind_digest([("p1", "aa"), ("p1", "aa")]) != kind_digest([]), "no XOR cancelling"


def test_kind_digest_changes_with_any_hash_or_uid() -> None:
    pairs = [("p1", "aa"), ("p2", "bb")]
    assert kind_digest(pairs) != kind_digest([("p1", "aa"), ("p2", "bc")])
    assert kind_digest(pairs) != kind_digest([("p1", "aa"), ("p3", "bb")])


def test_empty_kind_digest_is_sixty_four_zeros() -> None:
    assert kind_digest([]) == "0" * 64
