"""Every upstream fault on both surfaces: the documented error, within its deadline, and the
turn stored with status ``error`` or ``partial`` (read back through the conversation API).

The faults and their outcomes are listed in :mod:`tests.faultplan`; the 1,000-request leak
run is tests/test_faults_load.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.faultplan import (
    MARGIN_S,
    SEED_FAULTS,
    SEED_TIMEOUT_MS,
    V1_FAULTS,
    V1_TIMEOUT_S,
    SeedFault,
    V1Fault,
    models_toml,
    refused_port,
    seed_error,
    v1_error,
)
from tests.reliability import record
from tests.report_reliability import mismatches
from tests.servers import ServiceThread


@pytest.fixture(scope="module")
def refused() -> int:
    return refused_port()


@pytest.fixture(scope="module")
def svc(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory, refused: int
) -> Iterator[ServiceThread]:
    home: Path = tmp_path_factory.mktemp("faults")
    (home / "models.toml").write_text(models_toml(emulator.url, refused))
    with ServiceThread(
        home=home,
        models_file=home / "models.toml",
        max_event_size=1024 * 1024,
        upstream_timeout=V1_TIMEOUT_S,
    ) as service:
        yield service


def stored_answer(svc: ServiceThread, title: str, seconds: float = 5.0) -> dict[str, Any]:
    """The last message of the conversation titled ``title`` (waits until it is stored)."""
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=svc.url, timeout=10) as http:
        while True:
            page = http.get("/v1/conversations", params={"limit": 50}).json()["data"]
            found = [c for c in page if c["title"] == title]
            if found:
                tree = http.get(f"/v1/conversations/{found[0]['id']}").json()
                answer: dict[str, Any] = tree["messages"][-1]
                assert tree["messages"][0]["content"] == title
                return answer
            assert time.monotonic() < deadline, f"no conversation titled {title!r} was stored"
            time.sleep(0.05)


def _id(fault: SeedFault | V1Fault) -> str:
    return fault.fault.replace(" ", "-")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", SEED_FAULTS, ids=_id)
def test_seed_route_under_upstream_fault(
    svc: ServiceThread, emulator: EmulatorThread, refused: int, fault: SeedFault, stream: bool
) -> None:
    prompt = f"fault {fault.target} {uuid.uuid4().hex[:8]}"
    fields = {
        "access_token": "tok",
        "prompt": prompt,
        "reverse_proxy": fault.url(emulator.url, refused),
        "stream": "true" if stream else "false",
    }
    if fault.timed:
        fields["timeout"] = str(SEED_TIMEOUT_MS)
    started = time.monotonic()
    response = httpx.post(f"{svc.url}/send_message", data=fields, timeout=60)
    elapsed = time.monotonic() - started
    error = seed_error(response)
    assert error is not None, (response.status_code, response.text[:300])
    answer = stored_answer(svc, prompt)
    expect: dict[str, Any] = {"documented_message": True, "stored": ["error", "partial"]}
    got: dict[str, Any] = {
        "documented_message": fault.matches(error["message"]),
        "stored": answer["status"],
    }
    if fault.timed:  # the turn is stored with the reason the client was given (item 13)
        expect["stored_error"] = "ChatGPT timed out waiting for response"
        got["stored_error"] = answer.get("error")
    record(
        f"upstream-fault-seed-{_id(fault)}-{'stream' if stream else 'whole'}",
        f"upstream {fault.fault} (/send_message, {'stream' if stream else 'whole answer'})",
        "documented error message within the deadline; turn stored as error or partial"
        + (", with the timeout message" if fault.timed else ""),
        f"{error['message'][:80]!r} after {elapsed:.2f} s; stored {answer['status']}"
        + (f" ({answer.get('error')!r})" if fault.timed else ""),
        expect=expect,
        got=got,
        requests=1,
        seconds=round(elapsed, 3),
        deadline_seconds=SEED_TIMEOUT_MS / 1000 if fault.timed else None,
        stored_status=answer["status"],
        data_lost=0,
    )
    assert fault.matches(error["message"]), error
    if fault.timed:
        assert elapsed >= SEED_TIMEOUT_MS / 1000
    assert elapsed < (SEED_TIMEOUT_MS / 1000 if fault.timed else 0) + MARGIN_S
    assert answer["role"] == "assistant"
    assert not mismatches({"expect": expect, "got": got})
    if fault.target == "F7a":
        assert answer["status"] == "partial"
        assert answer["content"] == "Cut off mid"
        assert error.get("text") == "Cut off mid"
    if fault.target.startswith("redirect"):
        hits = [r for r in emulator.requests if r.path.startswith("/fixtures/F1/")]
        assert hits == [], "the redirect was followed"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", V1_FAULTS, ids=_id)
def test_v1_route_under_upstream_fault(
    svc: ServiceThread, emulator: EmulatorThread, fault: V1Fault, stream: bool
) -> None:
    prompt = f"fault {fault.model} {uuid.uuid4().hex[:8]}"
    body = {"model": fault.model, "messages": [{"role": "user", "content": prompt}]}
    started = time.monotonic()
    response = httpx.post(
        f"{svc.url}/v1/chat/completions", json={**body, "stream": stream}, timeout=60
    )
    elapsed = time.monotonic() - started
    outcome = v1_error(response)
    assert outcome is not None, (response.status_code, response.text[:300])
    status, error = outcome
    answer = stored_answer(svc, prompt)
    # A fault after a stream began cannot change the status: 200 went out with the headers, so
    # the error is the stream's last event (see V1Fault.stream_status).
    expected_status = fault.expected_status(stream)
    expect: dict[str, Any] = {
        "status": expected_status,
        "code": fault.code,
        "stored": ["error", "partial"],
    }
    got: dict[str, Any] = {"status": status, "code": error["code"], "stored": answer["status"]}
    if fault.retry_after is not None:
        expect["retry_after"] = fault.retry_after
        got["retry_after"] = response.headers.get("retry-after")
    if fault.timed:  # the turn is stored with the reason the client was given (item 13)
        expect["stored_error"] = "ChatGPT timed out waiting for response"
        got["stored_error"] = answer.get("error")
    in_stream = " as the stream's error event" if expected_status == 200 else ""
    record(
        f"upstream-fault-v1-{_id(fault)}-{'stream' if stream else 'whole'}",
        f"upstream {fault.fault} (/v1/chat/completions, {'stream' if stream else 'whole'})",
        f"{expected_status} {fault.code}{in_stream}"
        + (f" with Retry-After {fault.retry_after}" if fault.retry_after else "")
        + "; turn stored as error or partial"
        + (" with the timeout message" if fault.timed else ""),
        f"{status} {error['code']} after {elapsed:.2f} s; stored {answer['status']}"
        + (f" ({answer.get('error')!r})" if fault.timed else ""),
        expect=expect,
        got=got,
        requests=1,
        seconds=round(elapsed, 3),
        deadline_seconds=V1_TIMEOUT_S if fault.timed else None,
        stored_status=answer["status"],
        data_lost=0,
    )
    assert not mismatches({"expect": expect, "got": got})
    if fault.timed:
        assert elapsed >= V1_TIMEOUT_S
    assert elapsed < (V1_TIMEOUT_S if fault.timed else 0) + MARGIN_S
    assert "Traceback" not in response.text
    assert answer["role"] == "assistant"
    if fault.model.startswith("fx-redirect"):
        assert not any(r.path.startswith("/fixtures/F1/") for r in emulator.requests)


def test_v1_deadline_setting_off_means_no_server_deadline(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    """``upstream_timeout`` unset: a stalled upstream is cut by the client leaving instead."""
    (tmp_path / "models.toml").write_text(models_toml(emulator.url, refused_port()))
    with ServiceThread(
        home=tmp_path, models_file=tmp_path / "models.toml", upstream_timeout=None
    ) as service:
        emulator.clear()
        body = {"model": "of-stall", "messages": [{"role": "user", "content": "no deadline"}]}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{service.url}/v1/chat/completions", json=body, timeout=2.5)
        assert emulator.wait_until_closed(0, timeout=1.0)
        assert emulator.requests[0].client_went_away
        assert stored_answer(service, "no deadline")["status"] == "partial"
