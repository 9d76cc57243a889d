"""Render docs/reliability.md from what the reliability tests recorded.

``make reliability`` runs the reliability suites with a JUnit report, then this module turns
``test-output/reliability/*.json`` (one record per scenario: name, fault, expected, observed,
figures) and the JUnit counts per test file into the document. Nothing in the document is
written by hand: rerun the command to refresh it.

A scenario whose observation differs from its expectation fails: every record that carries
the checked form (``expect`` and ``got``, see :func:`tests.reliability.record`) is compared key
by key, a mismatch is shown in the Verdict column and makes the command exit 1, like a failed
test. A record without the checked form is judged by its test (its JUnit outcome).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORDS = Path("test-output/reliability")
JUNIT = RECORDS / "junit.xml"
OUTPUT = Path("docs/reliability.md")

SUITES = {
    "test_faults": "Upstream faults on both surfaces (item 2)",
    "test_faults_load": "1,000-class faulted load with leak measurement (item 2)",
    "test_client_faults": "Client faults: disconnects, slow readers, dropped connections (item 3)",
    "test_durability": "kill -9 during 100 streams, SQLite and PostgreSQL (item 4)",
    "test_durability_outage": "PostgreSQL / Redis outages and recovery (item 4)",
    "test_store_outage": "Store outage through the service (item 4)",
    "test_shutdown": "Graceful shutdown within and past the grace period (item 5)",
    "test_ssrf_policy": "SSRF policy: address classification, allowlist (item 6)",
    "test_ssrf_service": "SSRF battery of tricky URLs through the service (item 6)",
    "test_ssrf_rebinding": "DNS rebinding (item 6)",
    "test_keys": "Auth bypass attempts on every route (item 6)",
    "test_secret_leaks": "Leaked-secret search over responses, rows, exports, logs (6, 13.3)",
    "test_fuzz_api": "Schemathesis against /openapi.json (item 1)",
    "test_fuzz_properties": "Hypothesis properties of the parsers (item 1)",
    "test_sse": "SSE decoder properties (item 1)",
    "test_bodies": "Body parser properties (item 1)",
    "test_web_answer": "Answer reader and delta patcher properties (item 1)",
    "test_admission_hardening": "Logins rate-limited, request size caps, keys stay required "
    "(issue 13 items 5-7)",
    "test_access_log_fields": "Access-log field escaping and query-value redaction "
    "(issue 13 items 8, 12)",
    "test_answer_limits": "A 300 MiB answer offered: cut at the cap, RSS bounded (issue 13.4)",
    "test_refused_inputs": "Credentials a header cannot carry, empty reverse_proxy (13.10-11)",
    "test_report_reliability": "This report fails a scenario observed unlike expected (13.14)",
}


def _junit_counts(path: Path) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    if not path.exists():
        return counts
    for case in ET.parse(path).getroot().iter("testcase"):
        module = (case.get("classname") or "").split(".")[-1]
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        counts.setdefault(module, Counter())[outcome] += 1
    return counts


def _cell(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text.replace("|", "\\|").replace("\n", " ")


def _figures(figures: dict[str, Any]) -> str:
    return "; ".join(f"{key}: {_cell(value)}" for key, value in figures.items())


def _total(value: Any) -> int:
    """A figure as a number: counts are summed, nested counts (``{"fds": 0, ...}``) too."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, dict):
        return sum(_total(v) for v in value.values())
    return 0


def _matches(expected: Any, observed: Any) -> bool:
    if isinstance(expected, list):
        return any(_matches(option, observed) for option in expected)
    return bool(expected == observed)


def mismatches(record: dict[str, Any]) -> list[str]:
    """What differs between a record's ``expect`` and ``got`` (empty: the scenario passed)."""
    expect = record.get("expect")
    if not isinstance(expect, dict):
        return []
    got = record.get("got")
    got = got if isinstance(got, dict) else {}
    return [
        f"{key}: expected {_cell(value)}, observed {_cell(got.get(key, '(missing)'))}"
        for key, value in expect.items()
        if not _matches(value, got.get(key))
    ]


def _verdict(record: dict[str, Any]) -> str:
    wrong = mismatches(record)
    if wrong:
        return "**FAILED**: " + "; ".join(wrong)
    return "passed" if "expect" in record else "passed (its test)"


def render(records: list[dict[str, Any]], counts: dict[str, Counter[str]]) -> str:
    def figure(name: str) -> int:
        return sum(_total(r.get("figures", {}).get(name, 0)) for r in records)

    total_lost, leaks = figure("data_lost"), figure("leaks")
    requests = figure("requests") + figure("requests_under_fault")
    lines = [
        "# Reliability and security",
        "",
        "Generated by `make reliability` (runs the suites below, then "
        "`python -m tests.report_reliability`) on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Every row is a test in the suite; "
        "the short versions run in CI on every change, `make soak` runs the long ones.",
        "",
        f"**Totals:** {len(records)} scenarios recorded, "
        f"{sum(1 for r in records if mismatches(r))} failed (observed differs from expected), "
        f"{requests} requests under fault, {leaks} leaks found, {total_lost} answers lost.",
        "",
        "## Suites",
        "",
        "| Suite | What it covers | Passed | Failed | Skipped |",
        "| --- | --- | --- | --- | --- |",
    ]
    for module, description in SUITES.items():
        c = counts.get(module, Counter())
        lines.append(
            f"| `{module}` | {description} | {c['passed']} | {c['failed']} | {c['skipped']} |"
        )
    lines += [
        "",
        "## Scenarios",
        "",
        "| Scenario | Fault or input | Expected | Observed | Verdict | Figures |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for record in sorted(records, key=lambda r: str(r.get("name"))):
        lines.append(
            f"| `{_cell(record.get('name', ''))}` | {_cell(record.get('fault', '—'))} | "
            f"{_cell(record.get('expected', ''))} | {_cell(record.get('observed', ''))} | "
            f"{_verdict(record)} | {_figures(record.get('figures', {}))} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    records = []
    for path in sorted(RECORDS.glob("*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as error:
            print(f"skipping {path}: {error}", file=sys.stderr)
    counts = _junit_counts(JUNIT)
    OUTPUT.write_text(render(records, counts), encoding="utf-8")
    failed = sum(c["failed"] for c in counts.values())
    wrong = [r for r in records if mismatches(r)]
    print(
        f"{OUTPUT}: {len(records)} scenarios, {len(wrong)} failed scenarios, {failed} failed tests"
    )
    for record in wrong:
        print(f"FAILED {record.get('name')}: {'; '.join(mismatches(record))}", file=sys.stderr)
    return 1 if failed or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
