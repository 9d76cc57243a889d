"""Unit tests for chatgpt_api.redact."""

from __future__ import annotations

import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.redact import MASK, RedactingFilter, redact_text

FAST = settings(max_examples=200, deadline=None)

JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJ1c2VyLTEyMyIsImV4cCI6MTcwMDAwMDAwMH0"
    ".c2lnbmF0dXJlLXBhcnQtd2l0aC1fLWFuZC0tY2hhcnM"
)


# --- patterns -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (JWT, MASK),
        (f"token {JWT} end", f"token {MASK} end"),
        (f'{{"accessToken":"{JWT}"}}', f'{{"accessToken":"{MASK}"}}'),
        ("eyJhbGciOi.eyJzdWIi.", MASK),  # empty signature (alg "none")
        ("eyJhbGciOi.eyJzdWIi.sig and more", f"{MASK} and more"),
    ],
)
def test_jwts(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer x", f"Bearer {MASK}"),
        ("Authorization: Bearer abc.def-ghi_jkl~/+=", f"Authorization: Bearer {MASK}"),
        ("authorization: bearer tok123", f"authorization: bearer {MASK}"),
        ("BEARER  tok", f"BEARER {MASK}"),
        ("Basic dXNlcjpwYXNz", f"Basic {MASK}"),
        (f"Authorization: Bearer {JWT}", f"Authorization: Bearer {MASK}"),
    ],
)
def test_authorization_values(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-abcdefgh1234 used", f"key {MASK} used"),
        ("sk-proj-AbCdEfGhIjKlMnOp_qr-st", MASK),
        ("sk-short", "sk-short"),  # fewer than 8 characters after "sk-": not a key
        ("task-abcdefghij", "task-abcdefghij"),  # "sk-" inside a word
    ],
)
def test_api_keys(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pass@host/x", f"https://{MASK}@host/x"),
        ("see http://u:p@10.0.0.1:8080/api now", f"see http://{MASK}@10.0.0.1:8080/api now"),
        ("socks5h://alice:s3cr%40t@proxy:1080", f"socks5h://{MASK}@proxy:1080"),
        ("https://token@example.com", f"https://{MASK}@example.com"),
        ("https://example.com/path?email=a@b.com", "https://example.com/path?email=a@b.com"),
        ("mail me at a@b.com", "mail me at a@b.com"),
    ],
)
def test_url_credentials(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2", f"password={MASK}"),
        ("email=a%40b.com&password=hunter2&x=1", f"email=a%40b.com&password={MASK}&x=1"),
        ("access_token=abc.def", f"access_token={MASK}"),
        ("/send?access_token=abc&prompt=hi", f"/send?access_token={MASK}&prompt=hi"),
        ("session_token=xyz; other=1", f"session_token={MASK}; other=1"),
        ("refresh_token=r1", f"refresh_token={MASK}"),
        ("id_token=i1&csrf_token=c1", f"id_token={MASK}&csrf_token={MASK}"),
        ("api_key=k1 apikey=k2", f"api_key={MASK} apikey={MASK}"),
        ("token=t", f"token={MASK}"),
        ("PASSWORD=Upper", f"PASSWORD={MASK}"),
        (
            "Cookie: __Secure-next-auth.session-token=abc.def; _puid=x",
            f"Cookie: __Secure-next-auth.session-token={MASK}; _puid=x",
        ),
        ('password="quoted"', 'password="quoted"'),  # a quote is not a value character
        ("password=", "password="),
        ("max_tokens=5&prompt=x", "max_tokens=5&prompt=x"),
        ("username=alice", "username=alice"),
    ],
)
def test_secret_pairs(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"password": "hunter2"}', f'{{"password": "{MASK}"}}'),
        ('{"password":"hunter2","email":"a@b"}', f'{{"password":"{MASK}","email":"a@b"}}'),
        ('{"accessToken": "tok"}', f'{{"accessToken": "{MASK}"}}'),
        ('{"access_token" : "tok"}', f'{{"access_token" : "{MASK}"}}'),
        ('{"session_token": ""}', f'{{"session_token": "{MASK}"}}'),
        ('{"Password": "x"}', f'{{"Password": "{MASK}"}}'),
        # Escaped quotes and backslashes inside the value are part of the secret.
        ('{"password": "pa\\"ss", "x": 1}', f'{{"password": "{MASK}", "x": 1}}'),
        ('{"password": "a\\\\", "b": "c"}', f'{{"password": "{MASK}", "b": "c"}}'),
        ('{"password": "\\u0041\\\\\\"z"}', f'{{"password": "{MASK}"}}'),
        ('{"password": null}', '{"password": null}'),
        ('{"user": "password"}', '{"user": "password"}'),
    ],
)
def test_json_members(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@FAST
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30))
def test_json_password_never_leaks(password: str) -> None:
    import json

    text = json.dumps({"email": "a@b.c", "password": password, "after": "kept"})
    redacted = redact_text(text)
    assert json.loads(redacted) == {"email": "a@b.c", "password": MASK, "after": "kept"}


def test_plain_text_is_untouched() -> None:
    text = 'ChatGPT error 429: {"detail": "Too many requests in 1 hour. Try again later."}'
    assert redact_text(text) == text


# --- known secrets --------------------------------------------------------------------------


def test_known_secret_is_masked_everywhere() -> None:
    assert redact_text("a weird-tok b weird-tok", ["weird-tok"]) == f"a {MASK} b {MASK}"


def test_short_and_empty_known_secrets_are_skipped() -> None:
    assert redact_text("abc abc", ["abc", "", None]) == "abc abc"
    assert redact_text("abcd", ["abcd"]) == MASK


def test_known_secret_containing_another_is_masked_whole() -> None:
    text = "outer=xx-abcdefgh-yy"
    assert redact_text(text, ["abcd", "abcdefgh"]) == f"outer=xx-{MASK}-yy"
    assert redact_text(text, ["abcdefgh", "abcd"]) == f"outer=xx-{MASK}-yy"
    assert "efgh" not in redact_text("p=abcdefgh", ["abcd", "abcdefgh"])


def test_known_secrets_accept_a_generator() -> None:
    assert redact_text("s3cret!", (s for s in ["s3cret!"])) == MASK


@FAST
@given(
    st.lists(st.text(alphabet="abcXYZ09-!", min_size=4, max_size=10), min_size=1, max_size=4),
    st.text(alphabet="abcXYZ09-! ", max_size=20),
)
def test_known_secrets_never_survive(secrets: list[str], filler: str) -> None:
    text = filler + " " + " | ".join(secrets) + " " + filler
    redacted = redact_text(text, secrets)
    # Masking one secret may split an overlapping one, but no known secret is left whole.
    for secret in secrets:
        assert secret not in redacted


# --- performance: no quadratic blow-up on hostile input -------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a." * 50_000,
        "a-" * 50_000,
        "eyJ" * 30_000,
        "eyJaaaaaa." * 10_000,
        "a://" * 25_000,
        "x://" + "a" * 100_000,
        "bearer " * 15_000,
        "password=" * 10_000,
        '"password": "' + "\\\\" * 50_000,
        "https://u:p@" * 10_000,
    ],
)
def test_hostile_input_is_fast(text: str) -> None:
    start = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - start < 1.0


# --- logging filter -------------------------------------------------------------------------


def make_record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"failed with Bearer {JWT}")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_masks_formatted_message() -> None:
    record = make_record("calling %s with %s", "https://u:p@host", "password=x")
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"calling https://{MASK}@host with password={MASK}"


def test_filter_leaves_clean_records_alone() -> None:
    record = make_record("hello %s", "world")
    RedactingFilter().filter(record)
    assert record.msg == "hello %s"
    assert record.args == ("world",)


def test_filter_masks_tracebacks() -> None:
    record = make_record("boom", exc=True)
    RedactingFilter().filter(record)
    assert record.exc_text is not None
    assert JWT not in record.exc_text
    assert f"Bearer {MASK}" in record.exc_text
    formatted = logging.Formatter().format(record)
    assert JWT not in formatted


_TOKENS = [*"abeyJsk-cak@=:\" ./_BearerBASIC0123456789xyz\t\n&;'", "eyJ", "sk-", "://", "token="]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_fast_path_never_skips_a_pattern(text: str) -> None:
    from chatgpt_api.redact import _apply_patterns

    assert redact_text(text) == _apply_patterns(text)
