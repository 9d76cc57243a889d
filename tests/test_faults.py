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
    assert fault.matches(error["message"]), error
    if fault.timed:
        assert elapsed >= SEED_TIMEOUT_MS / 1000
    assert elapsed < (SEED_TIMEOUT_MS / 1000 if fault.timed else 0) + MARGIN_S
    answer = stored_answer(svc, prompt)
    assert answer["role"] == "assistant"
    assert answer["status"] in {"error", "partial"}, answer
    if fault.target == "F7a":
        assert answer["status"] == "partial"
        assert answer["content"] == "Cut off mid"
        assert error.get("text") == "Cut off mid"
    if fault.target.startswith("redirect"):
        hits = [r for r in emulator.requests if r.path.startswith("/fixtures/F1/")]
        assert hits == [], "the redirect was followed"
    record(
        f"upstream-fault-seed-{_id(fault)}-{'stream' if stream else 'whole'}",
        f"upstream {fault.fault} (/send_message, {'stream' if stream else 'whole answer'})",
        "documented error message within the deadline; turn stored as error or partial",
        f"{error['message'][:80]!r} after {elapsed:.2f} s; stored {answer['status']}",
        requests=1,
        seconds=round(elapsed, 3),
        deadline_seconds=SEED_TIMEOUT_MS / 1000 if fault.timed else None,
        stored_status=answer["status"],
        data_lost=0,
    )


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
    assert error["code"] == fault.code, error
    if status != 200:  # a stream that had begun carries the error in its last event
        assert status == fault.status, (status, error)
    else:
        assert stream and fault.model in {"of-drop", "fx-slow-drip"}
    if fault.retry_after is not None:
        assert response.headers.get("retry-after") == fault.retry_after
    if fault.timed:
        assert elapsed >= V1_TIMEOUT_S
    assert elapsed < (V1_TIMEOUT_S if fault.timed else 0) + MARGIN_S
    assert "Traceback" not in response.text
    answer = stored_answer(svc, prompt)
    assert answer["role"] == "assistant"
    assert answer["status"] in {"error", "partial"}, answer
    if fault.model.startswith("fx-redirect"):
        assert not any(r.path.startswith("/fixtures/F1/") for r in emulator.requests)
    record(
        f"upstream-fault-v1-{_id(fault)}-{'stream' if stream else 'whole'}",
        f"upstream {fault.fault} (/v1/chat/completions, {'stream' if stream else 'whole'})",
        f"{fault.status} {fault.code}"
        + (f" with Retry-After {fault.retry_after}" if fault.retry_after else "")
        + "; turn stored as error or partial",
        f"{status} {error['code']} after {elapsed:.2f} s; stored {answer['status']}",
        requests=1,
        seconds=round(elapsed, 3),
        deadline_seconds=V1_TIMEOUT_S if fault.timed else None,
        stored_status=answer["status"],
        data_lost=0,
    )


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
