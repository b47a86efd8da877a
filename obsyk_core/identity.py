"""What an identity provider tells the platform about a person who signed in.

Providers are plugins (``obsyk_register_identity_providers``): the built-ins
are WorkOS AuthKit (``obsyk_plugins.workos_identity``) and the local
development form (``obsyk_plugins.dev_identity``).  The platform turns an
:class:`Identity` into a user, a membership and a session; a provider never
decides who may join which organization.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Identity:
    email: str
    name: str | None = None
    #: The provider's own user id (WorkOS ``user_...``).
    provider_user_id: str | None = None
    #: The provider's organization the person signed in through, and their role there.
    provider_org_id: str | None = None
    provider_role: str | None = None
    #: Kept encrypted with the session, to renew the provider's access token.
    refresh_token: str | None = None
    access_expires_at: datetime | None = None
    #: The provider's session id (WorkOS ``sid``), to end it on sign-out.
    provider_session_id: str | None = None


class SignInRefused(Exception):
    """The provider refused the sign-in (a bad code, a revoked session...); the message says why."""


class InvitationRefused(ValueError):
    """The provider will not send this invitation (its rules refuse the email or role)."""


@dataclass(frozen=True, slots=True)
class Renewal:
    refresh_token: str
    access_expires_at: datetime


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """The platform settings a provider factory may read (``OBSYK_*``)."""

    workos_api_key: str = ""
    workos_client_id: str = ""
    workos_base_url: str = ""
    dev_sign_in: bool = False


class RedirectProvider(Protocol):
    """Sign-in that sends the browser away and gets a code back at ``/auth/callback``."""

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        organization_id: str | None = None,
        connection_id: str | None = None,
        login_hint: str | None = None,
    ) -> str: ...

    def authenticate(self, code: str) -> Identity:
        """Exchange the callback's code; :class:`SignInRefused` when the provider says no."""

    def renew(self, refresh_token: str, organization_id: str | None) -> Renewal:
        """A new access token; :class:`SignInRefused` when the session was revoked there."""

    def sign_out(self, provider_session_id: str) -> None:
        """End the provider's session (best effort)."""

    def invite(self, email: str, organization_id: str | None, role: str) -> str:
        """Have the provider send an invitation; its id.

        :class:`InvitationRefused` when the provider refuses it for good; any
        other exception means "not sent, try again later".
        """


class FormProvider(Protocol):
    """Sign-in on the platform's own form (development only: no password)."""

    def identity(self, email: str) -> Identity: ...


#: What plugins register: settings in, a provider out, or None when not configured.
ProviderFactory = Callable[[ProviderSettings], RedirectProvider | FormProvider | None]
