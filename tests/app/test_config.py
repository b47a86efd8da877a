"""Settings from OBSYK_* environment variables, and the embedded defaults."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from app_support import embedded_config

from reference_app import create_app
from reference_app.app import close_app
from reference_app.config import DEFAULT_PUBLIC_URLS, MiB, load_settings
from reference_app.jobs.queue import ThreadJobQueue
from reference_app.state import get_state


def test_defaults_run_embedded(tmp_path: Path) -> None:
    settings = load_settings(None, tmp_path, environ={})

    assert settings.database_url == f"sqlite:///{tmp_path / 'obsyk.sqlite3'}"
    assert settings.redis_url == ""
    assert settings.public_urls == DEFAULT_PUBLIC_URLS
    assert settings.max_snapshot_bytes == 512 * MiB
    assert settings.max_event_bytes == 4 * MiB
    assert settings.history_days == 30


def test_environment_is_read_and_typed(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        tmp_path,
        environ={
            "OBSYK_DATABASE_URL": "postgresql+psycopg://db/obsyk",
            "OBSYK_REDIS_URL": "redis://cache:6379/0",
            "OBSYK_PUBLIC_URL": "https://obsyk.example.com/, https://obsyk.internal",
            "OBSYK_SECRET_KEY": "s3cret",
            "OBSYK_MAX_SNAPSHOT_BYTES": "1048576",
            "OBSYK_MAX_EVENT_BYTES": "65536",
            "OBSYK_HISTORY_DAYS": "7",
            "OBSYK_PERIODIC_JOBS": "false",
        },
    )

    assert settings.database_url == "postgresql+psycopg://db/obsyk"
    assert settings.redis_url == "redis://cache:6379/0"
    # Trailing slashes go: an operator configured with either form must match.
    assert settings.public_urls == ("https://obsyk.example.com", "https://obsyk.internal")
    assert settings.secret_key == "s3cret"
    assert (settings.max_snapshot_bytes, settings.max_event_bytes) == (1048576, 65536)
    assert settings.history_days == 7
    assert settings.periodic_jobs is False


def test_overrides_beat_the_environment(tmp_path: Path) -> None:
    settings = load_settings({"HISTORY_DAYS": 3}, tmp_path, environ={"OBSYK_HISTORY_DAYS": "9"})

    assert settings.history_days == 3


@pytest.mark.parametrize(
    ("name", "value"), [("OBSYK_HISTORY_DAYS", "thirty"), ("OBSYK_PERIODIC_JOBS", "maybe")]
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        load_settings(None, tmp_path, environ={name: value})


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings(None, tmp_path, environ={}).secret_key
    second = load_settings(None, tmp_path, environ={}).secret_key

    assert first == second and len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_create_app_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSYK_MAX_EVENT_BYTES", "12345")
    monkeypatch.setenv("OBSYK_PUBLIC_URL", "https://inventory.example.com")
    config = embedded_config(tmp_path)
    del config["PUBLIC_URLS"]

    app = create_app(config)
    try:
        settings = get_state(app).settings
        assert settings.max_event_bytes == 12345
        assert settings.public_urls == ("https://inventory.example.com",)
        assert isinstance(get_state(app).jobs, ThreadJobQueue)
        assert (tmp_path / "instance" / "obsyk.sqlite3").exists()
    finally:
        close_app(app)


def test_access_tokens_survive_a_restart_with_the_kept_secret(tmp_path: Path) -> None:
    from reference_app.auth.credentials import register_cluster

    first = create_app(embedded_config(tmp_path))
    storage = get_state(first).storage
    org = storage.create_org("restart")
    credential = register_cluster(storage, org.id, "c").credential
    token = get_state(first).access_tokens.issue(credential)
    close_app(first)

    second = create_app(embedded_config(tmp_path))
    try:
        principal = get_state(second).access_tokens.verify(token)
        assert principal.client_id == credential.client_id
    finally:
        close_app(second)
