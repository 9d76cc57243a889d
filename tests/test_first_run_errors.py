"""Errors on a fresh install name what is actually missing and the setting that fixes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import ServiceThread

CLI = [sys.executable, "-m", "chatgpt_api.cli"]
HELLO = {"messages": [{"role": "user", "content": "Hello"}]}


def test_v1_without_any_upstream_names_the_setting_not_a_field(tmp_path: Path) -> None:
    with ServiceThread(home=tmp_path) as svc:
        bare = httpx.post(f"{svc.url}/v1/chat/completions", json=HELLO)
        with_token = httpx.post(
            f"{svc.url}/v1/chat/completions", json=HELLO, headers={"Authorization": "Bearer t"}
        )
    for response in (bare, with_token):
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["code"] == "not_configured"
        assert error["message"].startswith(
            "no upstream configured for model `gpt-3.5-turbo` (chatgpt-web): set "
            "CHATGPT_API_REVERSE_PROXY (or --reverse-proxy)"
        )
        assert "--models-file" in error["message"] and "serve --demo" in error["message"]
        # /v1 has no reverse_proxy field, and no account would help without an upstream.
        assert "[reverse_proxy]" not in error["message"]
        assert "accounts add" not in error["message"]


def test_the_seed_route_keeps_its_reverse_proxy_hint(tmp_path: Path) -> None:
    with ServiceThread(home=tmp_path) as svc:
        response = httpx.post(f"{svc.url}/send_message", data={"access_token": "t", "prompt": "hi"})
    assert response.json() == {
        "message": "no upstream configured: set CHATGPT_API_REVERSE_PROXY (or --reverse-proxy) "
        "or pass [reverse_proxy] in the request"
    }


def test_v1_without_a_credential_says_which_ones_work(tmp_path: Path) -> None:
    proxy = "http://127.0.0.1:9/backend-api/conversation"
    with ServiceThread(home=tmp_path, reverse_proxy=proxy) as svc:
        response = httpx.post(f"{svc.url}/v1/chat/completions", json=HELLO)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "no_upstream_account"
    assert error["message"] == (
        "no upstream credential for chatgpt-web: send a ChatGPT access token (Authorization: "
        "Bearer <token>; CHATGPT_API_KEY for the command line), or add a pooled account: "
        "chatgpt-api accounts add --name NAME --access-token TOKEN"
    )


def test_cli_ask_without_any_upstream(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
    env["CHATGPT_API_HOME"] = str(tmp_path)
    result = subprocess.run(
        [*CLI, "ask", "Hello"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error: no upstream configured for model `gpt-3.5-turbo` (chatgpt-web): set "
        "CHATGPT_API_REVERSE_PROXY (or --reverse-proxy)"
    ), result.stderr
    assert "accounts add" not in result.stderr
