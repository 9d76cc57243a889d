"""Images and files on the chatgpt-web backend through the web file upload flow (issue 12
item 1): the gateway against the emulator, real servers, the openai SDK and the seed route."""

from __future__ import annotations

import base64
import logging
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from chatgpt_api.testing import EmulatorThread, RecordedRequest
from tests.servers import ServiceThread

TOKEN = "tok-UPLOADCHECK-0001"


def png(width: int, height: int, colour: int = 0) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([colour, 0, 0]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def data_url(data: bytes, mime_type: str = "image/png") -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode()}"


def image_message(text: str, image: bytes) -> dict[str, object]:
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": data_url(image)}},
        ],
    }


@pytest.fixture(scope="module")
def web(emulator: EmulatorThread) -> Iterator[ServiceThread]:
    with ServiceThread(reverse_proxy=f"{emulator.url}/backend-api/conversation") as svc:
        yield svc


@pytest.fixture()
def sdk(web: ServiceThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{web.url}/v1", api_key=TOKEN, max_retries=0)


def flow(requests: list[RecordedRequest]) -> list[str]:
    """The upload flow and the turn as the emulator saw them, one word per request."""
    names = []
    for r in requests:
        if r.method == "PUT" and r.path.startswith("/blob/"):
            names.append("upload")
        elif r.path.endswith("/uploaded"):
            names.append("confirm")
        elif r.path.endswith("/files"):
            names.append("create")
        elif r.path.endswith("/conversation"):
            names.append("conversation")
    return names


def test_an_image_goes_through_the_upload_flow_once(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    image = png(3, 2, colour=7)
    emulator.clear()
    first = sdk.chat.completions.create(
        model="gpt-3.5-turbo", messages=[image_message("What is this?", image)]
    )
    answer = first.choices[0].message.content or ""
    assert 'You said: "What is this?"' in answer
    assert "I see 1 image: image/png 3x2." in answer
    requests = emulator.requests
    assert flow(requests) == ["create", "upload", "confirm", "conversation"]
    create, upload, confirm, turn = requests
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    assert create.json["file_size"] == len(image) and create.json["use_case"] == "multimodal"
    assert "authorization" not in upload.headers  # the signed URL never gets the token
    assert upload.headers["x-ms-blob-type"] == "BlockBlob"
    assert upload.headers["content-type"] == "image/png" and upload.body == image
    assert confirm.headers["authorization"] == f"Bearer {TOKEN}"
    (message,) = turn.json["messages"]
    file_id = confirm.path.split("/")[-2]
    assert message["content"] == {
        "content_type": "multimodal_text",
        "parts": [
            {
                "content_type": "image_asset_pointer",
                "asset_pointer": f"file-service://{file_id}",
                "size_bytes": len(image),
                "width": 3,
                "height": 2,
            },
            "What is this?",
        ],
    }
    (attached,) = message["metadata"]["attachments"]
    assert attached["id"] == file_id and attached["mime_type"] == "image/png"
    assert (attached["size"], attached["width"], attached["height"]) == (len(image), 3, 2)

    # A follow-up in the same conversation with the same image: no second upload.
    emulator.clear()
    follow = sdk.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[image_message("And now?", image)],
        extra_body={
            "conversation_id": first.model_extra["conversation_id"],  # type: ignore[index]
            "parent_message_id": first.model_extra["message_id"],  # type: ignore[index]
        },
    )
    assert "turn 2 of this conversation. I see 1 image" in (follow.choices[0].message.content or "")
    assert flow(emulator.requests) == ["conversation"]
    (message,) = emulator.requests[0].json["messages"]
    assert message["content"]["parts"][0]["asset_pointer"] == f"file-service://{file_id}"


def test_streamed_image_question(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    emulator.clear()
    stream = sdk.chat.completions.create(
        model="gpt-3.5-turbo", messages=[image_message("Streamed?", png(5, 4))], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "I see 1 image: image/png 5x4." in text
    assert flow(emulator.requests) == ["create", "upload", "confirm", "conversation"]


def test_a_file_part_is_attached(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    emulator.clear()
    notes = b"line one\nline two\n"
    answer = sdk.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Summarise"},
                    {
                        "type": "file",
                        "file": {
                            "filename": "notes.txt",
                            "file_data": data_url(notes, "text/plain"),
                        },
                    },
                ],
            }
        ],
    )
    assert "I see 1 file: notes.txt (text/plain, 18 bytes)." in (
        answer.choices[0].message.content or ""
    )
    create, _, _, turn = emulator.requests
    assert create.json == {"file_name": "notes.txt", "file_size": 18, "use_case": "my_files"}
    (message,) = turn.json["messages"]
    assert message["content"] == {"content_type": "text", "parts": ["Summarise"]}
    (attached,) = message["metadata"]["attachments"]
    assert {k: attached[k] for k in ("name", "size", "mime_type")} == {
        "name": "notes.txt",
        "size": 18,
        "mime_type": "text/plain",
    }
    assert "width" not in attached


def test_send_message_takes_multipart_files(web: ServiceThread, emulator: EmulatorThread) -> None:
    emulator.clear()
    response = httpx.post(
        f"{web.url}/send_message",
        data={"access_token": TOKEN, "prompt": "Look"},
        files=[
            ("file", ("pic.png", png(2, 2), "image/png")),
            ("file", ("a.csv", b"a,b\n1,2\n", "text/csv")),
        ],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    text = response.json()["text"]
    assert "I see 1 image: image/png 2x2. I see 1 file: a.csv (text/csv, 8 bytes)." in text
    assert flow(emulator.requests) == [
        *("create", "upload", "confirm"),
        *("create", "upload", "confirm"),
        "conversation",
    ]


def test_send_message_file_limits_and_old_messages(emulator: EmulatorThread) -> None:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", web_upload_max_file_size=100
    ) as svc:
        big = httpx.post(
            f"{svc.url}/send_message",
            data={"access_token": TOKEN, "prompt": "Look"},
            files={"file": ("big.bin", b"x" * 101)},
        )
        assert big.status_code == 500
        assert big.json() == {
            "message": 'invalid [file]: "big.bin" is 101 bytes, over the limit of 100 bytes '
            "(setting web_upload_max_file_size)"
        }
        other = httpx.post(
            f"{svc.url}/send_message",
            data={"access_token": TOKEN},
            files={"prompt": ("p.txt", b"hi")},
        )
        assert other.json() == {"message": "invalid [prompt]: file uploads are not accepted"}


@pytest.mark.parametrize(
    ("step", "where"),
    [
        (
            "create",
            "step 'create' (POST /upload-faults/create/backend-api/files): ChatGPT error 500",
        ),
        ("upload", "step 'upload': PUT to 127.0.0.1 answered 500: ServerBusy"),
        ("confirm", "step 'confirm' (POST /upload-faults/confirm/backend-api/files/"),
    ],
)
def test_a_failing_upload_step_is_a_clear_502(
    emulator: EmulatorThread, step: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/upload-faults/{step}/backend-api/conversation"
    ) as svc:
        emulator.clear()
        response = httpx.post(
            f"{svc.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {TOKEN}"},
            json={"model": "gpt-3.5-turbo", "messages": [image_message("hi", png(1, 1))]},
            timeout=30,
        )
    assert response.status_code == 502, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("ChatGPT file upload failed at ")
    assert where in message
    assert "conversation" not in flow(emulator.requests)  # nothing sent without its file
    # The fault quotes the token back: redacted. The signed upload URL is never shown.
    assert TOKEN not in response.text and "sig=" not in response.text
    assert TOKEN not in caplog.text and "sig=" not in caplog.text


def test_an_http_image_url_is_refused(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    emulator.clear()
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="gpt-3.5-turbo",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "http://169.254.169.254/x.png"}},
                    ],
                }
            ],
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "messages[0].content[1].image_url.url"
    assert "image URLs are not fetched on the chatgpt-web backend" in error["message"]
    assert emulator.requests == []


def test_bad_images_and_files_are_400s(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    cases = [
        ({"type": "image_url", "image_url": {"url": data_url(b"GIF89a")}}, "image_url.url"),
        (
            {"type": "image_url", "image_url": {"url": data_url(png(1, 1)), "detail": "high"}},
            "image_url.detail",
        ),
        ({"type": "file", "file": {"file_id": "file-abc"}}, "file.file_id"),
        ({"type": "file", "file": {"file_data": "***"}}, "file.file_data"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, ""),
    ]
    emulator.clear()
    for part, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.chat.completions.create(
                model="gpt-3.5-turbo", messages=[{"role": "user", "content": [part]}]
            )
        body = caught.value.body
        assert isinstance(body, dict)
        assert body["param"] == f"messages[0].content[0]{'.' + param if param else ''}", body
    assert emulator.requests == []


def test_the_emulator_checks_every_reference(emulator: EmulatorThread) -> None:
    body = {
        "action": "next",
        "messages": [
            {
                "id": "0b7c5f3e-2d41-4e8a-9c6b-1f2e3d4c5b6a",
                "author": {"role": "user"},
                "content": {
                    "content_type": "multimodal_text",
                    "parts": [
                        {
                            "content_type": "image_asset_pointer",
                            "asset_pointer": "file-service://file-neveruploaded",
                            "size_bytes": 10,
                            "width": 1,
                            "height": 1,
                        },
                        "hi",
                    ],
                },
            }
        ],
        "model": "auto",
        "parent_message_id": "9d8c7b6a-5f4e-4d3c-8b2a-1908a7b6c5d4",
    }
    url = f"{emulator.url}/backend-api/conversation"
    headers = {"authorization": "Bearer someone"}
    response = httpx.post(url, content=orjson.dumps(body), headers=headers)
    assert response.status_code == 400
    assert response.json()["detail"]["message"] == "File file-neveruploaded not found"
    # Created but never uploaded nor confirmed: refused too.
    created = httpx.post(
        f"{emulator.url}/backend-api/files",
        json={"file_name": "a.png", "file_size": 10, "use_case": "multimodal"},
        headers=headers,
    ).json()
    body["messages"][0]["content"]["parts"][0]["asset_pointer"] = (  # type: ignore[index]
        f"file-service://{created['file_id']}"
    )
    response = httpx.post(url, content=orjson.dumps(body), headers=headers)
    assert response.status_code == 400
    assert "was not uploaded" in response.json()["detail"]["message"]


def test_demo_model_answers_about_an_image(tmp_path: Path) -> None:
    with ServiceThread(demo=True, home=tmp_path) as svc:
        client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key="anything", max_retries=0)
        answer = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[image_message("What is it?", png(1, 1))]
        )
        models = {m.id: m for m in client.models.list()}
    assert "I see 1 image: image/png 1x1." in (answer.choices[0].message.content or "")
    capabilities = (models["gpt-3.5-turbo"].model_extra or {})["capabilities"]
    assert capabilities["images"] == capabilities["files"] == "native"


def test_a_client_reverse_proxy_upload_url_passes_the_network_policy(
    emulator: EmulatorThread,
) -> None:
    with ServiceThread(upstream_allowlist="127.0.0.1") as svc:
        fields = {"access_token": TOKEN, "prompt": "Look"}
        image = {"file": ("pic.png", png(2, 3), "image/png")}
        emulator.clear()
        allowed = httpx.post(
            f"{svc.url}/send_message",
            data={**fields, "reverse_proxy": f"{emulator.url}/backend-api/conversation"},
            files=image,
            timeout=30,
        )
        assert allowed.status_code == 200, allowed.text
        assert "I see 1 image: image/png 2x3." in allowed.json()["text"]
        emulator.clear()
        elsewhere = f"{emulator.url}/upload-faults/elsewhere/backend-api/conversation"
        refused = httpx.post(
            f"{svc.url}/send_message",
            data={**fields, "reverse_proxy": elsewhere},
            files=image,
            timeout=30,
        )
    assert refused.status_code == 500
    assert refused.json() == {
        "message": "ChatGPT file upload failed at step 'upload': the upload URL the upstream "
        "returned is refused: reverse_proxy refused: 127.0.0.2 is a loopback address (allow it "
        "with CHATGPT_API_UPSTREAM_ALLOWLIST)"
    }
    assert flow(emulator.requests) == ["create"]  # no PUT, no conversation


def test_anthropic_image_blocks_are_uploaded(web: ServiceThread, emulator: EmulatorThread) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=web.url, api_key=TOKEN, max_retries=0)
    emulator.clear()
    message = client.messages.create(
        model="gpt-3.5-turbo",
        max_tokens=200,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Which size?"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(png(7, 9)).decode(),
                        },
                    },
                ],
            }
        ],
    )
    text = message.content[0].text  # type: ignore[union-attr]
    assert "I see 1 image: image/png 7x9." in text
    assert flow(emulator.requests) == ["create", "upload", "confirm", "conversation"]


def test_no_secret_in_logs_rows_or_answers(
    emulator: EmulatorThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    image = png(4, 4, colour=99)
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", home=tmp_path
    ) as svc:
        client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key=TOKEN, max_retries=0)
        answer = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[image_message("secret check", image)]
        )
        conversation = httpx.get(
            f"{svc.url}/v1/conversations/{answer.model_extra['conversation_id']}",  # type: ignore[index]
            headers={"authorization": f"Bearer {TOKEN}"},
        ).text
    assert "secret check" in conversation
    signatures = [r.query_string for r in emulator.requests if r.path.startswith("/blob/")]
    assert signatures
    secrets = [TOKEN, *signatures]
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in conversation and secret not in answer.model_dump_json()
        assert secret.encode() not in stored


def test_a_file_the_upstream_lost_is_uploaded_again_on_retry(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    image = png(6, 6, colour=42)
    messages = [image_message("Remember this", image)]
    sdk.chat.completions.create(model="gpt-3.5-turbo", messages=messages)  # cached now
    httpx.delete(f"{emulator.url}/_emulator/files")  # the upstream forgets its files
    emulator.clear()
    with pytest.raises(openai.BadRequestError) as lost:
        sdk.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
    assert "not found" in str(lost.value.body)
    assert flow(emulator.requests) == ["conversation"]  # the cached file_id was used
    emulator.clear()
    again = sdk.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
    assert "I see 1 image: image/png 6x6." in (again.choices[0].message.content or "")
    assert flow(emulator.requests) == ["create", "upload", "confirm", "conversation"]
