"""``obsyk members``, ``obsyk invitations``, ``obsyk orgs create --workos-org`` / ``orgs link``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner

from obsyk_core.people import AuditQuery
from reference_app.cli import cli
from reference_app.state import get_state


def run_json(runner: FlaskCliRunner, *args: str) -> Any:
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def run_failing(runner: FlaskCliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code != 0
    return str(result.output)


def test_orgs_are_created_and_linked_to_workos_organizations(
    app: Flask, runner: FlaskCliRunner
) -> None:
    workos_id = f"org_{uuid.uuid4().hex[:10]}"
    name = f"acme-{uuid.uuid4().hex[:6]}"
    created = run_json(runner, "orgs", "create", name, "--workos-org", workos_id)
    assert created["workos_organization_id"] == workos_id
    other = run_json(runner, "orgs", "create", f"{name}-b")
    assert "linked already" in run_failing(
        runner, "orgs", "link", other["name"], "--workos-org", workos_id
    )
    relinked = run_json(runner, "orgs", "link", other["id"], "--workos-org", workos_id + "x")
    assert relinked["workos_organization_id"] == workos_id + "x"
    storage = get_state(app).storage
    assert storage.find_org_by_workos_id(workos_id + "x").id == other["id"]  # type: ignore[union-attr]


def test_members_are_added_listed_and_removed(app: Flask, runner: FlaskCliRunner) -> None:
    org = run_json(runner, "orgs", "create", f"team-{uuid.uuid4().hex[:6]}")
    for email, role in (("ann@x.io", "owner"), ("bob@x.io", "viewer")):
        added = run_json(runner, "members", "add", "--org", org["name"], "--email", email,
                         "--role", role)  # fmt: skip
        assert added["role"] == role
    listed = run_json(runner, "members", "list", "--org", org["id"])["items"]
    assert [(m["email"], m["role"]) for m in listed] == [
        ("ann@x.io", "owner"),
        ("bob@x.io", "viewer"),
    ]
    assert "last owner" in run_failing(runner, "members", "remove", "--org", org["id"],
                                       "--email", "ann@x.io")  # fmt: skip
    run_json(runner, "members", "remove", "--org", org["id"], "--email", "bob@x.io")
    assert [
        m["email"] for m in run_json(runner, "members", "list", "--org", org["id"])["items"]
    ] == ["ann@x.io"]
    audit = get_state(app).storage.list_audit(AuditQuery(org["id"]))
    assert [e.action for e in audit][:1] == ["member.removed"]


def test_invitations_are_created_listed_and_revoked(app: Flask, runner: FlaskCliRunner) -> None:
    org = run_json(runner, "orgs", "create", f"inv-{uuid.uuid4().hex[:6]}")
    created = run_json(runner, "invitations", "create", "--org", org["id"], "--email",
                       "new@x.io", "--role", "admin")  # fmt: skip
    assert created["state"] == "pending" and created["role"] == "admin"
    assert created["accept_url"].startswith("https://obsyk.test/auth/login?invitation=")
    listed = run_json(runner, "invitations", "list", "--org", org["id"])["items"]
    assert [i["id"] for i in listed] == [created["id"]]
    assert run_json(runner, "invitations", "revoke", created["id"])["state"] == "revoked"
    assert run_json(runner, "invitations", "list", "--org", org["id"])["items"] == []
    assert "No pending invitation" in run_failing(runner, "invitations", "revoke", created["id"])
