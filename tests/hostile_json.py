"""Hypothesis strategies for JSON a hostile or broken client may send.

Beside ordinary values: NUL bytes, integers at and beyond the ranges the
platform stores (:mod:`obsyk_core.limits`), and nesting beyond what the
canonical hash serializes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from obsyk_core.limits import MAX_CHUNK, MAX_INTEGER, MAX_NESTING


def nested(depth: int) -> Any:
    """A value ``depth`` containers deep, alternating lists and objects."""
    value: Any = "leaf"
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


#: Any JSON value orjson could hand the platform, the hostile ones included.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([MAX_CHUNK, MAX_CHUNK + 1, MAX_INTEGER, MAX_INTEGER + 1, -MAX_INTEGER - 2])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
    | st.sampled_from(["\x00", "a\x00b", "²", "9" * 30])
    | st.sampled_from([MAX_NESTING - 1, MAX_NESTING + 1, 300]).map(nested),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)
