"""The compiled record check agrees with marshmallow, record for record.

``ResourceKind.validate`` trusts the compiled predicate's ``True``, so a
predicate that accepted one record marshmallow rejects would let a broken
record into the inventory.  These tests hold the predicate against
marshmallow itself on the 20 core kinds' records and on thousands of
mutations of them, and check that a schema the compiler does not understand
is still validated (by marshmallow).  ``nox -s fastcheck`` runs them against
the newest marshmallow 4.x, whose private internals the compiler mirrors.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import marshmallow
import pytest
from hostile_json import json_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import fields, validate

from obsyk_core.kinds import DisplayHints, ResourceKind
from obsyk_plugins import fastcheck
from obsyk_plugins.core_kinds import accelerated_kinds
from obsyk_plugins.core_kinds.record_schema import record_checks
from obsyk_plugins.core_kinds.testing.samples import sample_object, synthetic_cluster

KINDS = {kind.kind: kind for kind in accelerated_kinds()}
CORE_CHECKS = record_checks()
Path = tuple[str | int, ...]


def marshmallow_accepts(schema: type[marshmallow.Schema], record: Any) -> bool:
    return schema().validate(record) == {}


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    records = [(name, kind.extract(sample_object(name))) for name, kind in KINDS.items()]
    records += [(name, KINDS[name].extract(raw)) for name, raw in synthetic_cluster(120, seed=7)]
    return records


CORPUS = _corpus()


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into a JSON value (the value itself first)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mutated(record: dict[str, Any], path: Path, replacement: Any, *, delete: bool = False) -> Any:
    """A deep copy of ``record`` with the value at ``path`` replaced (or deleted)."""
    if not path:
        return replacement
    result = copy.deepcopy(record)
    parent: Any = result
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(replacement)
    return result


def assert_same_verdict(kind: ResourceKind, record: Any) -> bool:
    """Predicate, ``ResourceKind.validate`` and marshmallow agree; return the verdict."""
    predicate = CORE_CHECKS.predicate_for(kind.schema)
    assert predicate is not None and kind.fast_check is not None
    expected_errors = kind.schema().validate(record)
    assert predicate(record) == (expected_errors == {}), record
    assert kind.validate(record) == (expected_errors or None)
    return expected_errors == {}


# ----------------------------------------------------------------- core kinds


def test_every_core_kind_compiles_and_accepts_its_records() -> None:
    assert len(KINDS) == 20
    for name, record in CORPUS:
        predicate = KINDS[name].fast_check
        assert predicate is not None, name
        assert predicate(record), (name, record)
        assert marshmallow_accepts(KINDS[name].schema, record)


# Wrong JSON types and the shapes a Go sender produces (null, {} for an empty struct).
REPLACEMENTS: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    7,
    -1,
    2**70,
    1.5,
    80.0,
    "",
    "x",
    "80",
    {},
    [],
    [None],
    ["a"],
    [{}],
    {"k": 1},
    {"k": "v"},
)


@pytest.mark.parametrize("kind_name", sorted(KINDS))
def test_every_path_of_every_sample_mutated(kind_name: str) -> None:
    kind = KINDS[kind_name]
    record = kind.extract(sample_object(kind_name))
    verdicts = []
    for path in paths(record):
        if path:
            verdicts.append(assert_same_verdict(kind, mutated(record, path, None, delete=True)))
        for replacement in REPLACEMENTS:
            verdicts.append(assert_same_verdict(kind, mutated(record, path, replacement)))
    # Not a vacuous comparison: both verdicts occur for every kind.
    assert verdicts.count(True) > 10
    assert verdicts.count(False) > 10


@pytest.mark.parametrize(
    ("path", "value", "accepted"),
    [
        (("containers", 0, "ports", 0, "container_port"), 8080, True),
        (("containers", 0, "ports", 0, "container_port"), None, True),
        (("containers", 0, "ports", 0, "container_port"), "8080", False),
        (("containers", 0, "ports", 0, "container_port"), 8080.0, False),
        (("containers", 0, "ports", 0, "container_port"), True, False),
        (("containers", 0, "resources"), {}, True),
        (("containers", 0, "resources", "cpu_limit"), 2, False),
        (("containers", 0, "ready"), 1, False),
        (("containers", 0, "env_var_names", 0), None, False),
        (("containers", 0, "an_unknown_field"), {"anything": [1, None]}, True),
        (("labels", "app"), 1, False),
        (("uid",), "", False),
        (("uid",), None, False),
        (("name",), 3, False),
        (("namespace",), None, True),
        (("conditions",), None, True),
        (("conditions", 0), "Ready", False),
        (("volumes",), {}, False),
    ],
)
def test_pod_verdicts(path: Path, value: Any, accepted: bool) -> None:
    pod = KINDS["Pod"]
    record = pod.extract(sample_object("Pod"))
    assert "containers" in record and record["containers"][0].get("ports")
    assert assert_same_verdict(pod, mutated(record, path, value)) is accepted


def test_dropped_uid_or_name_is_rejected_with_marshmallows_message() -> None:
    pod = KINDS["Pod"]
    record = pod.extract(sample_object("Pod"))
    for key in ("uid", "name"):
        broken = mutated(record, (key,), None, delete=True)
        assert pod.validate(broken) == {key: ["Missing data for required field."]}


def test_service_target_port_goes_by_its_data_key() -> None:
    service = KINDS["Service"]
    record = service.extract(sample_object("Service"))
    port = {"name": "http", "port": 80}
    for data in (
        {"targetPort": "http"},
        {"targetPort": 8080},
        {"targetPort": True},
        {"targetPort": 1.5},
        {"target_port": True},  # not the data key: an unknown field, kept as is
    ):
        assert_same_verdict(service, {**record, "ports": [{**port, **data}]})
    assert service.validate({**record, "ports": [{**port, "targetPort": True}]}) is not None
    assert service.validate({**record, "ports": [{**port, "target_port": True}]}) is None


def test_records_that_are_not_objects_are_rejected() -> None:
    for record in (None, [], "pod", 3, [{"uid": "u", "name": "n"}]):
        assert assert_same_verdict(KINDS["Pod"], record) is False


def _field_names(schema: marshmallow.Schema) -> set[str]:
    names = set()
    for name, field in schema.load_fields.items():
        names.add(field.data_key or name)
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            names |= _field_names(inner.schema)
    return names


#: Keys an added field may take: every known field name (a known field in the
#: wrong place or of the wrong type) and a few unknown ones.
FIELD_NAMES = sorted(set().union(*(_field_names(kind.schema()) for kind in KINDS.values())))


@st.composite
def mutated_records(draw: st.DrawFn) -> tuple[str, Any]:
    name, record = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not isinstance(record, dict):
            break
        path = draw(st.sampled_from(list(paths(record))))
        operation = draw(st.sampled_from(["set", "delete", "add"]))
        if operation == "delete" and path:
            record = mutated(record, path, None, delete=True)
        elif operation == "add":
            parent = copy.deepcopy(record)
            target: Any = parent
            for step in path:
                target = target[step]
            if isinstance(target, dict):
                key = draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=4))
                target[key] = draw(json_values)
            record = parent
        else:
            record = mutated(record, path, draw(json_values))
    return name, record


@settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_records())
def test_random_mutations_of_real_records(case: tuple[str, Any]) -> None:
    name, record = case
    assert_same_verdict(KINDS[name], record)


# ----------------------------------------------------------------- marshmallow features


class Inner(marshmallow.Schema):
    class Meta:
        unknown = marshmallow.RAISE

    size = fields.Integer(strict=True, validate=validate.Range(min=0, max=10))
    label = fields.String(validate=validate.OneOf(["a", "b"]))


class Features(marshmallow.Schema):
    """A schema using every option the compiler mirrors (RAISE by default)."""

    ident = fields.String(required=True, data_key="id", validate=validate.Length(min=2, max=4))
    loose_int = fields.Integer()
    ratio = fields.Float(allow_none=True)
    flag = fields.Boolean()
    when = fields.DateTime()
    anything = fields.Raw()
    free = fields.Dict()
    scores = fields.Dict(keys=fields.String(), values=fields.Integer(strict=True))
    tags = fields.List(fields.String(validate=validate.Length(equal=1)))
    one = fields.Nested(Inner)
    many = fields.Nested(Inner, many=True, allow_none=True)
    lenient = fields.Nested(Inner, unknown=marshmallow.EXCLUDE)
    listed = fields.List(fields.Nested(Inner, allow_none=True))
    raws = fields.List(fields.Raw())  # a null item is refused, though Raw takes anything else
    defaulted = fields.String(load_default="x")
    not_loaded = fields.String(dump_only=True)


feature_values = json_values | st.sampled_from(
    [
        "2024-03-04T09:15:27Z",
        "2024-13-04",
        "12",
        "1.5",
        "nan",
        "true",
        "yes",
        1,
        0,
        {"size": 3, "label": "a"},
        {"size": 11},
        {"size": 3, "extra": 1},
        [{"size": 1}, {"label": "c"}],
        [None, {"size": 2}],
        [None],
        [1, None, "x"],
        {"k": 1},
        {1: 1},  # a Python caller's dict: keys need not be strings
        {None: "a"},
        ["a", "b"],
        ["ab"],
    ]
)


@settings(max_examples=800, deadline=None, database=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "ident",
                "loose_int",
                "ratio",
                "flag",
                "when",
                "anything",
                "free",
                "scores",
                "tags",
                "one",
                "many",
                "lenient",
                "listed",
                "raws",
                "defaulted",
                "not_loaded",
            ]
        ),
        feature_values,
        max_size=5,
    )
    | json_values
)
def test_mirrored_marshmallow_features(data: Any) -> None:
    predicate = fastcheck.FastCheck().compile_schema(Features())
    assert predicate is not None
    assert predicate(data) == marshmallow_accepts(Features, data), data
    if isinstance(data, dict):
        # Another Mapping takes the general path (data.get per declared field).
        proxy = MappingProxyType(data)
        assert predicate(proxy) == marshmallow_accepts(Features, proxy), data


def test_mirrored_features_spot_checks() -> None:
    predicate = fastcheck.FastCheck().compile_schema(Features())
    assert predicate is not None
    assert predicate({"id": "abc"})
    assert not predicate({"ident": "abc"})  # the data key is required, not the attribute
    assert not predicate({"id": "abc", "surprise": 1})  # RAISE
    assert not predicate({"id": "abc", "not_loaded": "x"})  # dump_only is unknown on load
    assert predicate({"id": "abc", "lenient": {"size": 1, "surprise": 1}})  # EXCLUDE
    assert not predicate({"id": "abc", "one": {"size": 1, "surprise": 1}})
    assert predicate({"id": "abc", "loose_int": "12"})  # not strict: int("12")
    assert not predicate({"id": "abc", "scores": {"a": 1.0}})
    assert not predicate({"id": "abc", "scores": {1: 1}})
    assert not predicate(MappingProxyType({"loose_int": 1}))
    assert predicate(MappingProxyType({"id": "abc"}))
    assert not predicate(MappingProxyType({"id": "abc", "surprise": 1}))
    assert not predicate({"id": "abc", "ratio": "nan"})
    assert not predicate({"id": "abc", "flag": "maybe"})
    assert predicate({"id": "abc", "raws": [1, "x", {}]})
    assert not predicate({"id": "abc", "raws": [1, None]})
    assert predicate({"id": "abc", "listed": [None, {"size": 1}]})


# ----------------------------------------------------------------- fallback to marshmallow


class NeedsOwner(marshmallow.Schema):
    class Meta:
        unknown = marshmallow.INCLUDE

    uid = fields.String(required=True)
    name = fields.String(required=True)
    owner = fields.String()

    @marshmallow.validates_schema
    def owner_differs_from_name(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("owner") == data.get("name"):
            raise marshmallow.ValidationError("must differ from name", "owner")


def _kind_with(schema: type[marshmallow.Schema]) -> ResourceKind:
    return ResourceKind(
        kind="Widget",
        group="example.com",
        version="v1",
        plural="widgets",
        namespaced=False,
        snapshot_key="widgets",
        extract=dict,
        schema=schema,
        display=DisplayHints(category="Config"),
    )


def test_uncompilable_schema_falls_back_and_still_rejects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert fastcheck.FastCheck().predicate_for(NeedsOwner) is None
    with caplog.at_level(logging.WARNING, logger="obsyk_plugins.fastcheck"):
        kind = fastcheck.FastCheck().accelerate(_kind_with(NeedsOwner))
    assert kind.fast_check is None
    assert f"{__name__}.NeedsOwner" in caplog.text, "the warning names the schema"
    assert "validates_schema" in caplog.text or "load hooks" in caplog.text, caplog.text
    assert kind.validate({"uid": "u", "name": "a", "owner": "b"}) is None
    assert kind.validate({"uid": "u", "name": "a", "owner": "a"}) == {
        "owner": ["must differ from name"]
    }
    assert kind.validate({"uid": "u", "name": "a", "owner": 3}) == {
        "owner": ["Not a valid string."]
    }


class ShoutingString(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text != text.upper():
            raise marshmallow.ValidationError("Must be upper case.")
        return text


class WithLambdaValidator(marshmallow.Schema):
    name = fields.String(validate=lambda value: value != "root")


class WithPreLoad(marshmallow.Schema):
    name = fields.String()

    @marshmallow.pre_load
    def strip(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return data


class WithFieldPreLoad(marshmallow.Schema):
    name = fields.String(pre_load=[str.strip])


class Tree(marshmallow.Schema):
    name = fields.String()
    children = fields.List(fields.Nested(lambda: Tree()))


class WithSubclassedField(marshmallow.Schema):
    name = ShoutingString()


class WithCallableDefault(marshmallow.Schema):
    name = fields.String(load_default=lambda: "x")


@pytest.mark.parametrize(
    "schema",
    [
        WithLambdaValidator,
        WithPreLoad,
        WithFieldPreLoad,
        Tree,
        WithSubclassedField,
        WithCallableDefault,
    ],
)
def test_what_the_compiler_does_not_understand_is_left_to_marshmallow(
    schema: type[marshmallow.Schema],
) -> None:
    assert fastcheck.FastCheck().compile_schema(schema()) is None


def test_subclassed_field_is_not_mistaken_for_its_parent() -> None:
    kind = fastcheck.FastCheck().accelerate(_kind_with(WithSubclassedField))
    assert kind.fast_check is None
    assert kind.validate({"name": "LOUD"}) is None
    assert kind.validate({"name": "quiet"}) == {"name": ["Must be upper case."]}


class WithPostLoad(marshmallow.Schema):
    name = fields.String(required=True)

    @marshmallow.post_load
    def refuse(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        raise marshmallow.ValidationError("post_load ran")


def test_post_load_hooks_do_not_block_compilation_as_validate_never_runs_them() -> None:
    predicate = fastcheck.FastCheck().compile_schema(WithPostLoad())
    assert predicate is not None
    assert predicate({"name": "a"}) is marshmallow_accepts(WithPostLoad, {"name": "a"}) is True
    assert predicate({}) is marshmallow_accepts(WithPostLoad, {}) is False


# ----------------------------------------------------------------- plugin field types


class Port(fields.Field[int]):
    """A plugin's own field type: a TCP port number."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if type(value) is not int or not 0 < value < 65536:
            raise marshmallow.ValidationError("Not a valid port.")
        return value


class WithPort(marshmallow.Schema):
    port = Port(required=True)


def test_a_plugin_registers_a_checker_for_its_own_field_type() -> None:
    checks = fastcheck.FastCheck()
    assert checks.compile_schema(WithPort()) is None

    def port_value(value: Any) -> Any:
        return value if type(value) is int and 0 < value < 65536 else fastcheck.INVALID

    checks.register_field_checker(Port, lambda field, compiler: port_value)
    assert fastcheck.FastCheck().compile_schema(WithPort()) is None, "no state shared"
    predicate = checks.compile_schema(WithPort())
    assert predicate is not None
    for value in (80, 0, 65536, "80", True, None):
        assert predicate({"port": value}) == marshmallow_accepts(WithPort, {"port": value})
    assert predicate({"port": 443})
    assert not predicate({"port": 0})
