"""WorkOS AuthKit sign-in (magic links, SAML SSO) on the official ``workos`` SDK.

On when ``OBSYK_WORKOS_API_KEY`` and ``OBSYK_WORKOS_CLIENT_ID`` are set;
``OBSYK_WORKOS_BASE_URL`` points the SDK at a WorkOS-compatible server
(tests).  The SDK is imported only then, so the operator and a platform
without WorkOS never load it (``pip install 'obsyk[workos]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from obsyk_core.identity import ProviderSettings
from obsyk_core.plugins import hookimpl
from obsyk_core.registries import IdentityProviderRegistry

if TYPE_CHECKING:
    from obsyk_plugins.workos_identity.authkit import WorkOSAuthKit


def workos_authkit(settings: ProviderSettings) -> WorkOSAuthKit | None:
    if not (settings.workos_api_key and settings.workos_client_id):
        return None
    from obsyk_plugins.workos_identity.authkit import WorkOSAuthKit

    return WorkOSAuthKit(
        api_key=settings.workos_api_key,
        client_id=settings.workos_client_id,
        base_url=settings.workos_base_url or None,
    )


@hookimpl(trylast=True)
def obsyk_register_identity_providers(registry: IdentityProviderRegistry) -> None:
    registry.register("workos", workos_authkit)
