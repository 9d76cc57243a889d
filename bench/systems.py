"""The systems under test, how to start each, and what a request to each looks like.

Routes: ``send`` (``POST /send_message``) and ``chat`` (``POST /v1/chat/completions``), each
non-streamed (against the fast emulator: no delay) or streamed (against the slow emulator: a
20 ms pause between chunks, so time to first byte and forwarding are visible). "direct" sends
the equivalent upstream request to the emulator itself.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import orjson

from bench.measure import WORK, Load
from bench.procs import DRIVER_CPU, SERVICE_CPU, Proc, free_port

VENV_BIN = Path(sys.executable).parent
CHUNKS = 20
STREAM_DELAY_MS = 20
PROMPT = "Say hello to the benchmark"
LITELLM_VENV = WORK / "litellm-venv"
#: LiteLLM's proxy refuses to start without a strong master key; requests must carry it.
LITELLM_KEY = "sk-bench-" + secrets.token_hex(24)


@dataclass(frozen=True)
class Upstreams:
    fast: str
    slow: str


def start_emulator(name: str, delay_ms: float, chunks: int = CHUNKS) -> tuple[Proc, str]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.emulator", str(port), str(chunks), str(delay_ms)]
    proc = Proc(name, argv, cpus=DRIVER_CPU, log=WORK / f"{name}.log", port=port)
    return proc, f"http://127.0.0.1:{port}"


def models_file(up: Upstreams) -> Path:
    path = WORK / "models.toml"
    path.write_text(
        "".join(
            f'[models."{name}"]\nbackend = "openai-compatible"\nupstream_model = "gpt-4o-mini"\n'
            f'base_url = "{base}/v1"\napi_key = "x"\n\n'
            for name, base in (("bench-openai", up.fast), ("bench-openai-slow", up.slow))
        )
    )
    return path


def start_service(up: Upstreams, *, workers: int = 1, store: bool = False) -> Proc:
    port = free_port()
    home = WORK / "home"
    if store:
        shutil.rmtree(home, ignore_errors=True)
    argv = [str(VENV_BIN / "chatgpt-api"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--models-file", str(models_file(up)), "--home", str(home)]
    argv += ["--reverse-proxy", f"{up.fast}/backend-api/conversation", "--log-level", "warning"]
    argv += ["--store" if store else "--no-store"]
    # The load comes from one address and holds up to 10,000 connections (open-streams check):
    # lift the connection caps (the descriptor limit still bounds them).
    argv += ["--max-connections-per-client", "0", "--max-connections", "65536"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    name = f"service-{workers}w" + ("-store" if store else "")
    # Streamed /send_message points name the slow emulator per request (reverse_proxy): let the
    # network policy, where there is one, accept that loopback upstream (ignored where not).
    env = {"CHATGPT_API_UPSTREAM_ALLOWLIST": "127.0.0.1"}
    return Proc(name, argv, cpus=SERVICE_CPU, log=WORK / f"{name}.log", env=env, port=port)


#: The gateway key each started service-default requires (by system name).
GATEWAY_KEYS: dict[str, str] = {}
#: Per-key limits of service-default: generous, so no request of the bench is refused.
DEFAULT_LIMITS = ("--rate-limit-rpm", "10000000", "--rate-limit-cpm", "1000000000")
DEFAULT_LIMITS += ("--rate-limit-streams", "100000")


def start_service_default(up: Upstreams, name: str = "service-default") -> Proc:
    """The service as a user starts it by default: store on (SQLite), access log and metrics on
    (info level), a gateway key created and so required, per-key rate limits (in-process)."""
    port = free_port()
    home = WORK / f"home-{name}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    create = [str(VENV_BIN / "chatgpt-api"), "keys", "create", "--name", "bench"]
    created = subprocess.run(
        [*create, "--home", str(home)], capture_output=True, text=True, check=True, timeout=120
    )
    GATEWAY_KEYS[name] = created.stdout.strip().splitlines()[-1]
    argv = [str(VENV_BIN / "chatgpt-api"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--models-file", str(models_file(up)), "--home", str(home)]
    argv += ["--reverse-proxy", f"{up.fast}/backend-api/conversation", *DEFAULT_LIMITS]
    argv += ["--max-connections-per-client", "0", "--max-connections", "65536"]
    env = {"CHATGPT_API_UPSTREAM_ALLOWLIST": "127.0.0.1"}
    return Proc(name, argv, cpus=SERVICE_CPU, log=WORK / f"{name}.log", env=env, port=port)


def _ref_env(up: Upstreams) -> dict[str, str]:
    return {
        "REF_WEB_URL": f"{up.fast}/backend-api/conversation",
        "REF_MODELS": f"bench-openai={up.fast}/v1,bench-openai-slow={up.slow}/v1",
    }


def start_reference(up: Upstreams, variant: str) -> Proc:
    """``variant``: starlette_aiohttp (the reference), starlette_httpx, or aioweb_aiohttp."""
    port = free_port()
    if variant == "aioweb_aiohttp":
        argv = [sys.executable, "-m", "bench.ref_aioweb_aiohttp", str(port)]
    else:
        argv = [sys.executable, "-m", "uvicorn", f"bench.ref_{variant}:app", "--port", str(port)]
        argv += ["--host", "127.0.0.1", "--loop", "uvloop", "--http", "httptools"]
        argv += ["--no-access-log", "--log-level", "warning"]
    name = f"ref-{variant}"
    env = {**_ref_env(up), "PYTHONPATH": str(WORK.parent.parent)}
    return Proc(name, argv, cpus=SERVICE_CPU, log=WORK / f"{name}.log", env=env, port=port)


def litellm_status() -> str | None:
    """None when LiteLLM's proxy is installed (installing it if needed), else why not."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if litellm.exists():
        return None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=120)
        pip = [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"]
        subprocess.run(pip, check=True, timeout=600, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"could not install litellm[proxy]: {exc}"
    return None if litellm.exists() else "litellm[proxy] installed no litellm command"


def start_litellm(up: Upstreams) -> Proc:
    port = free_port()
    config = WORK / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        + "".join(
            f"  - model_name: {name}\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
            f"      api_base: {base}/v1\n      api_key: x\n"
            for name, base in (("bench-openai", up.fast), ("bench-openai-slow", up.slow))
        )
        + "litellm_settings:\n  telemetry: false\n"
    )
    argv = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    env = {
        "LITELLM_MASTER_KEY": LITELLM_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "NO_PROXY": "*",
        "HOME": str(WORK / "litellm-home"),
    }
    (WORK / "litellm-home").mkdir(parents=True, exist_ok=True)
    return Proc(
        "litellm",
        argv,
        cpus=SERVICE_CPU,
        log=WORK / "litellm.log",
        env=env,
        port=port,
        start_seconds=180,
    )


def load_for(system: str, base: str, up: Upstreams, route: str, stream: bool) -> Load:
    """The request for ``route`` (send | chat) on ``system`` (direct | anything else)."""
    key = LITELLM_KEY if system == "litellm" else GATEWAY_KEYS.get(system, "x")
    auth = f"Authorization: Bearer {key}"
    if system == "direct":
        upstream = up.slow if stream else up.fast
        if route == "send":
            body = orjson.dumps(
                {
                    "action": "next",
                    "messages": [
                        {
                            "id": "7d3c8a9e-1111-4222-8333-944445555666",
                            "author": {"role": "user"},
                            "role": "user",
                            "content": {"content_type": "text", "parts": [PROMPT]},
                        }
                    ],
                    "model": "gpt-3.5-turbo",
                    "parent_message_id": "7d3c8a9e-1111-4222-8333-944445555667",
                }
            )
            url = f"{upstream}/backend-api/conversation"
            return Load(url, body, (auth, _JSON), stream)
        body = _chat_body("gpt-4o-mini", stream)
        return Load(f"{upstream}/v1/chat/completions", body, (auth, _JSON), stream)
    if route == "send":
        fields = {"access_token": "x", "prompt": PROMPT}
        if system in GATEWAY_KEYS:
            fields["api_key"] = GATEWAY_KEYS[system]
        if stream:
            fields["stream"] = "true"
            fields["reverse_proxy"] = f"{up.slow}/backend-api/conversation"
        return Load(
            f"{base}/send_message",
            urlencode(fields).encode(),
            ("Content-Type: application/x-www-form-urlencoded",),
            stream,
        )
    model = "bench-openai-slow" if stream else "bench-openai"
    return Load(f"{base}/v1/chat/completions", _chat_body(model, stream), (auth, _JSON), stream)


_JSON = "Content-Type: application/json"


def _chat_body(model: str, stream: bool) -> bytes:
    return orjson.dumps(
        {"model": model, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
    )


def base_url(proc: Proc) -> str:
    return f"http://127.0.0.1:{proc.port}"


def machine() -> dict[str, str]:
    """What this machine is, for the record."""
    info = {"cores": str(os.cpu_count()), "python": sys.version.split()[0]}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gib"] = f"{int(mem) / 2**20:.1f}"
        info["kernel"] = Path("/proc/sys/kernel/osrelease").read_text().strip()
    except OSError:
        pass
    return info
