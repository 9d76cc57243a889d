"""Units of issue 13: the answer budget, errors that redact upstream text, large JSON parsing."""

from __future__ import annotations

import json
import platform

import orjson
import pytest
from yarl import URL

from chatgpt_api.backends import _json
from chatgpt_api.backends._http import request_secrets
from chatgpt_api.backends.budget import AnswerBudget, utf8_size
from chatgpt_api.errors import AnswerTooLarge, UpstreamStatusError, UpstreamStreamError
from chatgpt_api.large_buffers import keep_large_buffers_unpooled
from chatgpt_api.messages import TextDelta, TextReset
from chatgpt_api.redact import MASK
from chatgpt_api.testing import make_fake_jwt


def test_the_budget_counts_utf8_bytes_and_a_rewrite_replaces_the_text() -> None:
    budget = AnswerBudget(10)
    budget.observe(TextDelta("abc"))
    budget.observe(TextDelta("é"))  # two bytes
    assert budget.used == 5
    budget.observe(TextReset("abcdefgh"))  # the whole text is now 8 bytes, not 13
    assert budget.used == 8
    budget.charge("xy")  # e.g. tool-call arguments, on top of the text
    assert budget.used == 10
    with pytest.raises(AnswerTooLarge) as caught:
        budget.observe(TextDelta("!"))
    assert caught.value.status == 502 and caught.value.code == "answer_too_large"
    assert caught.value.message == (
        "the answer exceeded the limit of 10 bytes "
        "(setting max_answer_size: --max-answer-size or CHATGPT_API_MAX_ANSWER_SIZE)"
    )
    assert utf8_size("日本") == 6 and utf8_size("ab") == 2


def test_the_body_limit_names_its_own_setting() -> None:
    error = AnswerTooLarge(8, "max_upstream_body_size")
    assert "upstream reply body exceeded the limit of 8 bytes" in error.message
    assert "--max-upstream-body-size or CHATGPT_API_MAX_UPSTREAM_BODY_SIZE" in error.message


def test_errors_built_from_upstream_text_redact_the_request_secrets() -> None:
    token, jwt = "plain-token-123", make_fake_jwt(2_000_000_000)
    status = UpstreamStatusError(
        f"bad {token} and {jwt}", 401, secrets=(token,), upstream_code=f"code-{token}"
    )
    assert status.message == f"bad {MASK} and {MASK}"
    assert status.upstream_code == f"code-{MASK}"
    stream = UpstreamStreamError(f"{token} refused", secrets=(token, None))
    assert stream.message == f"{MASK} refused"


def test_request_secrets_are_the_credential_and_the_url_password() -> None:
    url = URL("http://user:p%40ss-word@127.0.0.1/x")
    assert set(request_secrets("tok-1", url)) == {"tok-1", "p@ss-word", "p%40ss-word"}
    assert request_secrets("", URL("http://127.0.0.1/x")) == ()


@pytest.mark.parametrize("size", [10, _json.LARGE_DOCUMENT + 10])
def test_json_documents_of_any_size_parse_alike(size: int) -> None:
    document = {"text": "é" * (size // 2), "n": [1, 2.5, None, True]}
    data = json.dumps(document)
    assert _json.loads(data) == orjson.loads(data) == document
    assert _json.loads(data.encode()) == document
    with pytest.raises(orjson.JSONDecodeError):
        _json.loads(data[:-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_mmap_threshold_is_fixed_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert keep_large_buffers_unpooled() is True
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert keep_large_buffers_unpooled() is False  # the operator's choice stands
