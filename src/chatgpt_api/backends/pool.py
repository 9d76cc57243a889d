"""One backend object per distinct upstream, built on demand and shared by all requests."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from chatgpt_api.backends.base import Backend
from chatgpt_api.backends.chatgpt_web import ChatGPTWebBackend
from chatgpt_api.backends.openai_api import OpenAIBackend
from chatgpt_api.backends.web_files import UploadCache
from chatgpt_api.backends.web_tools import WebToolEmulation
from chatgpt_api.netpolicy import request_upstreams
from chatgpt_api.netpolicy.session import RequestUpstreams
from chatgpt_api.registry import ModelRoute


@dataclass(frozen=True)
class BackendOptions:
    """The settings the backends need, as plain values (see ``app.backend_options``)."""

    reverse_proxy: str | None
    missing_url_message: str
    max_event_size: int
    max_answer_size: int
    max_upstream_body_size: int
    web_upload_cache_size: int
    web_upload_cache_ttl: float
    web_upload_max_file_size: int
    allow_request_upstreams: bool
    upstream_allowlist: str
    connect_timeout: float


class BackendPool:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        options: BackendOptions,
        upstreams: RequestUpstreams | None = None,
    ) -> None:
        self._http = http
        self._options = options
        #: Client-given upstream URLs: the network policy and its pinned session.
        self.request_upstreams = upstreams or request_upstreams(
            enabled=options.allow_request_upstreams,
            allowlist=options.upstream_allowlist,
            connect_timeout=options.connect_timeout,
        )
        self._backends: dict[tuple[str, str | None, bool, bool], Backend] = {}

    def for_route(self, route: ModelRoute) -> Backend:
        key = (route.backend, route.base_url, route.include_usage, route.emulate_tools)
        backend = self._backends.get(key)
        if backend is None:
            backend = self._backends[key] = self._build(route)
        return backend

    def _build(self, route: ModelRoute) -> Backend:
        max_event = self._options.max_event_size
        if route.backend == "chatgpt-web":
            web = ChatGPTWebBackend(
                self._http,
                default_url=route.base_url or self._options.reverse_proxy,
                max_event_size=max_event,
                request_upstreams=self.request_upstreams,
                missing_url_message=self._options.missing_url_message,
                max_answer_size=self._options.max_answer_size,
                upload_cache=UploadCache(
                    self._options.web_upload_cache_size, self._options.web_upload_cache_ttl
                ),
                max_file_size=self._options.web_upload_max_file_size,
            )
            # Tools and structured output by prompt emulation, for the routes that opt in.
            return WebToolEmulation(web) if route.emulate_tools else web
        assert route.base_url is not None
        return OpenAIBackend(
            self._http,
            name=route.backend,
            base_url=route.base_url,
            max_event_size=max_event,
            include_usage=route.include_usage,
            request_upstreams=self.request_upstreams,
            max_answer_size=self._options.max_answer_size,
            max_body_size=self._options.max_upstream_body_size,
        )

    async def close(self) -> None:
        """Close the per-request upstreams' session (the shared one belongs to the app)."""
        await self.request_upstreams.close()
