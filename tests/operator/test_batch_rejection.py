"""Which entries of a refused batch the platform's answer names."""

from __future__ import annotations

import json

from fake_platform import invalid_body

from obsyk_operator.batch_rejection import refused_entries


def test_entries_named_by_path_are_refused_with_their_problems() -> None:
    answer = invalid_body(
        {
            "events.3.object.uid": ["Differs from the event's uid."],
            "events.0.kind": ["No installed plugin declares this kind."],
            "events.3.name": ["Not a valid string."],
        }
    )
    assert refused_entries(json.dumps(answer), batch_size=5) == {
        0: ["kind: No installed plugin declares this kind."],
        3: ["object.uid: Differs from the event's uid.", "name: Not a valid string."],
    }


def test_an_answer_naming_no_entry_means_the_batch_form_was_refused() -> None:
    upstream = invalid_body({"type": ["Missing data for required field."]})
    assert refused_entries(json.dumps(upstream), batch_size=5) == {}
    assert refused_entries(json.dumps({"error": "bad request"}), batch_size=5) == {}
    assert refused_entries("<html>Bad Request</html>", batch_size=5) == {}
    # "events" itself (not a list) and positions the batch does not have name no entry.
    not_entries = invalid_body({"events": ["Not a valid list."], "events.9.uid": ["Missing."]})
    assert refused_entries(json.dumps(not_entries), batch_size=5) == {}
