"""The reliability report fails a scenario whose observation differs from its expectation
(issue 13, item 14): the row says so, the totals count it, the command exits 1."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests import report_reliability
from tests.report_reliability import mismatches, render

V1_RESET = {
    "name": "upstream-fault-v1-reset-during-the-stream-stream",
    "fault": "upstream reset during the stream (/v1/chat/completions, stream)",
    "expected": "502 upstream_terminated",
    "observed": "200 upstream_terminated",
    "expect": {"status": 502, "code": "upstream_terminated", "stored": ["error", "partial"]},
    "got": {"status": 200, "code": "upstream_terminated", "stored": "partial"},
    "figures": {"requests": 1},
}


def test_a_differing_observation_is_a_failure() -> None:
    assert mismatches(V1_RESET) == ["status: expected 502, observed 200"]
    ok = {**V1_RESET, "expect": {**V1_RESET["expect"], "status": 200}}
    assert mismatches(ok) == []
    assert mismatches({**V1_RESET, "got": {"status": 502, "code": "upstream_terminated"}}) == [
        'stored: expected ["error", "partial"], observed (missing)'
    ]
    assert mismatches({"name": "free text only", "expected": "x", "observed": "y"}) == []


def test_the_report_shows_and_counts_the_failure() -> None:
    text = render([V1_RESET], {"test_faults": Counter(passed=1)})
    assert "1 scenarios recorded, 1 failed (observed differs from expected)" in text
    row = next(line for line in text.splitlines() if V1_RESET["name"] in line)
    assert "**FAILED**: status: expected 502, observed 200" in row


def test_the_command_exits_1_on_a_failed_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.json").write_text(json.dumps(V1_RESET))
    monkeypatch.setattr(report_reliability, "RECORDS", tmp_path)
    monkeypatch.setattr(report_reliability, "JUNIT", tmp_path / "junit.xml")
    monkeypatch.setattr(report_reliability, "OUTPUT", tmp_path / "reliability.md")
    assert report_reliability.main() == 1
    passing = {**V1_RESET, "got": {**V1_RESET["expect"], "stored": "partial"}}
    (tmp_path / "a.json").write_text(json.dumps(passing))
    assert report_reliability.main() == 0
    assert "| passed |" in (tmp_path / "reliability.md").read_text()
