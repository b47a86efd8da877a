"""Development sign-in: the platform's own form, an existing member's email, no password.

Only for the embedded platform on a developer's machine: the provider exists
when ``OBSYK_DEV_SIGN_IN`` is on and WorkOS is not configured, and the app
serves its form only to loopback addresses (``/auth/dev-login`` is a 404
otherwise).  It never creates anyone: an email that is not a member's is
refused by the app, as any sign-in of a stranger is.
"""

from __future__ import annotations

from obsyk_core.identity import Identity, ProviderSettings
from obsyk_core.plugins import hookimpl
from obsyk_core.registries import IdentityProviderRegistry


class DevSignIn:
    """The form provider: the email typed is the identity."""

    def identity(self, email: str) -> Identity:
        return Identity(email=email.strip())


def dev_sign_in(settings: ProviderSettings) -> DevSignIn | None:
    enabled = settings.dev_sign_in and not (settings.workos_api_key and settings.workos_client_id)
    return DevSignIn() if enabled else None


@hookimpl(trylast=True)
def obsyk_register_identity_providers(registry: IdentityProviderRegistry) -> None:
    registry.register("dev", dev_sign_in)
