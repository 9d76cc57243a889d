"""Summaries (median and spread of runs), the issue's targets as ratios, and the Markdown table."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict
from typing import Any

from bench.measure import Run

METRICS = (
    "rps",
    "p50_ms",
    "p99_ms",
    "ttfb_p50_ms",
    "ttfb_p99_ms",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "cpu_ms_per_req",
    "peak_rss_mb",
    "reads_per_response",
    "client_cpu_ms_per_req",
)


def summarise(runs: list[Run]) -> dict[str, Any]:
    """Median, min and max of every metric over ``runs``; counts summed."""
    out: dict[str, Any] = {
        "runs": len(runs),
        "completed": sum(r.completed for r in runs),
        "errors": sum(r.errors for r in runs),
    }
    for metric in METRICS:
        values = [v for r in runs if (v := getattr(r, metric)) is not None and not math.isnan(v)]
        if values:
            out[metric] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
    out["raw"] = [asdict(r) for r in runs]
    return out


def med(points: dict[str, Any], key: str, metric: str) -> float | None:
    point = points.get(key)
    if not point or metric not in point:
        return None
    value = point[metric]["median"]
    return float(value) if value is not None else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def spread(point: dict[str, Any], metric: str, digits: int = 2) -> str:
    if metric not in point:
        return "—"
    m = point[metric]
    return f"{_fmt(m['median'], digits)} ({_fmt(m['min'], digits)}–{_fmt(m['max'], digits)})"


def table(points: dict[str, Any]) -> str:
    """One Markdown row per point: median (min–max over runs)."""
    head = (
        "| system | route | c | req/s | p50 ms | p99 ms | TTFB p50 ms | first text p50 ms | "
        "CPU ms/req | peak RSS MB | errors |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for key, point in points.items():
        system, route, conc = key.split("|")
        rows.append(
            f"| {system} | {route} | {conc} | {spread(point, 'rps', 0)} | "
            f"{spread(point, 'p50_ms')} | {spread(point, 'p99_ms')} | "
            f"{spread(point, 'ttfb_p50_ms')} | {spread(point, 'ttft_p50_ms')} | "
            f"{spread(point, 'cpu_ms_per_req', 3)} | "
            f"{spread(point, 'peak_rss_mb', 0)} | {point['errors']} |"
        )
    return head + "\n".join(rows) + "\n"


def key(system: str, route: str, conc: int) -> str:
    return f"{system}|{route}|{conc}"


def targets(points: dict[str, Any], extra: dict[str, Any], cpu_c: int) -> list[dict[str, Any]]:
    """Every target of the issue: the measured value, the limit, PASS / MISS / NOT MEASURED."""
    results: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, higher_is_better: bool = False) -> None:
        if value is None or math.isnan(value):
            verdict = "NOT MEASURED"
        elif higher_is_better:
            verdict = "PASS" if value >= limit else "MISS"
        else:
            verdict = "PASS" if value <= limit else "MISS"
        results.append({"target": name, "value": value, "limit": limit, "verdict": verdict})

    routes = ("send", "send-stream", "chat", "chat-stream")
    for route in routes:
        default = med(points, key("service-default", route, cpu_c), "cpu_ms_per_req")
        ref = med(points, key("ref-starlette_aiohttp", route, cpu_c), "cpu_ms_per_req")
        add(
            f"default configuration CPU vs bare reference proxy, {route} (×)",
            _ratio(default, ref),
            1.5,
        )
    for route in routes:
        svc = med(points, key("service-1w", route, cpu_c), "cpu_ms_per_req")
        ref = med(points, key("ref-starlette_aiohttp", route, cpu_c), "cpu_ms_per_req")
        add(f"CPU ms/request, {route} (c={cpu_c})", svc, 0.6)
        add(f"CPU vs bare reference proxy, {route} (×)", _ratio(svc, ref), 1.5)
    for route in ("send", "chat"):
        svc = med(points, key("service-1w", route, 1), "p50_ms")
        direct = med(points, key("direct", route, 1), "p50_ms")
        add(f"added latency p50, {route}, c=1 (ms)", _diff(svc, direct), 1.0)
        svc99 = med(points, key("service-1w", route, 1), "p99_ms")
        d99 = med(points, key("direct", route, 1), "p99_ms")
        add(f"added latency p99, {route}, c=1 (ms)", _diff(svc99, d99), 3.0)
    for route in ("send-stream", "chat-stream"):
        for metric, label in (("ttft", "first answer text"), ("ttfb", "first byte")):
            svc = med(points, key("service-1w", route, 1), f"{metric}_p50_ms")
            direct = med(points, key("direct", route, 1), f"{metric}_p50_ms")
            add(f"{label} overhead p50, {route}, c=1 (ms)", _diff(svc, direct), 1.5)
            svc = med(points, key("service-1w", route, 256), f"{metric}_p50_ms")
            direct = med(points, key("direct", route, 256), f"{metric}_p50_ms")
            add(f"{label} overhead p50, {route}, c=256 (ms)", _diff(svc, direct), 75.0)
        svc = med(points, key("service-1w", route, 1), "reads_per_response")
        direct = med(points, key("direct", route, 1), "reads_per_response")
        add(f"forwarded reads per stream vs direct, {route} (×)", _ratio(svc, direct), 0.75, True)
    rss = [med(points, key("service-1w", r, 256), "peak_rss_mb") for r in routes[1::2]]
    add("peak RSS with 256 open streams (MB)", max((v for v in rss if v), default=None), 80.0)
    add("RSS with 10,000 open streams (MB)", extra.get("open_streams", {}).get("rss_mb"), 1024.0)
    for route in routes:
        on = med(points, key("service-1w-store", route, cpu_c), "cpu_ms_per_req")
        off = med(points, key("service-1w", route, cpu_c), "cpu_ms_per_req")
        add(f"store on / store off CPU, {route} (×)", _ratio(on, off), 1.2)
    for route in ("chat", "chat-stream"):
        svc = med(points, key("service-1w", route, cpu_c), "cpu_ms_per_req")
        lite = med(points, key("litellm", route, cpu_c), "cpu_ms_per_req")
        add(f"one-core capacity vs LiteLLM, {route} (×, CPU ratio)", _ratio(lite, svc), 30.0, True)
        svc_rps = med(points, key("service-1w", route, cpu_c), "rps")
        lite_rps = med(points, key("litellm", route, cpu_c), "rps")
        add(f"measured req/s vs LiteLLM, {route} (×)", _ratio(svc_rps, lite_rps), 30.0, True)
    svc = med(points, key("service-1w", "send", cpu_c), "cpu_ms_per_req")
    add("capacity vs Node original, send (×; quoted 4 CPU-ms, not measured)", _ratio(4.0, svc), 6)
    results[-1]["verdict"] = _higher(results[-1], 6.0)
    return results


def _higher(result: dict[str, Any], limit: float) -> str:
    value = result["value"]
    if value is None or math.isnan(value):
        return "NOT MEASURED"
    return "PASS" if value >= limit else "MISS"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def targets_table(results: list[dict[str, Any]]) -> str:
    head = "| target | measured | limit | verdict |\n|---|---|---|---|\n"
    rows = [
        f"| {r['target']} | {_fmt(r['value'])} | {r['limit']:g} | **{r['verdict']}** |"
        for r in results
    ]
    return head + "\n".join(rows) + "\n"
