"""Wiring the people's side into an app: key ring, identity provider, sessions, pages, limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask

from obsyk_core.identity import InvitationRefused, ProviderSettings, SignInRefused
from obsyk_core.people import SignInSession
from obsyk_core.storage import Organization, Role
from reference_app.auth.sessions import Refresher, SessionRevoked, clear_cookies_when_asked
from reference_app.encryption import KeyRing
from reference_app.state import AppState, get_state

#: Has the identity provider send an invitation: (org, email, role) -> its id there.
InvitationSender = Callable[[Organization, str, Role], str]


class InvitationNotSent(RuntimeError):
    """The identity provider did not send the invitation (down, or refused it)."""


@dataclass(slots=True)
class People:
    """The app's sign-in machinery (``get_state().people``)."""

    keys: KeyRing
    #: A redirect provider (WorkOS), a form provider (development) or None.
    identity_provider: Any = None
    session_refresher: Refresher | None = None
    invitation_sender: InvitationSender | None = None


def get_people() -> People:
    people = get_state().people
    if people is None:
        raise RuntimeError("the app was built without init_auth()")
    return people


def choose_identity_provider(state: AppState) -> Any:
    """The first configured provider, in the hook's order: plugins before the built-ins."""
    settings = state.settings
    provider_settings = ProviderSettings(
        workos_api_key=settings.workos_api_key,
        workos_client_id=settings.workos_client_id,
        workos_base_url=settings.workos_base_url,
        dev_sign_in=settings.dev_sign_in,
    )
    for registration in state.plugins.identity_providers:
        provider = registration.factory(provider_settings)
        if provider is not None:
            return provider
    return None


def init_auth(app: Flask, state: AppState) -> None:
    settings = state.settings
    provider = choose_identity_provider(state)
    people = state.people = People(
        keys=KeyRing.from_settings(settings.secret_keys, settings.secret_key),
        identity_provider=provider,
    )
    if getattr(provider, "redirects", False):

        def refresh(session: SignInSession, refresh_token: str) -> tuple[str, datetime]:
            org = state.storage.get_org(session.org_id)
            try:
                renewal = provider.renew(refresh_token, org.workos_org_id if org else None)
            except SignInRefused as error:
                raise SessionRevoked(str(error)) from None
            return renewal.refresh_token, renewal.access_expires_at

        def send_invitation(org: Organization, email: str, role: Role) -> str:
            try:
                invitation_id: str = provider.invite(email, org.workos_org_id, role)
            except InvitationRefused:
                raise
            except Exception as error:  # WorkOS down, network errors: nothing stored
                raise InvitationNotSent(str(error)) from error
            return invitation_id

        people.session_refresher = refresh
        people.invitation_sender = send_invitation
    app.after_request(clear_cookies_when_asked)

    from reference_app.auth.pages import blp

    app.register_blueprint(blp)
