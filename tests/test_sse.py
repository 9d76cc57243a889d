"""Unit tests for chatgpt_api.sse: the incremental decoder."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.sse import EventTooLarge, ServerSentEvent, SSEDecoder

FAST = settings(max_examples=200, deadline=None)


def decode_whole(stream: bytes, max_event_size: int | None = None) -> list[ServerSentEvent]:
    decoder = SSEDecoder() if max_event_size is None else SSEDecoder(max_event_size)
    return decoder.feed(stream) + decoder.close()


def decode_chunks(chunks: list[bytes], max_event_size: int | None = None) -> list[ServerSentEvent]:
    decoder = SSEDecoder() if max_event_size is None else SSEDecoder(max_event_size)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events + decoder.close()


def split_at(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in pairwise(points)]


# --- examples -------------------------------------------------------------------------------


def test_single_event() -> None:
    assert decode_whole(b"data: hello\n\n") == [ServerSentEvent(data="hello")]


def test_feed_returns_event_at_blank_line_only() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(data="a")]
    assert decoder.close() == []


def test_multi_line_data_is_joined_with_lf() -> None:
    assert decode_whole(b"data: a\ndata: b\ndata:\ndata: c\n\n") == [
        ServerSentEvent(data="a\nb\n\nc")
    ]


def test_one_space_is_stripped_only() -> None:
    assert decode_whole(b"data:x\n\ndata: x\n\ndata:  x\n\ndata:\tx\n\n") == [
        ServerSentEvent(data="x"),
        ServerSentEvent(data="x"),
        ServerSentEvent(data=" x"),
        ServerSentEvent(data="\tx"),
    ]


def test_field_without_colon_is_an_empty_value() -> None:
    assert decode_whole(b"data\n\n") == [ServerSentEvent(data="")]
    assert decode_whole(b"data\ndata\n\n") == [ServerSentEvent(data="\n")]


def test_trailing_spaces_are_kept() -> None:
    assert decode_whole(b'data: {"a": 1}  \n\n') == [ServerSentEvent(data='{"a": 1}  ')]


def test_comments_are_ignored() -> None:
    stream = b": keep-alive\n\n:\n: x\ndata: a\n: between\ndata: b\n\n"
    assert decode_whole(stream) == [ServerSentEvent(data="a\nb")]


def test_unknown_fields_are_ignored() -> None:
    assert decode_whole(b"foo: bar\ndata: a\nDATA: no\nData: no\n\n") == [ServerSentEvent(data="a")]


def test_event_name_id_and_retry() -> None:
    stream = b"event: delta\nid: 7\nretry: 1500\ndata: x\n\ndata: y\n\n"
    assert decode_whole(stream) == [
        ServerSentEvent(data="x", event="delta", id="7", retry=1500),
        # The event name is per event; id and retry persist (last event id, reconnection time).
        ServerSentEvent(data="y", event="", id="7", retry=1500),
    ]


def test_invalid_retry_and_id_with_nul_are_ignored() -> None:
    stream = b"retry: 15x\nretry: -1\nid: a\x00b\ndata: x\n\n"
    assert decode_whole(stream) == [ServerSentEvent(data="x", id=None, retry=None)]


def test_empty_id_is_kept_as_empty() -> None:
    assert decode_whole(b"id: 1\ndata: x\n\nid\ndata: y\n\n") == [
        ServerSentEvent(data="x", id="1"),
        ServerSentEvent(data="y", id=""),
    ]


def test_event_without_data_is_not_dispatched_and_resets_name() -> None:
    stream = b"event: lonely\n\ndata: x\n\nevent: named\nid: 3\n\ndata: y\n\n"
    assert decode_whole(stream) == [
        ServerSentEvent(data="x"),
        ServerSentEvent(data="y", id="3"),
    ]


def test_final_event_without_blank_line_is_dispatched_by_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n") == [ServerSentEvent(data="a")]
    assert decoder.close() == [ServerSentEvent(data="b")]


def test_final_unterminated_line_is_processed_by_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: e\ndata: partial") == []
    assert decoder.close() == [ServerSentEvent(data="partial", event="e")]


def test_close_on_empty_stream() -> None:
    assert SSEDecoder().close() == []
    assert decode_whole(b": only a comment") == []


@pytest.mark.parametrize(
    "stream",
    [
        b"data: a\r\n\r\ndata: b\r\n\r\n",
        b"data: a\r\rdata: b\r\r",
        b"data: a\n\ndata: b\n\n",
        b"data: a\r\n\rdata: b\n\r\n",
    ],
)
def test_line_endings(stream: bytes) -> None:
    assert decode_whole(stream) == [ServerSentEvent(data="a"), ServerSentEvent(data="b")]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r") == [ServerSentEvent(data="a")]
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [ServerSentEvent(data="b")]


def test_cr_then_empty_chunk_then_lf() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(data="a")]


def test_lone_cr_then_new_line_is_two_line_ends() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [ServerSentEvent(data="a")]


def test_other_unicode_line_breaks_are_data() -> None:
    text = "a\u2028b\u0085c\x0bd\x0ce\x1cf"
    assert decode_whole(f"data: {text}\n\n".encode()) == [ServerSentEvent(data=text)]


def test_multibyte_character_split_across_chunks() -> None:
    stream = "data: 你好世界\n\n".encode()
    for cut in range(len(stream) + 1):
        assert decode_chunks([stream[:cut], stream[cut:]]) == [ServerSentEvent(data="你好世界")]


def test_byte_at_a_time() -> None:
    stream = "event: ε\ndata: 😀 ok\r\ndata: ü\r\r".encode()
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert decode_chunks(chunks) == [ServerSentEvent(data="😀 ok\nü", event="ε")]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\xff", "\ufffd"),
        (b"a\xc3", "a\ufffd"),
        (b"\xe4\xbd", "\ufffd"),  # a truncated 3-byte sequence is one replacement character
        (b"\xe4\xbdx", "\ufffdx"),
        (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # an encoded surrogate
        (b"\xc0\xaf", "\ufffd\ufffd"),  # an overlong encoding
        (b"ok\x80ok", "ok\ufffdok"),
    ],
)
def test_invalid_utf8_becomes_replacement_characters(raw: bytes, text: str) -> None:
    assert decode_whole(b"data: " + raw + b"\n\n") == [ServerSentEvent(data=text)]
    assert decode_whole(b"event: " + raw + b"\ndata: x\n\n") == [
        ServerSentEvent(data="x", event=text)
    ]


def test_fixture_f11_crlf_comments_named_events_multiline() -> None:
    stream = (
        b": keep-alive\r\n"
        b"\r\n"
        b"event: message\r\n"
        b'data: {"message": {"id": "b1", "author": {"role": "assistant"},\r\n'
        b'data:  "content": {"parts": ["CRLF text"]}}}\r\n'
        b"\r\n"
        b"data: [DONE]\r\n"
        b"\r\n"
    )
    expected = [
        ServerSentEvent(
            data=(
                '{"message": {"id": "b1", "author": {"role": "assistant"},\n'
                ' "content": {"parts": ["CRLF text"]}}}'
            ),
            event="message",
        ),
        ServerSentEvent(data="[DONE]"),
    ]
    assert decode_whole(stream) == expected
    for cut in range(len(stream) + 1):
        assert decode_chunks([stream[:cut], stream[cut:]]) == expected


# --- size limit -----------------------------------------------------------------------------


def test_event_too_large_carries_the_limit() -> None:
    decoder = SSEDecoder(max_event_size=16)
    with pytest.raises(EventTooLarge) as info:
        decoder.feed(b"data: " + b"x" * 40 + b"\n\n")
    assert info.value.limit == 16
    assert "16" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_data_at_the_limit_is_accepted() -> None:
    # Each data line costs its value plus one (the joining line feed): 2 x 8 = 16.
    assert decode_whole(b"data:abcdefg\ndata: abcdefg\n\n", 16) == [
        ServerSentEvent(data="abcdefg\nabcdefg")
    ]
    with pytest.raises(EventTooLarge):
        decode_whole(b"data:abcdefg\ndata: abcdefg\ndata:\n\n", 16)


def test_line_at_the_limit_is_accepted() -> None:
    assert decode_whole(b"data:" + b"x" * 11 + b"\n\n", 16) == [ServerSentEvent(data="x" * 11)]
    assert decode_whole(b":" + b"x" * 15 + b"\ndata: y\n\n", 16) == [ServerSentEvent(data="y")]
    with pytest.raises(EventTooLarge):
        decode_whole(b"data:" + b"x" * 12 + b"\n\n", 16)
    with pytest.raises(EventTooLarge):
        decode_whole(b"data:" + b"x" * 12, 16)  # unterminated


def test_many_small_data_lines_exceed_the_limit() -> None:
    decoder = SSEDecoder(max_event_size=20)
    with pytest.raises(EventTooLarge):
        for _ in range(10):
            decoder.feed(b"data: abcd\n")


def test_limit_is_per_event() -> None:
    stream = b"data: 0123456789\n\n" * 50
    assert len(decode_whole(stream, 16)) == 50


def test_unterminated_line_is_not_held_beyond_the_limit() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    decoder.feed(b": " + b"x" * 900)
    with pytest.raises(EventTooLarge):
        decoder.feed(b"x" * 200)


def test_long_line_without_terminator_in_pieces_raises_early() -> None:
    decoder = SSEDecoder(max_event_size=100)
    with pytest.raises(EventTooLarge):
        for _ in range(1000):
            decoder.feed(b"data: " if _ == 0 else b"y" * 10)


def test_long_complete_comment_line_raises() -> None:
    with pytest.raises(EventTooLarge):
        decode_whole(b": " + b"x" * 100 + b"\ndata: ok\n\n", 50)


def test_partial_data_line_counts_towards_the_event() -> None:
    decoder = SSEDecoder(max_event_size=30)
    decoder.feed(b"data: " + b"a" * 20 + b"\n")
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: " + b"b" * 15)


@FAST
@given(
    lines=st.lists(
        st.sampled_from([b"data: abc", b"data:defgh", b": comment here", b"", b"event: e"]),
        max_size=30,
    ),
    limit=st.integers(min_value=1, max_value=40),
    data=st.data(),
)
def test_whether_the_limit_raises_does_not_depend_on_chunking(
    lines: list[bytes], limit: int, data: st.DataObject
) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))

    def outcome(chunks: list[bytes]) -> object:
        try:
            return decode_chunks(chunks, limit)
        except EventTooLarge:
            return "too large"

    whole = outcome([stream])
    chunked = outcome(split_at(stream, cuts))
    # Chunking may let earlier events out before the error, but never changes whether it raises.
    assert (whole == "too large") == (chunked == "too large")
    if whole != "too large":
        assert chunked == whole


# --- any chunking gives the same events (property) ------------------------------------------

# Text for values: any code point except surrogates (not encodable) and line breaks.
line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=12,
)
ENDINGS = (b"\n", b"\r", b"\r\n")


@dataclass(frozen=True)
class Spec:
    comments: list[str]
    name: str | None
    event_id: str | None
    retry: int | None
    data: list[str]


specs = st.builds(
    Spec,
    comments=st.lists(line_text, max_size=2),
    name=st.none() | line_text,
    event_id=st.none() | line_text.filter(lambda s: "\x00" not in s),
    retry=st.none() | st.integers(min_value=0, max_value=10**12),
    data=st.lists(line_text, max_size=4),
)


def field_line(field: str, value: str, spaced: bool) -> str:
    # Without the optional space, a value that starts with a space would lose it.
    return f"{field}: {value}" if spaced or value.startswith(" ") else f"{field}:{value}"


def expected_events(events: list[Spec]) -> list[ServerSentEvent]:
    out: list[ServerSentEvent] = []
    last_id: str | None = None
    last_retry: int | None = None
    for spec in events:
        if spec.event_id is not None:
            last_id = spec.event_id
        if spec.retry is not None:
            last_retry = spec.retry
        if spec.data:
            out.append(ServerSentEvent("\n".join(spec.data), spec.name or "", last_id, last_retry))
    return out


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    events = draw(st.lists(specs, max_size=6))
    final_blank_line = draw(st.booleans())
    lines: list[str] = []
    for index, spec in enumerate(events):
        lines.extend(":" + c for c in spec.comments)
        if spec.name is not None:
            lines.append(field_line("event", spec.name, draw(st.booleans())))
        if spec.event_id is not None:
            lines.append(field_line("id", spec.event_id, draw(st.booleans())))
        if spec.retry is not None:
            lines.append(f"retry: {spec.retry}")
        for value in spec.data:
            if value == "" and draw(st.booleans()):
                lines.append("data")
            else:
                lines.append(field_line("data", value, draw(st.booleans())))
        if index < len(events) - 1 or final_blank_line:
            lines.append("")
    stream = b""
    previous = b""
    for line in lines:
        ending = draw(st.sampled_from(ENDINGS))
        if previous == b"\r" and line == "":
            ending = b"\r"  # CR then an empty line ending in LF would read as one CRLF
        stream += line.encode() + ending
        previous = ending
    return stream, expected_events(events)


@FAST
@given(case=streams(), data=st.data())
def test_any_chunking_yields_the_same_events(
    case: tuple[bytes, list[ServerSentEvent]], data: st.DataObject
) -> None:
    stream, expected = case
    assert decode_whole(stream) == expected
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    assert decode_chunks(split_at(stream, cuts)) == expected


@FAST
@given(case=streams())
def test_byte_by_byte_yields_the_same_events(case: tuple[bytes, list[ServerSentEvent]]) -> None:
    stream, expected = case
    assert decode_chunks([stream[i : i + 1] for i in range(len(stream))]) == expected


@FAST
@given(raw=st.binary(max_size=60), data=st.data())
def test_arbitrary_bytes_decode_like_whole_lines(raw: bytes, data: st.DataObject) -> None:
    value = raw.replace(b"\r", b"").replace(b"\n", b"")
    stream = b"data: " + value + b"\n\n"
    expected = [ServerSentEvent(data=value.decode("utf-8", "replace"))]
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    assert decode_chunks(split_at(stream, cuts)) == expected


# --- round trips ----------------------------------------------------------------------------


def encode_event(data: str, event: str | None = None) -> bytes:
    """One event in wire form; a multi-line ``data`` becomes several ``data:`` lines."""
    head = f"event: {event}\n" if event else ""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return (head + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


any_text = st.lists(
    st.characters(blacklist_categories=("Cs",)) | st.sampled_from(["\r", "\n", "\r\n", " ", ":"]),
    max_size=40,
).map("".join)


@FAST
@given(
    events=st.lists(
        st.tuples(any_text, st.none() | st.text(alphabet="abcdefgh_", min_size=1, max_size=8)),
        max_size=5,
    ),
    data=st.data(),
)
def test_encode_event_round_trips(
    events: list[tuple[str, str | None]], data: st.DataObject
) -> None:
    stream = b"".join(encode_event(text, name) for text, name in events)
    expected = [ServerSentEvent(data=normalise(text), event=name or "") for text, name in events]
    assert decode_whole(stream) == expected
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    assert decode_chunks(split_at(stream, cuts)) == expected


# --- long lines (read in place, issue 13 item 4) --------------------------------------------


@pytest.mark.parametrize("piece", [1, 1000, 65536, 70000, 1 << 20])
def test_long_lines_give_the_same_events_in_any_chunking(piece: int) -> None:
    long_text = "é" * 100_000 + "x" * 150_000  # 450,000 bytes: past the in-place threshold
    stream = (
        b": " + b"c" * 100_000 + b"\n"  # a long comment
        b"event: " + b"e" * 70_000 + b"\r\n"  # a long event name
        b"data: " + long_text.encode() + b"\r"
        b"data:second\n\n"
        b"data: " + b"y" * 80_000
    )
    whole = decode_chunks([stream], 1 << 20)
    chunks = [stream[i : i + piece] for i in range(0, len(stream), piece)]
    assert decode_chunks(chunks, 1 << 20) == whole
    assert [e.data for e in whole] == [long_text + "\nsecond", "y" * 80_000]
    assert whole[0].event == "e" * 70_000


def test_a_long_line_past_the_limit_raises_in_any_chunking() -> None:
    stream = b"data: " + b"z" * 300_000 + b"\n\n"
    for piece in (4096, 65536, len(stream)):
        chunks = [stream[i : i + piece] for i in range(0, len(stream), piece)]
        with pytest.raises(EventTooLarge):
            decode_chunks(chunks, 200_000)
