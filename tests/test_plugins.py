"""The plugin manager: entry points, blocking, validation at start-up, notification fan-out."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

import marshmallow
import pytest
from plugin_dist import install_example_plugin

from obsyk_core.ingest import ResourceChange
from obsyk_core.kinds import DisplayHints, DuplicateKindError, KindRegistry, ResourceKind
from obsyk_core.plugins import DISABLED_ENV, Plugins, build_plugin_manager, hookimpl
from obsyk_core.registries import (
    CacheRegistry,
    DuplicateRegistrationError,
    IdentityProviderRegistry,
    StorageRegistry,
    UnknownBackendError,
)
from obsyk_core.storage import ChangeType
from obsyk_core.testing import at
from obsyk_plugins.memory_cache import MemoryCache
from obsyk_plugins.memory_storage import MemoryStorage

BUILT_INS = {"core_kinds", "memory_storage", "sql_storage", "memory_cache", "redis_cache"}
BUILT_INS |= {"dev_identity", "workos_identity"}


def test_entry_points_bring_every_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLED_ENV, raising=False)
    plugins = build_plugin_manager(distribution="obsyk")
    assert set(plugins.plugin_names()) >= BUILT_INS
    assert len(plugins.kinds) == 20
    assert {"memory", "sqlite", "postgresql", "postgresql+psycopg"} <= {
        registration.name for registration in plugins.storage
    }
    assert {"memory", "redis"} <= {registration.name for registration in plugins.caches}
    assert isinstance(plugins.storage.open("memory://"), MemoryStorage)


def test_without_entry_points_nothing_is_registered() -> None:
    plugins = build_plugin_manager(load_entry_points=False)
    assert plugins.plugin_names() == []
    assert len(plugins.kinds) == 0


def test_disabled_env_blocks_a_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLED_ENV, "memory_cache, core_kinds")
    plugins = build_plugin_manager(distribution="obsyk")
    assert "memory_cache" not in plugins.plugin_names()
    assert "redis_cache" in plugins.plugin_names()
    with pytest.raises(UnknownBackendError, match=r"cache URL scheme 'memory'.*known: redis"):
        plugins.caches.open("memory://")
    assert len(plugins.kinds) == 0


def test_disabled_argument_overrides_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLED_ENV, "memory_storage")
    plugins = build_plugin_manager(distribution="obsyk", disabled=["sql_storage"])
    assert "memory" in plugins.storage
    assert "sqlite" not in plugins.storage


class _Misspelt:
    @hookimpl
    def obsyk_no_such_hook(self) -> None:
        """A typo in a hook name must not be ignored silently."""


def test_unknown_hook_implementation_fails_at_build_time() -> None:
    with pytest.raises(Exception, match="obsyk_no_such_hook"):
        build_plugin_manager(plugins=[_Misspelt()], load_entry_points=False)


class _OtherMemoryStorage:
    @hookimpl
    def obsyk_register_storage(self, registry: StorageRegistry) -> None:
        registry.register("memory", MemoryStorage)


def test_duplicate_storage_scheme_names_both_plugins() -> None:
    plugins = build_plugin_manager(
        plugins=[_OtherMemoryStorage()], distribution="obsyk", disabled=()
    )
    with pytest.raises(DuplicateRegistrationError) as caught:
        _ = plugins.storage
    message = str(caught.value)
    assert "'memory'" in message and "memory_storage" in message
    assert "_OtherMemoryStorage" in message
    assert "OBSYK_DISABLED_PLUGINS" in message


def test_unknown_scheme_names_the_known_ones() -> None:
    plugins = build_plugin_manager(distribution="obsyk", disabled=())
    with pytest.raises(UnknownBackendError, match=r"'mysql'.*memory"):
        plugins.storage.open("mysql://localhost/db")


CHANGE = ResourceChange(
    "cluster-1", "p1", "Pod", "default", "web-0", ChangeType.MODIFIED, "ab" * 32, at(0)
)


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[ResourceChange] = []

    @hookimpl
    def obsyk_resource_changed(self, change: ResourceChange) -> None:
        self.seen.append(change)


class _Broken:
    @hookimpl
    def obsyk_resource_changed(self, change: ResourceChange) -> None:
        raise RuntimeError("webhook endpoint down")


def test_notify_resource_changed_continues_after_a_failing_plugin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before, after = _Recorder(), _Recorder()
    plugins = build_plugin_manager(plugins=[before, _Broken(), after], load_entry_points=False)
    with caplog.at_level(logging.ERROR, logger="obsyk_core.plugins"):
        plugins.notify_resource_changed(CHANGE)
    assert before.seen == [CHANGE]
    assert after.seen == [CHANGE]
    assert "obsyk_resource_changed" in caplog.text
    assert "webhook endpoint down" in caplog.text


# --------------------------------------------------------------------------- one test per hook


class _ThirdParty:
    """A third-party plugin implementing every registration hook."""

    @hookimpl
    def obsyk_register_kinds(self, registry: KindRegistry) -> None:
        registry.register(
            ResourceKind(
                kind="Certificate",
                group="cert-manager.io",
                version="v1",
                plural="certificates",
                namespaced=True,
                snapshot_key="certificates",
                extract=lambda raw: {"uid": raw["metadata"]["uid"], "name": "x"},
                schema=marshmallow.Schema,
                display=DisplayHints(category="Config"),
            )
        )

    @hookimpl
    def obsyk_register_storage(self, registry: StorageRegistry) -> None:
        registry.register("scratch", lambda url: MemoryStorage())

    @hookimpl
    def obsyk_register_caches(self, registry: CacheRegistry) -> None:
        registry.register("scratch", lambda url: MemoryCache())

    @hookimpl
    def obsyk_register_identity_providers(self, registry: IdentityProviderRegistry) -> None:
        registry.register("magic-link", _DEV_LOGIN)


_DEV_LOGIN = object()


@pytest.fixture
def with_third_party() -> Plugins:
    return build_plugin_manager(plugins=[_ThirdParty()], distribution="obsyk", disabled=())


def test_obsyk_register_kinds_adds_a_kind_beside_the_core_ones(with_third_party: Plugins) -> None:
    kinds = with_third_party.kinds
    assert len(kinds) == 21
    certificate = kinds.by_snapshot_key("certificates")
    assert certificate.api_version == "cert-manager.io/v1"
    assert "_ThirdParty@" in certificate.plugin
    assert kinds.by_kind("Pod").plugin == "core_kinds"


def test_obsyk_register_storage_adds_a_scheme(with_third_party: Plugins) -> None:
    registration = next(r for r in with_third_party.storage if r.name == "scratch")
    assert "_ThirdParty@" in registration.plugin
    storage = with_third_party.storage.open("scratch://")
    assert storage.create_org("acme").name == "acme"
    assert "memory" in with_third_party.storage, "the built-in is still there"


def test_obsyk_register_caches_adds_a_scheme(with_third_party: Plugins) -> None:
    cache = with_third_party.caches.open("scratch://")
    assert cache.add("jti:1", b"seen", 60) is True
    assert cache.add("jti:1", b"seen", 60) is False


def test_obsyk_register_identity_providers_adds_a_provider(with_third_party: Plugins) -> None:
    providers = with_third_party.identity_providers
    assert "magic-link" in providers.names()
    assert providers.get("magic-link") is _DEV_LOGIN
    with pytest.raises(UnknownBackendError, match="identity provider 'saml'"):
        providers.get("saml")


def test_a_kind_declared_twice_fails_naming_both_plugins() -> None:
    plugins = build_plugin_manager(plugins=[_ThirdParty(), _ThirdParty()], load_entry_points=False)
    with pytest.raises(DuplicateKindError, match=r"'Certificate'.*_ThirdParty.*_ThirdParty"):
        _ = plugins.kinds


# --------------------------------------------------------------------------- pluggy's semantics


class _WrapsRegistration:
    """A hook wrapper: sees each plugin's registrations, before and after."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    @hookimpl(wrapper=True)
    def obsyk_register_kinds(self, registry: KindRegistry) -> Generator[None, None, None]:
        before = len(registry)
        yield
        self.seen.append((before, len(registry)))


def test_a_hook_wrapper_runs_around_the_registrations() -> None:
    wrapper = _WrapsRegistration()
    plugins = build_plugin_manager(
        plugins=[wrapper, _ThirdParty()], distribution="obsyk", disabled=()
    )
    assert len(plugins.kinds) == 21
    # Called once per implementing plugin: 20 core kinds and the third party's one.
    assert sorted(after - before for before, after in wrapper.seen) == [1, 20]
    assert "_WrapsRegistration" not in {kind.plugin for kind in plugins.kinds}


class _WrapsNotification:
    def __init__(self) -> None:
        self.outcomes: list[str] = []

    @hookimpl(wrapper=True)
    def obsyk_resource_changed(self, change: ResourceChange) -> Generator[None, None, None]:
        try:
            yield
            self.outcomes.append("ok")
        except RuntimeError as error:
            self.outcomes.append(str(error))
            raise


def test_a_notification_wrapper_sees_each_plugin_succeed_or_fail() -> None:
    wrapper, recorder = _WrapsNotification(), _Recorder()
    plugins = build_plugin_manager(plugins=[wrapper, _Broken(), recorder], load_entry_points=False)
    assert plugins.implements("obsyk_resource_changed")
    plugins.notify_resource_changed(CHANGE)
    assert recorder.seen == [CHANGE]
    assert sorted(wrapper.outcomes) == ["ok", "webhook endpoint down"]


def test_only_a_wrapper_is_no_implementation() -> None:
    plugins = build_plugin_manager(plugins=[_WrapsNotification()], load_entry_points=False)
    assert not plugins.implements("obsyk_resource_changed")


def _kind(name: str) -> ResourceKind:
    return ResourceKind(
        kind=name,
        group="example.com",
        version="v1",
        plural=name.lower() + "s",
        namespaced=True,
        snapshot_key=name.lower() + "s",
        extract=lambda raw: dict(raw),
        schema=marshmallow.Schema,
        display=DisplayHints(category="Config"),
    )


class _First:
    @hookimpl(tryfirst=True)
    def obsyk_register_kinds(self, registry: KindRegistry) -> None:
        registry.register(_kind("First"))


class _Plain:
    @hookimpl
    def obsyk_register_kinds(self, registry: KindRegistry) -> None:
        registry.register(_kind("Plain"))


def test_registrations_follow_pluggys_order() -> None:
    # pluggy calls the later registered first, tryfirst before it, and the
    # trylast built-ins last: the registry keeps that order.
    plugins = build_plugin_manager(plugins=[_First(), _Plain()], distribution="obsyk", disabled=())
    names = [kind.kind for kind in plugins.kinds]
    assert names[:2] == ["First", "Plain"]
    assert all(kind.plugin == "core_kinds" for kind in list(plugins.kinds)[2:])


def test_hook_calls_are_traced_by_pluggys_monitoring() -> None:
    plugins = build_plugin_manager(plugins=[_ThirdParty()], distribution="obsyk", disabled=())
    calls: list[tuple[str, list[str]]] = []
    undo = plugins.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append((name, [impl.plugin_name for impl in impls])),
        lambda outcome, name, impls, kwargs: None,
    )
    try:
        _ = plugins.storage
    finally:
        undo()
    assert [name for name, _ in calls] == ["obsyk_register_storage"] * len(calls)
    called = [impls for _, impls in calls]
    assert {"memory_storage", "sql_storage"} <= {name for impls in called for name in impls}
    assert any("_ThirdParty@" in name for impls in called for name in impls)


def test_a_built_in_is_replaced_by_disabling_it() -> None:
    # Registries refuse a second "memory" scheme (see the duplicate test above):
    # trylast only orders the calls, it does not let a plugin override.
    plugins = build_plugin_manager(
        plugins=[_OtherMemoryStorage()], distribution="obsyk", disabled=["memory_storage"]
    )
    registration = next(r for r in plugins.storage if r.name == "memory")
    assert "_OtherMemoryStorage" in registration.plugin


def test_a_registry_filled_by_hand_attributes_what_it_is_told() -> None:
    registry = KindRegistry()
    with registry.registering_for("embedding-service"):
        registry.register(_kind("Widget"))
    registry.register(_kind("Gadget"))
    assert registry.by_kind("Widget").plugin == "embedding-service"
    assert registry.by_kind("Gadget").plugin == ""


def test_a_third_party_plugin_loads_beside_the_built_ins_and_a_pinned_manager_leaves_it_out(
    tmp_path: Path,
) -> None:
    """As when a kind plugin is pip-installed in the same environment as the project's tests."""
    site = install_example_plugin(tmp_path / "site")
    probe = (
        "import json\n"
        "from obsyk_core.plugins import build_plugin_manager\n"
        "every = build_plugin_manager(disabled=())\n"
        "own = build_plugin_manager(distribution='obsyk', disabled=())\n"
        "print(json.dumps([every.plugin_names(), len(every.kinds),"
        " own.plugin_names(), len(own.kinds)]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(DISABLED_ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    every, every_kinds, own, own_kinds = json.loads(done.stdout)
    assert set(every) == BUILT_INS | {"cert_manager"} and every_kinds == 21
    assert set(own) == BUILT_INS and own_kinds == 20
