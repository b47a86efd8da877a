"""Registering clusters and their operator credentials (ECDSA P-256 key pairs).

The platform keeps only public keys.  When the caller brings no key, one is
generated here and its private half is returned exactly once, for the operator's
credentials Secret; it is never stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from obsyk_core.storage import Cluster, Credential, Storage


class InvalidPublicKey(ValueError):
    """The key is not a PEM-encoded ECDSA P-256 public key."""


@dataclass(frozen=True, slots=True)
class Registration:
    cluster: Cluster
    credential: Credential
    #: PKCS#8 PEM of a key generated here; ``None`` when the caller supplied the public key.
    private_key_pem: str | None

    @property
    def client_id(self) -> str:
        return self.credential.client_id


def normalize_public_key(pem: str) -> str:
    """Check that ``pem`` is a P-256 public key and return it in canonical SPKI PEM form."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as error:
        raise InvalidPublicKey(f"Not a PEM public key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InvalidPublicKey("The operator key must be an ECDSA P-256 (secp256r1) public key.")
    return _public_pem(key)


def generate_key_pair() -> tuple[str, str]:
    """A new P-256 key pair as (private PKCS#8 PEM, public SPKI PEM)."""
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private_pem, _public_pem(private.public_key())


def _public_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _key_pair_for(public_key_pem: str | None) -> tuple[str | None, str]:
    """(private PEM or ``None``, canonical public PEM): a new pair when no key is given."""
    if public_key_pem is None:
        return generate_key_pair()
    return None, normalize_public_key(public_key_pem)


def _new_credential(
    storage: Storage, cluster: Cluster, public_key_pem: str | None
) -> tuple[Credential, str | None]:
    private_pem, public_pem = _key_pair_for(public_key_pem)
    credential = storage.add_credential(
        Credential(
            client_id=str(uuid.uuid4()),
            org_id=cluster.org_id,
            cluster_id=cluster.id,
            public_key_pem=public_pem,
            created_at=datetime.now(UTC),
        )
    )
    return credential, private_pem


def register_cluster(
    storage: Storage, org_id: str, name: str, public_key_pem: str | None = None
) -> Registration:
    """Create a cluster in the org with a first credential, both or neither.

    Raises :class:`InvalidPublicKey` before writing anything when the key is bad,
    and ``ConflictError`` when the org already has a cluster of that name.
    """
    private_pem, public_pem = _key_pair_for(public_key_pem)
    cluster, credential = storage.create_cluster_with_credential(
        org_id,
        name,
        client_id=str(uuid.uuid4()),
        public_key_pem=public_pem,
        at=datetime.now(UTC),
    )
    return Registration(cluster, credential, private_pem)


def rotate_credential(
    storage: Storage,
    cluster: Cluster,
    public_key_pem: str | None = None,
    *,
    revoke_existing: bool = True,
) -> Registration:
    """Add a new credential to a cluster and (by default) revoke the others.

    Tokens of a revoked credential stop working within a minute
    (see :mod:`reference_app.auth.access_tokens`).
    """
    credential, private_pem = _new_credential(storage, cluster, public_key_pem)
    if revoke_existing:
        now = datetime.now(UTC)
        for old in storage.list_credentials(cluster.id):
            if old.client_id != credential.client_id and old.revoked_at is None:
                storage.revoke_credential(old.client_id, now)
    return Registration(cluster, credential, private_pem)
