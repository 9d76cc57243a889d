"""Many faulted requests against the service in a subprocess: nothing leaks.

Every fault of :mod:`tests.faultplan`, on both surfaces, whole and streamed, mixed in a fixed
pseudo-random order, 16 at a time. Before and after (once things settle) the process's file
descriptors, threads, TCP connections (to the emulator and from clients), asyncio tasks and RSS
are read from ``/proc`` and a test-only probe; then a normal request must answer correctly.

CI runs 300 requests; ``CHATGPT_API_SOAK=1`` (``make soak``) runs 1,000 twice over.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.faultplan import (
    SEED_FAULTS,
    SEED_TIMEOUT_MS,
    V1_FAULTS,
    SeedFault,
    V1Fault,
    models_toml,
    refused_port,
    seed_outcome,
    v1_outcome,
)
from tests.reliability import SOAK, ServiceProcess, Snapshot, record

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")

CONCURRENCY = 16
#: The /v1 deadline of the service under load (larger than in test_faults: 16 at once on a
#: shared 2-core machine must not push a quick fault past it).
V1_TIMEOUT_S = 3.0
#: Descriptors allowed above the baseline after settling: idle keep-alive connections to the
#: emulator that aiohttp's pool may still hold (at most one per concurrent request).
FD_SLACK = CONCURRENCY + 4
RSS_GROWTH_LIMIT_KIB = 48 * 1024

Job = tuple[SeedFault | V1Fault, bool]


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        yield emu


@pytest.fixture(scope="module")
def service(
    upstream: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, int]]:
    home = tmp_path_factory.mktemp("faults-load")
    refused = refused_port()
    (home / "models.toml").write_text(models_toml(upstream.url, refused))
    with ServiceProcess(
        home,
        CHATGPT_API_MODELS_FILE=str(home / "models.toml"),
        CHATGPT_API_REVERSE_PROXY=f"{upstream.url}/backend-api/conversation",
        CHATGPT_API_MAX_EVENT_SIZE=str(1024 * 1024),
        CHATGPT_API_UPSTREAM_TIMEOUT=str(V1_TIMEOUT_S),
    ) as svc:
        yield svc, refused


def jobs(count: int, seed: int) -> list[Job]:
    every: list[Job] = [(f, s) for f in (*SEED_FAULTS, *V1_FAULTS) for s in (False, True)]
    picked = [every[i % len(every)] for i in range(count)]
    random.Random(seed).shuffle(picked)
    return picked


async def _send(
    http: httpx.AsyncClient,
    emulator_url: str,
    refused: int,
    fault: SeedFault | V1Fault,
    stream: bool,
    label: str,
) -> str | None:
    if isinstance(fault, SeedFault):
        fields = {
            "access_token": "tok",
            "prompt": label,
            "reverse_proxy": fault.url(emulator_url, refused),
            "stream": "true" if stream else "false",
        }
        if fault.timed:
            fields["timeout"] = str(SEED_TIMEOUT_MS)
        return seed_outcome(fault, await http.post("/send_message", data=fields))
    body = {
        "model": fault.model,
        "messages": [{"role": "user", "content": label}],
        "stream": stream,
    }
    response = await http.post("/v1/chat/completions", json=body)
    return v1_outcome(fault, response, stream=stream)


async def _run(url: str, emulator_url: str, refused: int, todo: list[Job]) -> Counter[str]:
    """Send every job, ``CONCURRENCY`` at a time; counts outcomes (``ok`` or the mismatch)."""
    outcomes: Counter[str] = Counter()
    queue = list(enumerate(todo))
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:

        async def worker() -> None:
            while queue:
                index, (fault, stream) = queue.pop()
                try:
                    wrong = await _send(http, emulator_url, refused, fault, stream, f"load {index}")
                except httpx.HTTPError as exc:
                    wrong = f"{fault.fault}: {type(exc).__name__}"
                outcomes[wrong or "ok"] += 1

        async with asyncio.timeout(600):  # a hard bound for the whole run
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes


def normal_requests_answer(url: str) -> None:
    seed = httpx.post(
        f"{url}/send_message", data={"access_token": "tok", "prompt": "ok?"}, timeout=30
    )
    assert seed.status_code == 200, seed.text
    assert seed.json()["text"]
    v1 = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "ok", "messages": [{"role": "user", "content": "ok?"}]},
        timeout=30,
    )
    assert v1.status_code == 200, v1.text
    assert v1.json()["choices"][0]["message"]["content"]


def stored_conversations(url: str) -> int:
    total: int = httpx.get(f"{url}/v1/conversations", params={"limit": 1}, timeout=30).json()[
        "total"
    ]
    return total


def wait_stored(url: str, expected: int, seconds: float = 20.0) -> int:
    """The number of stored conversations once it reaches ``expected`` (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while (count := stored_conversations(url)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def _leaks(
    before: Snapshot, after: Snapshot, upstream_port: int, service_port: int
) -> dict[str, int]:
    return {
        "fds": max(0, after.fds - before.fds - FD_SLACK),
        "threads": max(0, after.threads - before.threads - 2),
        "asyncio_tasks": max(0, (after.tasks or 0) - (before.tasks or 0)),
        "upstream_close_wait": after.connections(remote_port=upstream_port, state="CLOSE_WAIT"),
        "upstream_connections": max(0, after.connections(remote_port=upstream_port) - CONCURRENCY),
        "client_connections": after.connections(local_port=service_port),
    }


def test_faulted_requests_leak_nothing(
    service: tuple[ServiceProcess, int], upstream: EmulatorThread
) -> None:
    svc, refused = service
    upstream_port = int(upstream.url.rsplit(":", 1)[1])
    rounds = 2 if SOAK else 1
    per_round = 1000 if SOAK else 300

    # Warm up: every fault once (imports, pools, the database) and a normal answer.
    warm = asyncio.run(_run(svc.url, upstream.url, refused, jobs(68, seed=0)))
    assert warm["ok"] == 68, warm
    normal_requests_answer(svc.url)
    baseline = svc.settled(svc.snapshot(), upstream_port, fd_slack=FD_SLACK)
    stored_before = stored_conversations(svc.url)

    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    after_rounds: list[Snapshot] = []
    for round_index in range(rounds):
        outcomes += asyncio.run(
            _run(svc.url, upstream.url, refused, jobs(per_round, seed=round_index + 1))
        )
        assert svc.alive(), svc.stderr()
        after_rounds.append(svc.settled(baseline, upstream_port, fd_slack=FD_SLACK))
    elapsed = time.monotonic() - started
    total = rounds * per_round
    stored = wait_stored(svc.url, stored_before + total) - stored_before
    after = after_rounds[-1]
    leaks = _leaks(baseline, after, upstream_port, svc.port)
    rss_growth = after.rss_kib - baseline.rss_kib
    rss_growth_last_round = after.rss_kib - after_rounds[0].rss_kib if rounds > 1 else None

    record(
        "upstream-faults-under-load" + ("-soak" if SOAK else ""),
        f"{total} requests under mixed upstream faults ({len(SEED_FAULTS)} seed + "
        f"{len(V1_FAULTS)} /v1 faults, whole and streamed), {CONCURRENCY} at a time",
        "every answer the documented error; every turn stored; no leaked fd, connection, "
        "task or thread; RSS bounded; the next request answers normally",
        f"{outcomes['ok']}/{total} documented answers; {stored}/{total} turns stored; "
        f"leaks {sum(leaks.values())}",
        requests_under_fault=total,
        concurrency=CONCURRENCY,
        seconds=round(elapsed, 1),
        requests_per_second=round(total / elapsed, 1),
        wrong_answers=total - outcomes["ok"],
        leaks_found=sum(leaks.values()),
        leaks=leaks,
        before=baseline.figures(upstream_port, svc.port),
        after=after.figures(upstream_port, svc.port),
        rss_growth_kib=rss_growth,
        rss_growth_last_round_kib=rss_growth_last_round,
        turns_stored=stored,
        data_lost=total - stored,
    )
    assert outcomes["ok"] == total, outcomes
    assert stored == total
    assert leaks == dict.fromkeys(leaks, 0), (baseline, after)
    assert rss_growth < RSS_GROWTH_LIMIT_KIB, (baseline.rss_kib, after.rss_kib)
    if rss_growth_last_round is not None:
        assert rss_growth_last_round < RSS_GROWTH_LIMIT_KIB // 2
    normal_requests_answer(svc.url)
