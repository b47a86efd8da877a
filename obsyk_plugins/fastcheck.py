"""An optional accelerator: compile a marshmallow schema into a fast yes/no validity check.

``Schema.validate`` builds error stores, output dicts and a closure per field,
which costs ~330 µs on a realistic Pod record: 10+ s for a 100k-resource
snapshot.  Nearly every record the platform receives is valid, so
:meth:`FastCheck.predicate_for` compiles a schema class once into a plain
function ``is_valid(record) -> bool`` that only answers whether marshmallow
would accept the record.  A kind plugin opts in with
:meth:`FastCheck.accelerate`, which sets the kind's ``fast_check``;
:meth:`obsyk_core.kinds.ResourceKind.validate` trusts a ``True`` and asks
marshmallow itself otherwise, so error messages (and the final verdict on
anything the predicate is unsure of) stay marshmallow's.  ``obsyk_core``
knows nothing of this module: without it, every record goes to marshmallow.
bench/ingest_tricks.py measures what it gains end to end (bench/RESULTS.md).

Soundness is the rule: the predicate must never say ``True`` for a record
marshmallow rejects.  ``False`` is always safe, so:

- a schema using anything the compiler does not know (a field type missing
  from the registry, a ``validate=`` callable that is not one of marshmallow's
  pure built-in validators, ``pre_load`` or ``validates``/``validates_schema``
  hooks, field-level ``pre_load``/``post_load``, ``partial``, a recursive
  schema, an overridden loading method) compiles to ``None`` and marshmallow
  is always used;
- for values of JSON shape (what ``orjson.loads`` returns) the predicate is
  exact; for other containers (sets, generators, custom sequences) it answers
  ``False`` and lets marshmallow decide.

Field types are compiled through a registry, one :class:`FastCheck` per user
(no module state), keyed by the *exact* field class (a subclass may change
behaviour, so it is never assumed to act like its parent).  A plugin with its
own field type registers a converter for it with
:meth:`FastCheck.register_field_checker`.

The semantics mirrored are marshmallow 4's, private parts included
(``Schema._deserialize``, ``Schema._hooks``, ``Field._deserialize``...), so the
project pins ``marshmallow>=4,<5``.  tests/plugins/test_fastcheck.py checks
the predicate against marshmallow itself on thousands of records; ``nox -s
fastcheck`` runs those tests against the newest marshmallow 4.x.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, NamedTuple

import marshmallow
from marshmallow import EXCLUDE, INCLUDE, RAISE, ValidationError, fields, missing
from marshmallow import validate as validators

from obsyk_core.kinds import ResourceKind

__all__ = [
    "INVALID",
    "Checker",
    "Converter",
    "FastCheck",
    "FieldCheck",
    "FieldCompiler",
    "Predicate",
]

log = logging.getLogger(__name__)


class _Invalid:
    """The type of :data:`INVALID`."""

    def __repr__(self) -> str:
        return "INVALID"


#: Returned by a :data:`Converter` for a value marshmallow would reject.
INVALID: Final = _Invalid()

#: A whole-record check: ``True`` only when marshmallow would accept the record.
Predicate = Callable[[Any], bool]
#: A check of one field's raw value, which may be ``marshmallow.missing`` (key
#: absent) or ``None``; applies ``required``, ``allow_none`` and validators.
Checker = Callable[[Any], bool]
#: Given a present, non-``None`` value, return what the field's ``_deserialize``
#: would return, or :data:`INVALID`.  Containers may return a stand-in (see
#: ``exact_output`` of :meth:`FastCheck.register_field_checker`).
Converter = Callable[[Any], Any]
#: Build a field's :data:`Converter`, or return ``None`` when this field
#: instance cannot be compiled (then the whole schema falls back to marshmallow).
FieldCompiler = Callable[[fields.Field[Any], "SchemaCompiler"], Converter | None]


class FieldCheck(NamedTuple):
    """One compiled field: what the record-walking loops need, unpacked there for speed."""

    #: Exact value types valid with no further look (``NoneType`` when None is allowed).
    always_valid: frozenset[type]
    #: The full check of any raw value, ``missing`` and ``None`` included.
    check: Checker
    #: The check of a value known to be present and not ``None`` (``check`` less its
    #: required/allow_none part): what the loops call, a Python call fewer per value.
    present: Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class _FieldRule:
    #: Returns a Converter, or for the built-in containers a check of a present value.
    compile: Callable[[fields.Field[Any], SchemaCompiler], Callable[[Any], Any] | None]
    #: The converter returns marshmallow's deserialised value exactly, so the
    #: field's validators can run on it; a validator on any other field makes
    #: the schema uncompilable.
    exact_output: bool
    always_valid: frozenset[type]
    #: ``compile`` returns a bool check of a present, non-None value (containers).
    returns_bool: bool = False


FieldRules = Mapping[type[fields.Field[Any]], _FieldRule]


class FastCheck:
    """Field rules and the predicates compiled with them.

    Starts with marshmallow's own field types; :meth:`register_field_checker`
    adds a plugin's.  Predicates are compiled once per schema class and kept.
    """

    def __init__(self) -> None:
        self._rules: dict[type[fields.Field[Any]], _FieldRule] = dict(_BUILT_IN_RULES)
        self._predicates: dict[type[marshmallow.Schema], Predicate | None] = {}

    def register_field_checker(
        self,
        field_type: type[fields.Field[Any]],
        compile_field: FieldCompiler,
        *,
        exact_output: bool = True,
        always_valid: Iterable[type] = (),
    ) -> None:
        """Teach the compiler a field type (matched exactly, never its subclasses).

        ``compile_field(field, compiler)`` returns a :data:`Converter` for one
        field instance (or ``None`` if that instance's options are not
        understood).  Pass ``exact_output=False`` when the converter does not
        return marshmallow's deserialised value; such a field with validators
        is then left to marshmallow.  ``always_valid`` names exact value types
        the field accepts whatever they hold (``str`` for a string field),
        which spares a call per value.  Registering drops every compiled
        predicate, so the new rule applies from the next compilation on.
        """
        self._rules[field_type] = _FieldRule(compile_field, exact_output, frozenset(always_valid))
        self._predicates.clear()

    def predicate_for(self, schema_class: type[marshmallow.Schema]) -> Predicate | None:
        """The compiled check for ``schema_class()`` (kept), or ``None`` if not understood."""
        try:
            return self._predicates[schema_class]
        except KeyError:
            predicate = self._predicates[schema_class] = self.compile_schema(schema_class())
            return predicate

    def compile_schema(self, schema: marshmallow.Schema) -> Predicate | None:
        """Compile ``schema.validate(data) == {}`` into a predicate, or ``None``."""
        try:
            return SchemaCompiler(self._rules).schema(schema)
        except _Uncompilable:
            return None

    def accelerate(self, kind: ResourceKind) -> ResourceKind:
        """``kind`` with its schema's predicate as ``fast_check``.

        A schema that cannot be compiled is named in a warning (at start-up,
        when the plugin registers its kinds) and left to marshmallow alone.
        """
        try:
            predicate = SchemaCompiler(self._rules).schema(kind.schema())
        except _Uncompilable as reason:
            log.warning(
                "fastcheck cannot compile %s.%s (%s): %s records are validated "
                "by marshmallow alone",
                kind.schema.__module__,
                kind.schema.__qualname__,
                reason,
                kind.kind,
            )
            return kind
        self._predicates[kind.schema] = predicate
        return dataclasses.replace(kind, fast_check=predicate)


class _Uncompilable(Exception):
    """Raised inside the compiler to abandon a schema; never escapes this module."""


# Loading methods whose behaviour the compiler mirrors: a schema overriding one is not compiled.
_MIRRORED_SCHEMA_METHODS = (
    "validate",
    "load",
    "_do_load",
    "_deserialize",
    "_call_and_store",
    "_invoke_load_processors",
    "_invoke_field_validators",
    "_invoke_schema_validators",
)
# post_load hooks are absent: ``Schema.validate`` never runs them (``postprocess=False``).
_LOAD_HOOKS = ("pre_load", "validates", "validates_schema")


class SchemaCompiler:
    """Walks one schema (and its nested schemas) into closures; one instance per compilation."""

    def __init__(self, rules: FieldRules) -> None:
        self._rules = rules
        # Schema classes being compiled, outermost first: a repeat means recursion.
        self._stack: list[type[marshmallow.Schema]] = []

    def schema(self, schema: marshmallow.Schema) -> Predicate:
        """The predicate for ``schema.validate`` (many or not); raises ``_Uncompilable``."""
        check = self.mapping_check(schema, unknown=None)
        if schema.many:
            return _many(check)
        return check

    def mapping_check(
        self, schema: marshmallow.Schema, *, unknown: str | None
    ) -> Callable[[Any], bool]:
        """Check one mapping against ``schema`` (as ``schema.load(..., unknown=unknown)``)."""
        self._refuse_unmirrored(schema)
        if type(schema) in self._stack:
            raise _Uncompilable(f"{type(schema).__name__} is recursive")
        self._stack.append(type(schema))
        try:
            by_key: dict[str, FieldCheck] = {}
            required: list[str] = []
            for attr_name, field in schema.load_fields.items():
                key = field.data_key if field.data_key is not None else attr_name
                if "." in (field.attribute or attr_name):
                    # set_value() would nest the output and may raise on a clash.
                    raise _Uncompilable(f"dotted attribute {attr_name!r}")
                by_key[key] = self.field(field)
                if field.required:
                    required.append(key)
        finally:
            self._stack.pop()
        effective = schema.unknown if unknown is None else unknown
        if effective not in (INCLUDE, EXCLUDE, RAISE):
            raise _Uncompilable(f"unknown={effective!r}")
        return _mapping_check(by_key, tuple(required), raise_unknown=effective == RAISE)

    def field(self, field: fields.Field[Any]) -> FieldCheck:
        """One field compiled, honouring required, allow_none and validators."""
        rule = self._rules.get(type(field))
        if rule is None:
            raise _Uncompilable(f"field type {type(field).__name__}")
        if getattr(field, "pre_load", None) or getattr(field, "post_load", None):
            raise _Uncompilable("field-level pre_load/post_load")
        if callable(field.load_default):
            # Called on every absent value; it might raise a ValidationError.
            raise _Uncompilable("callable load_default")
        compiled = rule.compile(field, self)
        if compiled is None:
            raise _Uncompilable(f"options of {type(field).__name__}")
        checks = tuple(_validator_check(v) for v in field.validators)
        if checks and not rule.exact_output:
            raise _Uncompilable(f"validators on {type(field).__name__}")
        if rule.returns_bool:
            present: Callable[[Any], bool] = compiled
        else:
            present = _present_check(compiled, checks)
        always_valid = frozenset() if checks else rule.always_valid
        if field.allow_none:
            always_valid |= {type(None)}
        return FieldCheck(
            always_valid,
            _field_checker(present, required=field.required, allow_none=field.allow_none),
            present,
        )

    def _refuse_unmirrored(self, schema: marshmallow.Schema) -> None:
        cls = type(schema)
        for name in _MIRRORED_SCHEMA_METHODS:
            if getattr(cls, name) is not getattr(marshmallow.Schema, name):
                raise _Uncompilable(f"{cls.__name__} overrides {name}")
        if any(hooks and tag in _LOAD_HOOKS for tag, hooks in schema._hooks.items()):
            raise _Uncompilable(f"{cls.__name__} has load hooks")
        if schema.partial not in (None, False):
            raise _Uncompilable(f"{cls.__name__} is partial")


# ------------------------------------------------------------ building blocks


def _field_checker(present: Callable[[Any], bool], *, required: bool, allow_none: bool) -> Checker:
    # Field.deserialize: missing -> required?; None -> allow_none?; else the value proper.
    def check(value: Any) -> bool:
        if value is None:
            return allow_none
        if value is missing:
            return not required
        return present(value)

    return check


def _present_check(
    convert: Converter, checks: tuple[Callable[[Any], bool], ...]
) -> Callable[[Any], bool]:
    """_deserialize, then every validator on its output."""
    if not checks:
        return lambda value: convert(value) is not INVALID

    def check_with_validators(value: Any) -> bool:
        output = convert(value)
        if output is INVALID:
            return False
        for validator_check in checks:  # noqa: SIM110 - a loop beats all(genexpr) here
            if not validator_check(output):
                return False
        return True

    return check_with_validators


def _mapping_check(
    by_key: dict[str, FieldCheck], required: tuple[str, ...], *, raise_unknown: bool
) -> Callable[[Any], bool]:
    known = frozenset(by_key)
    field_checks = tuple((key, compiled.check) for key, compiled in by_key.items())
    # Two flat dicts rather than one of tuples: no unpacking on the hot path.
    valid_types = {key: compiled.always_valid for key, compiled in by_key.items()}
    present_checks = {key: compiled.present for key, compiled in by_key.items()}

    def check(data: Any) -> bool:
        if type(data) is dict:
            # Walk the keys present (records are sparse) rather than every
            # declared field: for a plain dict, the same verdict as
            # Schema._deserialize's data.get() per declared field.
            for key in required:
                if key not in data:
                    return False
            for key, value in data.items():
                always_valid = valid_types.get(key)
                if always_valid is None:
                    if raise_unknown:
                        return False
                # None passes only as an always-valid type (allow_none), so the
                # present-value check never sees it.
                elif type(value) not in always_valid and (
                    value is None or not present_checks[key](value)
                ):
                    return False
            return True
        if not isinstance(data, Mapping):
            return False
        for key, field_check in field_checks:
            if not field_check(data.get(key, missing)):
                return False
        return not (raise_unknown and not known.issuperset(data))

    return check


def _all_valid(items: Collection[Any], compiled: FieldCheck) -> bool:
    # Labels, annotations and string lists are long and uniform: one C-level
    # pass over the item types settles them without a Python call per item.
    always_valid = compiled.always_valid
    if always_valid and always_valid.issuperset(map(type, items)):
        return True
    # A null item is judged by the full check (allow_none); without one, the
    # present-value check spares a Python call per item (nested records).
    if None in items:
        return all(map(compiled.check, items))
    return all(map(compiled.present, items))


def _many(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A schema loaded with ``many``: a list (or tuple) of mappings, each checked."""

    def check_many(value: Any) -> bool:
        # Other sequences and iterables: marshmallow decides (see module doc).
        if type(value) is not list and type(value) is not tuple:
            return False
        return all(check(item) for item in value)

    return check_many


# ------------------------------------------------------------ validators

# Marshmallow's own validators: pure functions of the deserialised value, so
# calling one gives marshmallow's verdict.  Length, by far the commonest, is
# inlined.  Anything else (a lambda, a plugin's callable) is not compiled.
_PURE_VALIDATORS: frozenset[type[Any]] = frozenset(
    {
        validators.Range,
        validators.OneOf,
        validators.NoneOf,
        validators.Equal,
        validators.Regexp,
        validators.ContainsOnly,
        validators.ContainsNoneOf,
        validators.URL,
        validators.Email,
    }
)


def _validator_check(validator: Any) -> Callable[[Any], bool]:
    if type(validator) is validators.Length:
        return _length_check(validator)
    if type(validator) not in _PURE_VALIDATORS:
        raise _Uncompilable(f"validator {validator!r}")

    def check(output: Any) -> bool:
        try:
            validator(output)
        except ValidationError:
            return False
        return True

    return check


def _length_check(length: validators.Length) -> Callable[[Any], bool]:
    equal, low, high = length.equal, length.min, length.max
    if equal is not None:
        return lambda output: len(output) == equal
    low_bound = low if low is not None else -1
    if high is None:
        return lambda output: len(output) >= low_bound
    return lambda output: low_bound <= len(output) <= high


# ------------------------------------------------------------ field converters


def _string(field: fields.Field[Any], compiler: SchemaCompiler) -> Converter:
    def convert(value: Any) -> Any:
        if type(value) is str:
            return value
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return INVALID
        return INVALID

    return convert


def _integer(field: fields.Field[Any], compiler: SchemaCompiler) -> Converter:
    assert isinstance(field, fields.Integer)
    strict = field.strict

    def convert(value: Any) -> Any:
        if type(value) is int:
            return value
        if strict and not isinstance(value, numbers.Integral):
            return INVALID
        if value is True or value is False:
            return INVALID
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            return INVALID

    return convert


def _float(field: fields.Field[Any], compiler: SchemaCompiler) -> Converter:
    assert isinstance(field, fields.Float)
    refuse_special = field.allow_nan is False

    def convert(value: Any) -> Any:
        if value is True or value is False:
            return INVALID
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            return INVALID
        if refuse_special and (math.isnan(number) or math.isinf(number)):
            return INVALID
        return number

    return convert


def _boolean(field: fields.Field[Any], compiler: SchemaCompiler) -> Converter:
    assert isinstance(field, fields.Boolean)
    truthy, falsy = field.truthy, field.falsy

    def convert(value: Any) -> Any:
        if not truthy:
            return bool(value)
        try:
            if value in truthy:
                return True
            if value in falsy:
                return False
        except TypeError:
            return INVALID
        return INVALID

    return convert


def _raw(field: fields.Field[Any], compiler: SchemaCompiler) -> Converter:
    return _identity


def _identity(value: Any) -> Any:
    return value


def _list(field: fields.Field[Any], compiler: SchemaCompiler) -> Callable[[Any], bool]:
    assert isinstance(field, fields.List)
    inner = compiler.field(field.inner)

    def check(value: Any) -> bool:
        if type(value) is not list and type(value) is not tuple:
            return False  # not a list, or a collection marshmallow must judge
        return _all_valid(value, inner)

    return check


def _mapping(field: fields.Field[Any], compiler: SchemaCompiler) -> Callable[[Any], bool]:
    assert isinstance(field, fields.Mapping)
    keys = compiler.field(field.key_field) if field.key_field is not None else None
    values = compiler.field(field.value_field) if field.value_field is not None else None

    def check(value: Any) -> bool:
        if not isinstance(value, Mapping):
            return False
        if keys is not None and not _all_valid(value.keys(), keys):
            return False
        return values is None or _all_valid(value.values(), values)

    return check


def _nested(field: fields.Field[Any], compiler: SchemaCompiler) -> Callable[[Any], bool]:
    assert isinstance(field, fields.Nested)
    try:
        schema = field.schema
    except Exception as error:  # an unresolvable class-registry name, a failing factory...
        raise _Uncompilable(f"nested schema of {field.name!r}: {error}") from error
    check = compiler.mapping_check(schema, unknown=field.unknown)
    return _many(check) if schema.many else check


def _delegate_to_field(field: fields.Field[Any], compiler: SchemaCompiler) -> Converter:
    """For marshmallow's pure scalar fields (dates, UUIDs...): call their own ``_deserialize``."""

    def convert(value: Any) -> Any:
        try:
            return field._deserialize(value, None, None)
        except ValidationError:
            return INVALID

    return convert


def _rule(compile_field: Any, *, always_valid: Iterable[type] = ()) -> _FieldRule:
    return _FieldRule(compile_field, exact_output=True, always_valid=frozenset(always_valid))


def _container(compile_container: Any) -> _FieldRule:
    return _FieldRule(
        compile_container, exact_output=False, always_valid=frozenset(), returns_bool=True
    )


_BUILT_IN_RULES: FieldRules = MappingProxyType(
    {
        fields.String: _rule(_string, always_valid=[str]),
        fields.Email: _rule(_string),
        fields.Url: _rule(_string),
        fields.Integer: _rule(_integer, always_valid=[int]),
        fields.Float: _rule(_float),
        fields.Boolean: _rule(_boolean),
        fields.Raw: _rule(_raw),
        fields.Field: _rule(_raw),
        # marshmallow's pure scalar fields: their own _deserialize is called.
        **{
            scalar: _rule(_delegate_to_field)
            for scalar in (
                fields.DateTime,
                fields.NaiveDateTime,
                fields.AwareDateTime,
                fields.Date,
                fields.Time,
                fields.TimeDelta,
                fields.UUID,
                fields.Decimal,
            )
        },
        fields.List: _container(_list),
        fields.Dict: _container(_mapping),
        fields.Nested: _container(_nested),
    }
)
