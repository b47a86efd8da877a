"""docs/how-to/runbook.md stays true to the code it describes."""

from __future__ import annotations

from pathlib import Path

from reference_app.jobs.periodic import (
    OUTAGE_ENDED,
    OUTAGE_STARTED,
    RETRY_MAX_SECONDS,
    SchedulerHealth,
)

RUNBOOK = (Path(__file__).parents[2] / "docs" / "how-to" / "runbook.md").read_text()


def test_the_runbook_quotes_the_schedulers_outage_lines_as_logged() -> None:
    refused = "Error 111 connecting to redis:6379. Connection refused."
    assert OUTAGE_STARTED % (refused, RETRY_MAX_SECONDS) in RUNBOOK
    assert OUTAGE_ENDED % (37, ", restarted") in RUNBOOK


def test_the_runbook_names_every_state_of_the_health_file() -> None:
    for state in SchedulerHealth.STATES[1:]:  # "starting" never reaches the file
        assert f"`{state}`" in RUNBOOK, state
    for field in ("state", "since", "beat_at", "restarts", "pid"):
        assert f'"{field}"' in RUNBOOK, field
