"""docs/reference/config.md's settings table is generated from Settings and kept current."""

from __future__ import annotations

from dataclasses import fields

import pytest

from reference_app import config_reference
from reference_app.config import Settings, env_names


def test_the_page_lists_every_setting_as_the_config_object_documents_it() -> None:
    page = config_reference.PAGE.read_text(encoding="utf-8")
    assert config_reference.render_page(page) == page, (
        "docs/reference/config.md is out of date: run python -m reference_app.config_reference"
    )
    for name, env in env_names().items():
        assert f"| `{env}` |" in page, name


def test_a_setting_without_a_doc_or_a_variable_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    settable = [f.name for f in fields(Settings) if f.name != "extra"]
    assert set(settable) == set(env_names())
    without_one = {k: v for k, v in env_names().items() if k != "history_days"}
    monkeypatch.setattr(config_reference, "env_names", lambda: without_one)
    with pytest.raises(config_reference.UndocumentedSetting, match="history_days"):
        config_reference.settings_table()


def test_check_mode_reports_a_stale_page(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    stale = tmp_path / "config.md"
    stale.write_text(f"intro\n{config_reference.BEGIN}\n| old |\n{config_reference.END}\nrest\n")
    monkeypatch.setattr(config_reference, "PAGE", stale)
    assert config_reference.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert config_reference.main([]) == 0
    assert config_reference.main(["--check"]) == 0
    assert "OBSYK_DATABASE_URL" in stale.read_text() and stale.read_text().endswith("rest\n")
