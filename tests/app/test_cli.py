"""The ``obsyk`` command: bootstrap with --json, db upgrade, serve --demo."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from app_support import JWT_BEARER, PUBLIC_URL, assertion
from flask import Flask
from flask.testing import FlaskCliRunner

from reference_app.auth.api_tokens import hash_token
from reference_app.auth.credentials import generate_key_pair
from reference_app.cli import cli
from reference_app.state import get_state


def run_json(runner: FlaskCliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def test_orgs_create_prints_id_and_name(app: Flask, runner: FlaskCliRunner) -> None:
    data = run_json(runner, "orgs", "create", "acme-cli")

    assert set(data) == {"id", "name", "workos_organization_id"} and data["name"] == "acme-cli"
    assert data["workos_organization_id"] is None
    org = get_state(app).storage.get_org(str(data["id"]))
    assert org is not None and org.name == "acme-cli"


def test_orgs_create_twice_fails_cleanly(runner: FlaskCliRunner) -> None:
    run_json(runner, "orgs", "create", "twice")

    result = runner.invoke(cli, ["orgs", "create", "twice", "--json"])

    assert result.exit_code == 1
    assert "Error" in result.output and "Traceback" not in result.output


def test_tokens_create_gives_the_role_and_a_working_token(
    app: Flask, runner: FlaskCliRunner
) -> None:
    org = run_json(runner, "orgs", "create", "tokens-org")

    data = run_json(
        runner,
        "tokens",
        "create",
        "--org",
        "tokens-org",
        "--email",
        "Ops@Example.com",
        "--role",
        "admin",
    )

    token = str(data["token"])
    assert token.startswith("obsyk_pat_") and data["role"] == "admin"
    storage = get_state(app).storage
    record = storage.find_api_token(hash_token(token))
    assert record is not None and record.org_id == org["id"]
    membership = storage.get_membership(record.org_id, record.user_id)
    assert membership is not None and membership.role == "admin"


def test_tokens_create_never_changes_an_existing_members_role_silently(
    app: Flask, runner: FlaskCliRunner
) -> None:
    run_json(runner, "orgs", "create", "owned-org")
    base = ["tokens", "create", "--org", "owned-org", "--email", "boss@example.com"]
    assert run_json(runner, *base, "--role", "owner")["role"] == "owner"

    # No --role: a token for them as they are (the default once demoted an owner).
    assert run_json(runner, *base)["role"] == "owner"
    same = run_json(runner, *base, "--role", "owner")
    refused = runner.invoke(cli, [*base, "--role", "member"])
    storage = get_state(app).storage
    record = storage.find_api_token(hash_token(str(same["token"])))
    assert record is not None
    membership = storage.get_membership(record.org_id, record.user_id)

    assert refused.exit_code == 1 and "--change-role" in refused.output
    assert membership is not None and membership.role == "owner"
    run_json(runner, "tokens", "create", "--org", "owned-org", "--email", "two@example.com",
             "--role", "owner")  # fmt: skip
    changed = run_json(runner, *base, "--role", "member", "--change-role")
    membership = storage.get_membership(record.org_id, record.user_id)
    assert changed["role"] == "member" and membership is not None and membership.role == "member"


def test_tokens_create_will_not_demote_the_last_owner(runner: FlaskCliRunner) -> None:
    run_json(runner, "orgs", "create", "one-owner")
    base = ["tokens", "create", "--org", "one-owner", "--email", "only@example.com"]
    run_json(runner, *base, "--role", "owner")

    result = runner.invoke(cli, [*base, "--role", "viewer", "--change-role"])

    assert result.exit_code == 1 and "owner" in result.output


def test_tokens_create_for_an_unknown_org_fails(runner: FlaskCliRunner) -> None:
    result = runner.invoke(cli, ["tokens", "create", "--org", "nope", "--email", "a@b.c"])

    assert result.exit_code == 1
    assert "No organization" in result.output


def test_tokens_create_rejects_an_unknown_role(runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        cli, ["tokens", "create", "--org", "x", "--email", "a@b.c", "--role", "superuser"]
    )

    assert result.exit_code == 2
    assert "superuser" in result.output


def test_clusters_register_generates_a_key_the_operator_can_use(
    app: Flask, runner: FlaskCliRunner
) -> None:
    org = run_json(runner, "orgs", "create", "cluster-org")

    data = run_json(runner, "clusters", "register", "--org", str(org["id"]), "--name", "prod")

    assert {"cluster_id", "client_id", "private_key"} <= set(data)
    private_key = str(data["private_key"])
    stored = get_state(app).storage.get_credential(str(data["client_id"]))
    assert stored is not None and "PRIVATE" not in stored.public_key_pem
    response = app.test_client().post(
        "/oauth/token",
        data={
            "grant_type": JWT_BEARER,
            "assertion": assertion(private_key, str(data["client_id"]), PUBLIC_URL),
        },
    )
    assert response.status_code == 200


def test_clusters_register_with_a_public_key_file(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    run_json(runner, "orgs", "create", "byok-org")
    private_pem, public_pem = generate_key_pair()
    key_file = tmp_path / "operator.pub"
    key_file.write_text(public_pem)

    data = run_json(
        runner,
        "clusters",
        "register",
        "--org",
        "byok-org",
        "--name",
        "edge",
        "--public-key-file",
        str(key_file),
    )

    assert "private_key" not in data
    stored = get_state(app).storage.get_credential(str(data["client_id"]))
    assert stored is not None and stored.public_key_pem.strip() == public_pem.strip()
    # The operator's own private key is what now signs its assertions.
    response = app.test_client().post(
        "/oauth/token",
        data={
            "grant_type": JWT_BEARER,
            "assertion": assertion(private_pem, str(data["client_id"]), PUBLIC_URL),
        },
    )
    assert response.status_code == 200


def test_clusters_register_refuses_a_non_p256_key(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    run_json(runner, "orgs", "create", "rsa-org")
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    key_file = tmp_path / "rsa.pub"
    key_file.write_bytes(
        rsa_public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    result = runner.invoke(
        cli,
        [
            "clusters",
            "register",
            "--org",
            "rsa-org",
            "--name",
            "x",
            "--public-key-file",
            str(key_file),
        ],
    )

    assert result.exit_code == 2
    assert "P-256" in result.output
    org = get_state(app).storage.get_org("rsa-org")
    assert org is not None and get_state(app).storage.list_clusters(org.id) == []


@pytest.mark.parametrize(
    "args", [["--help"], [], ["orgs", "--help"], ["clusters", "register", "--help"]]
)
def test_help_touches_no_database(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    instance = tmp_path / "instance"
    monkeypatch.setenv("OBSYK_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("OBSYK_DATABASE_URL", raising=False)

    result = CliRunner().invoke(cli, args)

    assert result.exit_code in (0, 2), result.output  # click exits 2 on a bare group
    assert "Usage:" in result.output
    if not args or args == ["--help"]:
        assert all(name in result.output for name in ("serve", "db", "orgs", "clusters"))
    # Reading the help neither creates nor migrates the embedded database.
    assert not (instance / "obsyk.sqlite3").exists()


def _upgrade_then_use(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``obsyk db upgrade`` (twice: it is idempotent), then a server that never migrates works."""
    from click.testing import CliRunner

    from reference_app import create_app
    from reference_app.app import close_app

    monkeypatch.setenv("OBSYK_DATABASE_URL", url)
    monkeypatch.setenv("OBSYK_INSTANCE_PATH", str(tmp_path / "instance"))
    for _ in range(2):
        result = CliRunner().invoke(cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "Database is up to date" in result.output

    server = create_app({"AUTO_MIGRATE": False, "PERIODIC_JOBS": False})
    try:
        storage = get_state(server).storage
        org = storage.create_org("after-upgrade")
        assert storage.get_org("after-upgrade") == org
    finally:
        close_app(server)


def test_db_upgrade_creates_the_embedded_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upgrade_then_use(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path, monkeypatch)


@pytest.mark.postgres
def test_db_upgrade_creates_the_schema_on_a_fresh_postgresql(
    fresh_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upgrade_then_use(fresh_postgres_url, tmp_path, monkeypatch)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_demo_serves_the_seeded_inventory(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "OBSYK_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("OBSYK_DATABASE_URL", None)
    env.pop("OBSYK_REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "reference_app.cli", "serve", "--port", str(port), "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token = None
        assert server.stdout is not None
        for line in server.stdout:
            if "Demo API token" in line:
                token = line.rsplit(" ", 1)[1].strip()
            if "API docs" in line:
                break
        assert token and token.startswith("obsyk_pat_")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/clusters", headers={"Authorization": f"Bearer {token}"}
        )
        body = None
        deadline = time.monotonic() + 30
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = json.load(response)
            except OSError:
                time.sleep(0.3)
        assert body is not None, "the server never answered"
        # The main demo cluster, and a second one the overview lists as disconnected.
        cluster, edge = sorted(body["items"], key=lambda c: c["name"] != "demo-cluster")
        assert (cluster["name"], edge["name"]) == ("demo-cluster", "demo-edge")
        assert edge["status"] == "disconnected"
        assert sum(cluster["resource_counts"].values()) > 200
        # What the printed URL opens: the dashboard page.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
            assert "<title>Obsyk</title>" in response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
