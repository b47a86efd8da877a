"""Fixtures for the built-in plugin tests: a kind registry holding only the core kinds."""

from __future__ import annotations

import pytest

import obsyk_plugins.core_kinds as core_kinds
from obsyk_core.kinds import KindRegistry
from obsyk_core.plugins import build_plugin_manager


@pytest.fixture(scope="session")
def core_registry() -> KindRegistry:
    # Only this plugin, so another plugin's work in progress cannot break these tests.
    plugins = build_plugin_manager(plugins=[core_kinds], load_entry_points=False, disabled=[])
    return plugins.kinds
