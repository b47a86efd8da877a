"""The ``obsyk`` command: run the platform and bootstrap it.

A :class:`flask.cli.FlaskGroup` over :func:`~reference_app.create_app`, so every
command sees the same ``OBSYK_*`` configuration as the server.  Bootstrap
commands print JSON with ``--json`` for scripts; secrets (API tokens,
generated private keys) are shown once and never stored.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from obsyk_core.storage import ROLES, ConflictError, Organization, Storage
from reference_app.app import close_app, create_app
from reference_app.auth import audit
from reference_app.operator_url import operator_url, record_served_urls, served_urls
from reference_app.state import get_state


def _cli_app() -> Flask:
    # One-shot commands run no periodic jobs; `obsyk serve` builds its own app.
    return create_app({"PERIODIC_JOBS": False})


class _ObsykGroup(FlaskGroup):
    """A FlaskGroup whose command list does not build the app.

    Flask's own listing (``obsyk --help``, a bare ``obsyk``) loads the app to add
    the commands it registers on ``app.cli``; ours registers none, and building
    it opens, and by default migrates, the database.  The app is still built, once,
    by the first command that runs with an app context.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()  # the ``flask.commands`` entry points, as Flask does
        return sorted(self.commands)


cli = _ObsykGroup(
    name="obsyk",
    create_app=_cli_app,
    help="Obsyk platform: serve the API, run background workers, bootstrap orgs and clusters.",
)


def main() -> None:
    cli.main(prog_name="obsyk")


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _find_org(storage: Storage, ref: str) -> Organization:
    org = storage.get_org(ref)
    if org is None:
        raise click.ClickException(f"No organization with id or name {ref!r}.")
    return org


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


# --------------------------------------------------------------------------- serving


@cli.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Seed a demo org and cluster, print an API token.")
@click.option("--workers", type=int, default=None, help="Processes (with Redis only; default 2).")
@click.option("--threads", type=int, default=8, show_default=True)
def serve(host: str, port: int, demo: bool, workers: int | None, threads: int) -> None:
    """Run the platform under gunicorn (migrates the database on first run)."""
    from reference_app.logs import configure_logging
    from reference_app.serve import gunicorn_options, prepare_metrics_dir, run

    prepare_metrics_dir()  # first: before anything here imports prometheus-client
    overrides: dict[str, Any] = {}
    urls = () if os.environ.get("OBSYK_PUBLIC_URL") else served_urls(host, port)
    if urls:
        # Operators must then be configured with exactly this URL (the JWT audience);
        # recorded so that `obsyk clusters register` can tell them.
        overrides["PUBLIC_URLS"] = ",".join(urls)
    from reference_app.auth.pages import is_loopback

    if not os.environ.get("OBSYK_DEV_SIGN_IN") and is_loopback(host):
        # A developer's machine: the local sign-in form (served to loopback callers only,
        # and only while WorkOS is not configured).
        overrides["DEV_SIGN_IN"] = True
    setup = create_app({**overrides, "PERIODIC_JOBS": False})
    if urls:
        record_served_urls(Path(setup.instance_path), urls)
    state = get_state(setup)
    configure_logging(state.settings)  # inherited by the gunicorn workers
    in_process_jobs = not state.settings.redis_url
    public_url = state.settings.public_urls[0]
    if demo:
        from reference_app.demo import seed_demo

        seed = seed_demo(state.storage, state.plugins.kinds)
        click.echo(f"Demo org {seed.org.name!r}, cluster {seed.cluster.name!r}.")
        click.echo(f"Demo API token (owner; shown once): {seed.token}")
        overrides["DEMO_MEMBERS"] = [u.email for _, u in state.storage.list_members(seed.org.id)]
    close_app(setup)
    click.echo(
        f"Dashboard: {public_url}/ (sign in at {public_url}/auth/login or with an API token; "
        f"API docs at {public_url}/api/docs)"
    )
    click.echo(
        f"API: {public_url}/api/v1  e.g. curl -H 'Authorization: Bearer <token>' "
        f"{public_url}/api/v1/clusters"
    )
    options = gunicorn_options(
        host, port, in_process_jobs=in_process_jobs, workers=workers, threads=threads
    )
    run(lambda: create_app(overrides), options)


health_file_option = click.option(
    "--health-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rewrite this JSON file on every turn of the periodic-job loop (for liveness probes).",
)


@cli.command("worker")
@click.option("--with-scheduler", is_flag=True, help="Also enqueue the periodic jobs.")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve this worker's Prometheus metrics (staged reconciles, ingested changes) here.",
)
@health_file_option
def worker(
    with_scheduler: bool, burst: bool, metrics_port: int | None, health_file: Path | None
) -> None:
    """Run background jobs from the RQ queue (needs OBSYK_REDIS_URL)."""
    from reference_app.jobs.periodic import SchedulerHealth, run_scheduler
    from reference_app.jobs.queue import RqJobQueue, redis_connection
    from reference_app.jobs.worker import NEEDS_REDIS, make_worker, run_worker
    from reference_app.logs import configure_logging

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    configure_logging(get_state(app).settings)
    if not isinstance(get_state(app).jobs, RqJobQueue):
        raise click.ClickException(NEEDS_REDIS)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        # The worker runs its jobs in this one process: its own registry is the whole story.
        start_http_server(metrics_port)
    stop = threading.Event()
    if with_scheduler:
        settings = get_state(app).settings
        # A connection of its own: rq stretches the worker's socket timeout to its
        # long dequeue poll, and the scheduler must notice a silent Redis sooner.
        connection = redis_connection(settings.redis_url)
        threading.Thread(
            target=run_scheduler,
            args=(settings, connection, stop, SchedulerHealth(health_file)),
            name="obsyk-scheduler",
            daemon=True,
        ).start()
    try:
        if burst:
            make_worker(app).work(burst=True)
        else:
            run_worker(app, stop)
    finally:
        stop.set()


@cli.command("scheduler")
@health_file_option
def scheduler(health_file: Path | None) -> None:
    """Enqueue the periodic jobs (recovery, pruning, silence check) on schedule (needs Redis).

    Runs until SIGTERM or SIGINT; a Redis outage pauses it, never ends it.
    """
    import signal

    from reference_app.jobs.periodic import SchedulerHealth, run_scheduler
    from reference_app.jobs.queue import RqJobQueue
    from reference_app.logs import configure_logging

    state = get_state()
    configure_logging(state.settings)
    if not isinstance(state.jobs, RqJobQueue):
        raise click.ClickException("Without OBSYK_REDIS_URL, `obsyk serve` runs periodic jobs.")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_scheduler(state.settings, state.jobs.connection, stop, SchedulerHealth(health_file))


# --------------------------------------------------------------------------- database


@cli.group("db")
def db() -> None:
    """Database schema."""


@db.command("upgrade", with_appcontext=False)
def db_upgrade() -> None:
    """Create or upgrade the schema to the latest version."""
    app = create_app({"PERIODIC_JOBS": False, "AUTO_MIGRATE": False})
    try:
        state = get_state(app)
        state.storage.migrate()
        click.echo(f"Database is up to date: {_redact(state.settings.database_url)}")
    finally:
        close_app(app)


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


# --------------------------------------------------------------------------- bootstrap


@cli.group("orgs")
def orgs() -> None:
    """Organizations."""


def _org_data(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "workos_organization_id": org.workos_org_id}


@orgs.command("create")
@click.argument("name")
@click.option("--workos-org", help="Link to this WorkOS organization (org_...).")
@json_option
def orgs_create(name: str, workos_org: str | None, as_json: bool) -> None:
    """Create an organization (optionally linked to a WorkOS organization)."""
    storage = get_state().storage
    if workos_org and storage.find_org_by_workos_id(workos_org) is not None:
        raise click.ClickException(f"WorkOS organization {workos_org!r} is linked already.")
    try:
        org = storage.create_org(name)
        if workos_org:
            org = storage.link_org(org.id, workos_org) or org
    except ConflictError as error:
        raise click.ClickException(str(error) or f"Organization {name!r} exists.") from None
    _emit(as_json, _org_data(org), f"Created organization {org.name} ({org.id}).")


@orgs.command("link")
@click.argument("org_ref", metavar="ORG")
@click.option("--workos-org", required=True, help="The WorkOS organization (org_...).")
@json_option
def orgs_link(org_ref: str, workos_org: str, as_json: bool) -> None:
    """Link ORG to a WorkOS organization: its members may then sign in to ORG."""
    storage = get_state().storage
    org = _find_org(storage, org_ref)
    try:
        linked = storage.link_org(org.id, workos_org)
    except ConflictError as error:
        raise click.ClickException(str(error)) from None
    assert linked is not None
    audit.record("org.updated", org_id=org.id, details={"workos_organization_id": workos_org})
    _emit(as_json, _org_data(linked), f"Linked {linked.name} to WorkOS {workos_org}.")


# --------------------------------------------------------------------------- members


@cli.group("members")
def members() -> None:
    """Members of an organization."""


@members.command("add")
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@click.option("--email", required=True, help="The person (created if new; linked at sign-in).")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@json_option
def members_add(org_ref: str, email: str, role: str, as_json: bool) -> None:
    """Make EMAIL a member of ORG with ROLE (no invitation: they can sign in at once)."""
    from reference_app.auth.membership import add_member

    storage = get_state().storage
    org = _find_org(storage, org_ref)
    user, membership = add_member(storage, org.id, email, role)  # type: ignore[arg-type]
    audit.record("member.joined", org_id=org.id, target=("user", user.id), details={"role": role})
    data = {"org_id": org.id, "user_id": user.id, "email": user.email, "role": membership.role}
    _emit(as_json, data, f"{user.email} is now {membership.role} of {org.name}.")


@members.command("list")
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@json_option
def members_list(org_ref: str, as_json: bool) -> None:
    """List ORG's members and their roles."""
    storage = get_state().storage
    org = _find_org(storage, org_ref)
    items = [
        {"user_id": user.id, "email": user.email, "name": user.name, "role": membership.role}
        for membership, user in storage.list_members(org.id)
    ]
    text = "\n".join(f"{item['email']}\t{item['role']}\t{item['user_id']}" for item in items)
    _emit(as_json, {"items": items}, text or "No members.")


@members.command("remove")
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@click.option("--email", required=True)
@json_option
def members_remove(org_ref: str, email: str, as_json: bool) -> None:
    """Remove EMAIL from ORG: their tokens and sessions there stop working at once."""
    from reference_app.auth.membership import change_member
    from reference_app.auth.policy import PolicyRefusal

    storage = get_state().storage
    org = _find_org(storage, org_ref)
    user = storage.find_user(email=email)
    try:
        # The CLI runs with the operator's full powers: an owner's, bound by the last-owner rule.
        removed = change_member(storage, org.id, "owner", user.id, None) if user else None
    except PolicyRefusal as error:
        raise click.ClickException(str(error)) from None
    if removed is None or user is None:
        raise click.ClickException(f"{email} is not a member of {org.name}.")
    audit.record("member.removed", org_id=org.id, target=("user", user.id))
    _emit(as_json, {"org_id": org.id, "email": email, "removed": True}, f"Removed {email}.")


@cli.group("invitations")
def invitations() -> None:
    """Invitations to join an organization."""


@invitations.command("create")
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@json_option
def invitations_create(org_ref: str, email: str, role: str, as_json: bool) -> None:
    """Invite EMAIL to ORG; prints the accept link (shown once) unless WorkOS sends it."""
    from reference_app.auth.membership import invite

    state = get_state()
    org = _find_org(state.storage, org_ref)
    sender = state.people.invitation_sender if state.people else None
    workos_id = sender(org, email, role) if sender is not None else None  # type: ignore[arg-type]
    issued = invite(
        state.storage,
        org.id,
        email,
        role,  # type: ignore[arg-type]
        caller_role="owner",
        invited_by=None,
        public_url=state.settings.public_urls[0],
        workos_invitation_id=workos_id,
    )
    audit.record(
        "member.invited",
        org_id=org.id,
        target=("invitation", issued.invitation.id),
        details={"email": email, "role": role},
    )
    data = _invitation_data(issued.invitation)
    data["accept_url"] = issued.accept_url
    where = "sent by WorkOS" if workos_id else f"accept link (shown once): {issued.accept_url}"
    _emit(as_json, data, f"Invited {email} as {role} of {org.name}; {where}")


def _invitation_data(invitation: Any) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "org_id": invitation.org_id,
        "email": invitation.email,
        "role": invitation.role,
        "state": invitation.state,
        "expires_at": invitation.expires_at.isoformat(),
    }


@invitations.command("list")
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@json_option
def invitations_list(org_ref: str, as_json: bool) -> None:
    """List ORG's pending invitations."""
    storage = get_state().storage
    org = _find_org(storage, org_ref)
    items = [_invitation_data(i) for i in storage.list_invitations(org_id=org.id)]
    text = "\n".join(f"{i['id']}\t{i['email']}\t{i['role']}\t{i['expires_at']}" for i in items)
    _emit(as_json, {"items": items}, text or "No pending invitations.")


@invitations.command("revoke")
@click.argument("invitation_id")
@json_option
def invitations_revoke(invitation_id: str, as_json: bool) -> None:
    """Revoke a pending invitation."""
    from datetime import UTC, datetime

    storage = get_state().storage
    invitation = storage.get_invitation(invitation_id)
    if invitation is None or not storage.close_invitation(
        invitation_id, revoked_at=datetime.now(UTC)
    ):
        raise click.ClickException(f"No pending invitation {invitation_id!r}.")
    audit.record(
        "invitation.revoked", org_id=invitation.org_id, target=("invitation", invitation_id)
    )
    _emit(as_json, {"id": invitation_id, "state": "revoked"}, f"Revoked {invitation_id}.")


@cli.group("tokens")
def tokens() -> None:
    """Personal API tokens."""


@tokens.command("create")
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@click.option("--email", required=True, help="The user (created if new).")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=None,
    help="A new member's role (default member); for a member, must be theirs.",
)
@click.option("--change-role", is_flag=True, help="Change an existing member's role to --role.")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@json_option
def tokens_create(
    org_ref: str, email: str, role: str | None, change_role: bool, name: str, as_json: bool
) -> None:
    """Print a new API token (shown once) for EMAIL in ORG, making them a member if new.

    An existing member keeps their role: a different --role is refused unless
    --change-role asks for the change (a default must never demote an owner).
    """
    from reference_app.auth.api_tokens import issue_api_token
    from reference_app.auth.membership import add_member, change_member
    from reference_app.auth.policy import PolicyRefusal

    storage = get_state().storage
    org = _find_org(storage, org_ref)
    user = storage.ensure_user(email)
    current = storage.get_membership(org.id, user.id)
    if current is None:
        role = role or "member"
        add_member(storage, org.id, email, role)  # type: ignore[arg-type]
        audit.record(
            "member.joined", org_id=org.id, target=("user", user.id), details={"role": role}
        )
    elif role is not None and role != current.role:
        if not change_role:
            raise click.ClickException(
                f"{email} is {current.role} of {org.name}: pass --change-role to make them "
                f"{role}, or leave out --role to keep their role."
            )
        try:
            change_member(storage, org.id, "owner", user.id, role)  # type: ignore[arg-type]
        except PolicyRefusal as refusal:
            raise click.ClickException(str(refusal)) from None
        details = {"from": current.role, "to": role}
        audit.record(
            "member.role_changed", org_id=org.id, target=("user", user.id), details=details
        )
    else:
        role = current.role
    issued = issue_api_token(storage, org.id, user.id, name=name)
    data = {
        "token": issued.token,
        "token_id": issued.record.id,
        "org_id": org.id,
        "user_id": issued.record.user_id,
        "email": email,
        "role": role,
    }
    _emit(
        as_json, data, f"API token for {email} ({role} of {org.name}); shown once:\n{issued.token}"
    )


@cli.group("clusters")
def clusters() -> None:
    """Clusters and operator credentials."""


@clusters.command("register")
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@click.option("--name", required=True, help="Cluster name, unique in the org.")
@click.option(
    "--public-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The operator's P-256 public key (PEM). Without it a key pair is generated.",
)
@json_option
def clusters_register(org_ref: str, name: str, public_key_file: Path | None, as_json: bool) -> None:
    """Register a cluster and its first operator credential."""
    from reference_app.auth.credentials import InvalidPublicKey, register_cluster

    state = get_state()
    platform = operator_url(state.settings, Path(current_app.instance_path))
    org = _find_org(state.storage, org_ref)
    public_key = public_key_file.read_text() if public_key_file else None
    try:
        registration = register_cluster(state.storage, org.id, name, public_key)
    except InvalidPublicKey as error:
        raise click.BadParameter(str(error), param_hint="--public-key-file") from None
    except ConflictError as error:
        raise click.ClickException(str(error) or f"Cluster {name!r} exists.") from None
    data: dict[str, Any] = {
        "cluster_id": registration.cluster.id,
        "client_id": registration.client_id,
        "org_id": org.id,
        "name": registration.cluster.name,
        "public_urls": list(state.settings.public_urls),
        "platform_url": platform.url,
        "platform_url_guess": platform.guess,
    }
    text = (
        f"Registered cluster {name} ({registration.cluster.id}); "
        f"client id {registration.client_id}.\n"
        f"Operator: obsyk-operator run --platform-url {platform.url} "
        f"--client-id {registration.client_id} ..."
    )
    if platform.guess:
        text += f"\n(--platform-url is a guess: {platform.guess})"
    if registration.private_key_pem is not None:
        data["private_key"] = registration.private_key_pem
        text += "\nOperator private key (shown once; store it in the operator's Secret):\n"
        text += registration.private_key_pem
    _emit(as_json, data, text)


if __name__ == "__main__":
    main()
