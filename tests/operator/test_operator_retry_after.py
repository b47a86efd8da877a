"""``Retry-After`` in both forms RFC 9110 allows: delta-seconds and an HTTP date."""

from __future__ import annotations

import pytest

from obsyk_operator.tokens import retry_after_seconds

#: 2015-10-21T07:27:50Z, ten seconds before the date in the examples.
NOW = 1445412470.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 10.0),  # IMF-fixdate
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 10.0),  # obsolete RFC 850 form
        ("Wed Oct 21 07:28:00 2015", 10.0),  # obsolete asctime form, no zone: GMT
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past: retry now
        ("-5", 0.0),
    ],
)
def test_both_forms_give_seconds_from_now(header: str, seconds: float) -> None:
    assert retry_after_seconds(header, now=lambda: NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "soon", "Wed, 32 Oct 2015 07:28:00 GMT"])
def test_anything_else_is_ignored(header: str | None) -> None:
    assert retry_after_seconds(header, now=lambda: NOW) is None
