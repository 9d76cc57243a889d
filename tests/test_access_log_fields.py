"""Issue 13, items 8 and 12: access-log lines cannot be forged through client text, and no query
value but a few harmless ones is logged, whatever its parameter's name.

The service runs as a process (``chatgpt-api serve --demo``) and is spoken to over raw sockets,
so the bytes a client chooses reach the log exactly as sent; its stdout is then read back."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chatgpt_api.api.log_fields import escape_field, redact_url
from tests.reliability import record

CLI = [sys.executable, "-m", "chatgpt_api.cli"]
COMBINED = re.compile(
    r'(?P<host>\S+) - - \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"'
)
#: Values a client may put in a URL without meaning to log them; none may reach the log.
SECRETS = {
    "secret": "s3cr3t-value-1",
    "client_secret": "client-s3cr3t-2",
    "session": "sess-value-3",
    "authorization": "Bearer%20opaque-value-4",
    "code": "oauth-code-5",
    "X-Amz-Signature": "abcdef0123456789",
}
BARE = "opaque-bare-value-6"
OTHERS = [BARE, "opaque-value-4", "frag-7", "json-shaped-8"]
FORGING_AGENT = b'curl/8" 200 1 "-" "forged\t\\x22'
FORGING_REFERER = b'https://example.com/page?ref="x" 500 0 "'


def unescape(field: str) -> bytes:
    """The bytes an nginx-escaped field stands for."""
    return re.sub(rb"\\x([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), field.encode())


class Served:
    def __init__(self, home: Path, log_format: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
        env.update(CHATGPT_API_HOME=str(home), CHATGPT_API_HOST="127.0.0.1")
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--demo", "--port", "0", "--log-format", log_format],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().decode()
        match = re.search(r"Listening on http://localhost:(\d+)", first)
        if match is None:
            self.proc.kill()
            pytest.fail(f"no announcement: {first!r} {self.proc.communicate()}")
        self.port = int(match.group(1))

    def send(self, request: bytes) -> int:
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return int(answer.split(b" ", 2)[1])

    def stop(self) -> tuple[str, str]:
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=15)
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _request(target: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1", *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _traffic(served: Served) -> list[int]:
    query = "&".join(f"{name}={value}" for name, value in SECRETS.items())
    return [
        served.send(_request(b"/healthz", b"User-Agent: " + FORGING_AGENT)),
        served.send(_request(b"/healthz", b"Referer: " + FORGING_REFERER, b"User-Agent: x")),
        served.send(_request(b'/health"z\\', b"User-Agent: latin-\xe9")),
        served.send(_request(f"/healthz?{query}&limit=5".encode())),
        served.send(_request(f"/healthz?{BARE}".encode())),
        served.send(
            _request(
                b"/healthz",
                f"Referer: https://app.example/cb?state=ok&{query}#access_token=frag-7".encode(),
            )
        ),
        served.send(_request(b"/healthz", b'User-Agent: {"password": "json-shaped-8"}')),
    ]


def test_text_access_lines_cannot_be_forged(tmp_path: Path) -> None:
    served = Served(tmp_path, "text")
    try:
        statuses = _traffic(served)
    finally:
        out, err = served.stop()
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == len(statuses) == 7, out
    parsed = [COMBINED.fullmatch(line) for line in lines]
    assert all(parsed), lines  # one well-formed combined line per request, no forged field
    fields = [m.groupdict() for m in parsed if m is not None]
    assert [f["status"] for f in fields] == [str(s) for s in statuses]
    # Every field decodes back to what the client sent (nothing lost, nothing injected).
    assert unescape(fields[0]["agent"]) == FORGING_AGENT
    assert fields[0]["agent"] == "curl/8\\x22 200 1 \\x22-\\x22 \\x22forged\\x09\\x5Cx22"
    assert unescape(fields[1]["referer"]) == b"https://example.com/page?ref=[REDACTED]"
    assert fields[2]["request"] == "GET /health\\x22z\\x5C HTTP/1.1"
    assert unescape(fields[2]["agent"]) == b"latin-\xe9"
    # Query values: redacted by default, whatever the name; harmless names kept.
    redacted = "&".join(f"{name}=[REDACTED]" for name in SECRETS)
    assert fields[3]["request"] == f"GET /healthz?{redacted}&limit=5 HTTP/1.1"
    assert fields[4]["request"] == "GET /healthz?[REDACTED] HTTP/1.1"
    assert fields[5]["referer"] == (
        f"https://app.example/cb?state=[REDACTED]&{redacted}#access_token=[REDACTED]"
    )
    # A secret that needs escaping is masked before it is escaped.
    assert fields[6]["agent"] == "{\\x22password\\x22: \\x22[REDACTED]\\x22}"
    leaked = [v for v in [*SECRETS.values(), *OTHERS] if v in out + err]
    assert leaked == []
    record(
        "access-log-field-injection-text",
        "quotes, backslash, tab and Latin-1 bytes in User-Agent, Referer and path (raw socket), "
        'e.g. User-Agent: curl/8" 200 1 "-" "forged',
        'one well-formed combined line per request; " \\ and control bytes escaped as nginx '
        "does (\\xHH)",
        f"{len(lines)} requests, {len(lines)} lines, all parse as combined format with the "
        "fields the client sent",
        requests=len(statuses),
        lines=len(lines),
        forged_fields=0,
    )
    record(
        "access-log-query-values-redacted",
        "secret=, client_secret=, session=, authorization=Bearer%20..., code=, "
        "X-Amz-Signature=, a bare ?value, and a Referer with a query and #access_token=",
        "every query and fragment value logged as [REDACTED] but limit/offset-style names",
        f"0 of {len(SECRETS) + len(OTHERS)} values in stdout or stderr; limit=5 kept",
        requests=len(statuses),
        leaks=len(leaked),
    )


def test_json_access_records_keep_client_text_inside_fields(tmp_path: Path) -> None:
    served = Served(tmp_path, "json")
    try:
        statuses = _traffic(served)
    finally:
        out, err = served.stop()
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "chatgpt_api.access"]
    assert len(access) == len(statuses) == 7
    assert access[0]["user_agent"] == FORGING_AGENT.decode("latin-1")
    assert access[1]["referer"] == "https://example.com/page?ref=[REDACTED]"
    assert access[2]["path"] == '/health"z\\' and access[2]["user_agent"] == "latin-\xe9"
    redacted = "&".join(f"{name}=[REDACTED]" for name in SECRETS)
    assert access[3]["path"] == f"/healthz?{redacted}&limit=5"
    assert access[4]["path"] == "/healthz?[REDACTED]"
    assert access[5]["referer"].endswith("#access_token=[REDACTED]")
    assert access[6]["user_agent"] == '{"password": "[REDACTED]"}'
    for value in [*SECRETS.values(), *OTHERS]:
        assert value not in out + err


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain text/1.0 (ok)", "plain text/1.0 (ok)"),
        ('a"b', "a\\x22b"),
        ("back\\slash", "back\\x5Cslash"),
        ("\t\r\n\x00\x1b\x7f", "\\x09\\x0D\\x0A\\x00\\x1B\\x7F"),
        ("caf\xe9", "caf\\xE9"),
        ("snow\u2603", "snow\\xE2\\x98\\x83"),
    ],
)
def test_escape_field_is_nginx_default_escaping(text: str, escaped: str) -> None:
    assert escape_field(text) == escaped


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("/v1/conversations?limit=5&offset=10", "/v1/conversations?limit=5&offset=10"),
        ("/x?LIMIT=5&Secret=y", "/x?LIMIT=5&Secret=[REDACTED]"),
        ("/x?lim%69t=5&token=", "/x?lim%69t=5&token="),
        ("/x?a=1&&b", "/x?a=[REDACTED]&&[REDACTED]"),
        ("/x?stream", "/x?stream"),
        ("/x", "/x"),
        ("https://h/p#id_token=abc&state=z", "https://h/p#id_token=[REDACTED]&state=[REDACTED]"),
        ("/x?limit=1#frag", "/x?limit=1#[REDACTED]"),
        ("/x?a=b=c", "/x?a=[REDACTED]"),
    ],
)
def test_redact_url_keeps_only_harmless_values(url: str, logged: str) -> None:
    assert redact_url(url) == logged
