"""The whole exception tree of the service.

Every error that can reach a client is a :class:`ServiceError`. It carries the message shown to
the client, the HTTP status used by status-aware surfaces (the seed routes always answer 500, as
the original did) and an OpenAI-style ``type``/``code`` for the ``/v1`` surface::

    ServiceError
    ├── RequestError                  the client's input is unusable (400)
    │   ├── BodyTooLarge              "request entity too large" (413)
    │   └── UnsupportedMediaType      a body we cannot parse (415)
    ├── ConfigurationError            a setting the request needs is missing (500)
    └── UpstreamError                 talking to the upstream failed (502)
        ├── UpstreamURLError          "Failed to parse URL from <url>"
        ├── UpstreamConnectError      "fetch failed" (connection refused, DNS, TLS, ...)
        ├── UpstreamStatusError       "ChatGPT error <status>: <body>" (non-2xx, 2xx JSON)
        ├── UpstreamProtocolError     the upstream broke the protocol (bad JSON, huge event, ...)
        ├── UpstreamStreamError       the stream carried an error string of its own
        ├── UpstreamNoAnswer          the stream ended without any assistant message
        ├── UpstreamTerminated        "terminated": the stream was cut before its end
        └── UpstreamTimeout           "ChatGPT timed out waiting for response" (504)

Messages never contain secrets: builders of messages that include upstream text run it through
:func:`chatgpt_api.redact.redact_text` first.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error that is turned into a response."""

    status: int = 500
    error_type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(ServiceError):
    status = 400
    error_type = "invalid_request_error"


class BodyTooLarge(RequestError):
    status = 413
    code = "request_too_large"

    def __init__(self) -> None:
        super().__init__("request entity too large")


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported_media_type"


class ConfigurationError(ServiceError):
    status = 500
    error_type = "server_error"
    code = "not_configured"


class UpstreamError(ServiceError):
    status = 502
    error_type = "upstream_error"


class UpstreamURLError(UpstreamError):
    code = "invalid_upstream_url"

    def __init__(self, url: str) -> None:
        super().__init__(f"Failed to parse URL from {url}")


class UpstreamConnectError(UpstreamError):
    code = "upstream_unreachable"

    def __init__(self) -> None:
        super().__init__("fetch failed")


class UpstreamStatusError(UpstreamError):
    code = "upstream_status"

    def __init__(self, message: str, upstream_status: int) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol_error"


class UpstreamStreamError(UpstreamError):
    code = "upstream_stream_error"


class UpstreamNoAnswer(UpstreamError):
    code = "upstream_no_answer"


class UpstreamTerminated(UpstreamError):
    """The upstream stream was cut off; ``partial_text`` is what had arrived."""

    code = "upstream_terminated"

    def __init__(self, partial_text: str = "") -> None:
        super().__init__("terminated")
        self.partial_text = partial_text


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"

    def __init__(self) -> None:
        super().__init__("ChatGPT timed out waiting for response")
