"""The whole exception tree of the service.

Every error that can reach a client is a :class:`ServiceError`: the message shown to the client,
the HTTP status of status-aware surfaces (the seed routes always answer 500, as the original
did) and an OpenAI-style ``type``/``code`` for ``/v1``. :class:`RequestError` (400 and its
401/403/404/413/415 kinds), :class:`ConfigurationError` (500) and :class:`UpstreamError` (502,
504 for a timeout) are the three branches. Messages never contain secrets: the errors that carry
upstream text take the request's ``secrets=`` and redact it in their constructor.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatgpt_api.redact import redact_text


class ServiceError(Exception):
    """Base of every error that is turned into a response."""

    status: int = 500
    error_type: str = "server_error"
    code: str | None = None
    #: The request field the error is about, if any (OpenAI's ``param``).
    param: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if param is not None:
            self.param = param


class RequestError(ServiceError):
    status = 400
    error_type = "invalid_request_error"


class BodyTooLarge(RequestError):
    status = 413
    code = "request_too_large"

    def __init__(self, message: str = "request entity too large") -> None:
        super().__init__(message)


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported_media_type"


class AuthenticationError(RequestError):
    status = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class InvalidAPIKey(AuthenticationError):
    """The request has no valid gateway API key and needs one, or names an unknown, revoked or
    malformed one. The only error the seed routes answer with a status other than 500."""

    def __init__(self) -> None:
        super().__init__("invalid or missing API key")


class ModelNotFound(RequestError):
    status = 404
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.", param="model"
        )
        self.model = model


class NotFound(RequestError):
    status = 404
    code = "not_found"


class ConfigurationError(ServiceError):
    status = 500
    error_type = "server_error"
    code = "not_configured"


class UpstreamNotConfigured(ConfigurationError):
    """A ChatGPT web model with no conversation URL anywhere (settings, models file, request).

    ``message`` is for ``/v1`` and the CLI, which have no ``reverse_proxy`` field; the seed
    routes show ``seed_message`` (their request may bring a ``reverse_proxy``).
    """

    def __init__(self, model: str) -> None:
        super().__init__(
            f"no upstream configured for model `{model}` (chatgpt-web): set "
            "CHATGPT_API_REVERSE_PROXY (or --reverse-proxy) to a ChatGPT web conversation URL, "
            "or route the model to another backend in a models file (--models-file); "
            "to try it offline: chatgpt-api serve --demo"
        )
        self.seed_message = (
            "no upstream configured: set CHATGPT_API_REVERSE_PROXY (or --reverse-proxy) "
            "or pass [reverse_proxy] in the request"
        )


class UpstreamError(ServiceError):
    status = 502
    error_type = "upstream_error"


class UpstreamURLError(UpstreamError):
    code = "invalid_upstream_url"

    def __init__(self, url: str) -> None:
        super().__init__(f"Failed to parse URL from {url}")


class UpstreamConnectError(UpstreamError):
    """No response from the upstream: the message names it by ``host:port`` only (never a path,
    a query or userinfo, where secrets may live) and says why (refused, DNS, TLS, ...)."""

    code = "upstream_unreachable"

    def __init__(self, upstream: str | None = None, reason: str | None = None) -> None:
        detail = f": cannot reach {upstream}" if upstream else ""
        if upstream and reason:
            detail += f" ({reason})"
        super().__init__("fetch failed" + detail)


class UpstreamStatusError(UpstreamError):
    """The upstream answered a non-2xx status (or an error object with a 2xx).

    ``upstream_status`` and ``retry_after`` (seconds, from the upstream's ``Retry-After``) let
    status-aware surfaces answer in kind: an upstream 429 stays a 429, a 5xx becomes a 502.
    The message and ``upstream_code`` are upstream text: both are redacted against
    ``secrets`` (the credentials the request carried) and the generic secret patterns.
    """

    code = "upstream_status"

    def __init__(
        self,
        message: str,
        upstream_status: int,
        *,
        secrets: Iterable[str | None],
        retry_after: float | None = None,
        upstream_code: str | None = None,
    ) -> None:
        known = tuple(secrets)
        super().__init__(redact_text(message, known))
        self.upstream_status = upstream_status
        self.retry_after = retry_after
        self.upstream_code = None if upstream_code is None else redact_text(upstream_code, known)


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol_error"


class UpstreamStreamError(UpstreamError):
    """The upstream's stream (or its 2xx JSON reply) carried an error of its own.

    The message is upstream text, redacted against ``secrets`` (the credentials the request
    carried) and the generic secret patterns.
    """

    code = "upstream_stream_error"

    def __init__(self, message: str, *, secrets: Iterable[str | None]) -> None:
        super().__init__(redact_text(message, secrets))


class UpstreamUploadError(UpstreamError):
    """A step of the ChatGPT web file upload flow failed (the message names the step); the
    text is redacted against ``secrets`` (issue 12 item 1, docs/chatgpt-web-files.md)."""

    code = "upstream_upload_failed"

    def __init__(self, message: str, *, secrets: Iterable[str | None] = ()) -> None:
        super().__init__(redact_text(message, secrets))


class UpstreamNoAnswer(UpstreamError):
    code = "upstream_no_answer"


class UpstreamTerminated(UpstreamError):
    """The upstream stream was cut off; ``partial_text`` is what had arrived."""

    code = "upstream_terminated"

    def __init__(self, partial_text: str = "") -> None:
        super().__init__("terminated")
        self.partial_text = partial_text


class AnswerTooLarge(UpstreamError):
    """The upstream's answer (or reply body) outgrew its configured limit."""

    code = "answer_too_large"

    def __init__(self, limit: int, setting: str = "max_answer_size") -> None:
        flag = "--" + setting.replace("_", "-")
        env = "CHATGPT_API_" + setting.upper()
        what = "answer" if setting == "max_answer_size" else "upstream reply body"
        super().__init__(
            f"the {what} exceeded the limit of {limit} bytes (setting {setting}: {flag} or {env})"
        )
        self.limit = limit
        self.setting = setting


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"

    def __init__(self) -> None:
        super().__init__("ChatGPT timed out waiting for response")


class UpstreamForbidden(RequestError):
    """A client-given upstream URL (``reverse_proxy``) that the network policy refuses.

    The message names the host and the reason, never the URL's userinfo; see
    :mod:`chatgpt_api.netpolicy`.
    """

    status = 403
    code = "upstream_forbidden"
