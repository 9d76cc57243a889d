"""A small asyncio HTTP/1.1 load generator for streams: time to first byte, and no coalescing.

``python -m bench.loadgen URL BODY_FILE --concurrency N --seconds S`` keeps N keep-alive
connections busy for S seconds (no new request after that; in-flight ones finish, bounded) and
prints one JSON object: completed requests, errors, latency, time to first body byte and time to
first answer text samples (ms), body reads per response, and the client's own CPU seconds.
``--hold N`` instead opens N streams at once, prints ``READY`` once every one has sent its
first byte, holds them
``--hold-seconds`` and closes them (the open-streams memory check).

It is a protocol-level client (no HTTP library) so that it costs little CPU per response; the
harness reports its CPU per request to show it is not the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import cast
from urllib.parse import urlsplit

import uvloop

_END_CHUNKED = b"0\r\n\r\n"
#: Every emulator answer starts with this (its first piece, in every format); nothing before it
#: in any of the streams contains it.
TEXT_MARKER = b"You"


class _Conn(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] | None = None
        self.lost = asyncio.get_running_loop().create_future()
        #: Set at the first body byte of the first response (the open-streams check waits on it).
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reset()

    def _reset(self) -> None:
        self.head = b""
        self.in_body = False
        self.status = 0
        self.length = -1
        self.got = 0
        self.tail = b""
        self.first_byte = 0.0
        self.first_text = 0.0
        self.seen = b""
        self.reads = 0
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection lost"))
            self.done.exception()  # marked seen: a held stream closed at the end has no waiter

    def send(self, request: bytes) -> asyncio.Future[None]:
        self._reset()
        self.done = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(request)
        return self.done

    def data_received(self, data: bytes) -> None:
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end].decode("latin-1"), self.head[end + 4 :]
            self.in_body = True
            lines = head.split("\r\n")
            self.status = int(lines[0].split(" ", 2)[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                low = name.strip().lower()
                if low == "content-length":
                    self.length = int(value)
                elif low == "connection" and value.strip().lower() == "close":
                    self.closing = True
            if not data and self.length != 0:
                return
        if data:
            if not self.first_byte:
                self.first_byte = time.perf_counter()
                if not self.started.done():
                    self.started.set_result(None)
            self.reads += 1
            self.got += len(data)
            if not self.first_text:
                self.seen = self.seen[-len(TEXT_MARKER) :] + data
                if TEXT_MARKER in self.seen:
                    self.first_text = time.perf_counter()
        if self.length >= 0:
            finished = self.got >= self.length
        else:
            self.tail = (self.tail + data)[-len(_END_CHUNKED) :]
            finished = self.tail == _END_CHUNKED
        if finished and self.done is not None and not self.done.done():
            if not self.first_byte:
                self.first_byte = time.perf_counter()
            self.done.set_result(None)


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Stats:
    def __init__(self) -> None:
        self.latency: list[float] = []
        self.ttfb: list[float] = []
        self.ttft: list[float] = []
        self.reads: list[int] = []
        self.errors = 0
        self.in_window = 0


async def _worker(
    host: str, port: int, request: bytes, stop_at: float, stats: _Stats, limit: float
) -> None:
    loop = asyncio.get_running_loop()
    conn: _Conn | None = None
    while time.perf_counter() < stop_at:
        if conn is None or conn.closing or conn.lost.done():
            if conn is not None and conn.transport is not None:
                conn.transport.close()
            try:
                _, conn = await loop.create_connection(_Conn, host, port)
            except OSError:
                stats.errors += 1
                await asyncio.sleep(0.01)
                continue
        started = time.perf_counter()
        try:
            await asyncio.wait_for(conn.send(request), limit)
        except (TimeoutError, ConnectionError):
            stats.errors += 1
            conn.closing = True
            continue
        ended = time.perf_counter()
        if conn.status != 200:
            stats.errors += 1
            continue
        stats.latency.append((ended - started) * 1000)
        stats.ttfb.append((conn.first_byte - started) * 1000)
        if conn.first_text:
            stats.ttft.append((conn.first_text - started) * 1000)
        stats.reads.append(conn.reads)
        if ended <= stop_at:
            stats.in_window += 1
    if conn is not None and conn.transport is not None:
        conn.transport.close()


async def run_load(
    url: str, body: bytes, headers: list[str], concurrency: int, seconds: float
) -> dict[str, object]:
    host, port, request = build_request(url, body, headers)
    stats = _Stats()
    cpu0 = time.process_time()
    started = time.perf_counter()
    stop_at = started + seconds
    limit = max(30.0, seconds * 4)
    workers = [_worker(host, port, request, stop_at, stats, limit) for _ in range(concurrency)]
    await asyncio.wait_for(asyncio.gather(*workers), seconds + limit + 5)
    return {
        "seconds": seconds,
        "elapsed": time.perf_counter() - started,
        "completed": len(stats.latency),
        "in_window": stats.in_window,
        "errors": stats.errors,
        "latency_ms": stats.latency,
        "ttfb_ms": stats.ttfb,
        "ttft_ms": stats.ttft,
        "reads": stats.reads,
        "client_cpu_s": time.process_time() - cpu0,
    }


async def hold_streams(
    url: str, body: bytes, headers: list[str], count: int, hold_seconds: float
) -> dict[str, object]:
    """Open ``count`` streams, report when every one has its first byte, hold, close."""
    host, port, request = build_request(url, body, headers)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(256)
    conns: list[_Conn] = []
    errors = 0

    async def open_one() -> None:
        nonlocal errors
        async with gate:  # at most 256 connections being set up at once
            try:
                _, conn = await loop.create_connection(_Conn, host, port)
            except OSError:
                errors += 1
                return
            conn.send(request)
            conns.append(conn)
        first = asyncio.ensure_future(asyncio.wait_for(asyncio.shield(conn.started), 90))
        await asyncio.wait([first, conn.lost], return_when=asyncio.FIRST_COMPLETED)
        if not conn.started.done():
            errors += 1
        first.cancel()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(open_one() for _ in range(count))), 150)
    opened = sum(1 for c in conns if c.first_byte and not c.lost.done())
    ready = time.perf_counter() - started
    print(json.dumps({"ready": True, "open": opened}), flush=True)
    await asyncio.sleep(hold_seconds)
    still_open = sum(1 for c in conns if not c.lost.done() and not (c.done and c.done.done()))
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    return {"open": opened, "still_open_after_hold": still_open, "errors": errors, "ready_s": ready}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("url")
    parser.add_argument("body_file")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--hold", type=int, default=0)
    parser.add_argument("--hold-seconds", type=float, default=3.0)
    args = parser.parse_args()
    with open(args.body_file, "rb") as handle:
        body = handle.read()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    if args.hold:
        result = uvloop.run(hold_streams(args.url, body, args.header, args.hold, args.hold_seconds))
    else:
        result = uvloop.run(run_load(args.url, body, args.header, args.concurrency, args.seconds))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
