"""Reference proxy variant: Starlette on uvicorn, httpx client (to compare clients).

``REF_WEB_URL=... REF_MODELS=name=base,... uvicorn bench.ref_starlette_httpx:app``
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette

from bench import ref_common as ref
from bench.ref_starlette_aiohttp import make_app

CLIENT: dict[str, httpx.AsyncClient] = {}


async def _relay(
    url: str, body: bytes, headers: dict[str, str], answer: Any
) -> AsyncIterator[bytes]:
    events = ref.Events()
    async with CLIENT["c"].stream("POST", url, content=body, headers=headers) as resp:
        async for chunk in resp.aiter_raw():
            for data in events.feed(chunk):
                frame = answer.feed(data)
                if frame is not None:
                    yield frame


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=1000)
    CLIENT["c"] = httpx.AsyncClient(limits=limits, timeout=None)
    yield
    await CLIENT["c"].aclose()


app = make_app(_relay, lifespan)
