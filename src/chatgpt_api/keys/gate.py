"""The one check every route makes: who is calling, and which upstream credential they bring.

``caller = await authenticate(request, field_value=...)`` (``field_value`` is the ``api_key``
field of a seed route's body; None elsewhere). The presented key is the ``api_key`` field if
given, else the ``Authorization: Bearer`` value, else the ``x-api-key`` header (the Anthropic
SDKs' way; treated exactly as a Bearer value). Rules:

* A valid gateway key authenticates the caller: ``caller.owner`` is the key's id (the owner of
  the conversations it makes) and the key is never forwarded upstream
  (``caller.upstream_credential`` is None; the upstream credential then comes from
  configuration or, on ``/send_message``, the ``access_token`` field).
* Anything shaped like a gateway key (``cak-...``) that does not verify — unknown, revoked,
  malformed — and an ``api_key`` field that does not verify are refused with
  :class:`~chatgpt_api.errors.InvalidAPIKey` (401), whether keys are required or not: such a
  value must never reach an upstream.
* Keys are required when ``require_api_key`` is True, or when it is unset (None) and the
  database says so (the cached :meth:`KeyPolicy.required
  <chatgpt_api.keys.key_policy.KeyPolicy.required>`): from the moment the first key is created
  until the operator runs ``chatgpt-api keys require off`` — revoking every key does not open
  the service again. Then a request without a valid key is refused; in particular a Bearer
  value that is not a gateway key is refused rather than passed through.
* Keys not required and no key presented: ``owner`` is None (anonymous) and a Bearer value is
  today's pass-through upstream credential (a ChatGPT access token or an OpenAI key on /v1).

Without a key store (``store=False``) keys are not available: every presented gateway key is
refused, and ``require_api_key=True`` is refused at start-up (:func:`check_key_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from chatgpt_api.config import Settings
from chatgpt_api.errors import ConfigurationError, InvalidAPIKey
from chatgpt_api.keys.format import looks_like_key
from chatgpt_api.keys.keystore import ApiKey, KeyStore

REQUIRES_STORE = (
    "require_api_key needs the store (API keys are kept in its database): turn the store on "
    "or stop requiring keys"
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: a gateway key, or anonymous (``key`` None)."""

    key: ApiKey | None = None
    #: A credential the client sent for the upstream (a non-key Bearer value), if any.
    upstream_credential: str | None = None

    @property
    def owner(self) -> str | None:
        """The owner of the conversations this caller makes and sees."""
        return None if self.key is None else self.key.id


class GateState(Protocol):
    """What :func:`authenticate` reads from the app state (``api.state.AppState`` has it)."""

    @property
    def keys(self) -> KeyStore | None: ...

    @property
    def settings(self) -> Settings: ...


def bearer_token(request: Request) -> str | None:
    """The value of an ``Authorization: Bearer <value>`` header, if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def presented_credential(request: Request) -> str | None:
    """The ``Authorization: Bearer`` value, else the ``x-api-key`` header (Anthropic's)."""
    return bearer_token(request) or (request.headers.get("x-api-key", "").strip() or None)


def check_key_settings(require_api_key: bool | None, *, store: bool) -> None:
    """Refuse settings that cannot work: keys required but nowhere to keep them."""
    if require_api_key and not store:
        raise ConfigurationError(REQUIRES_STORE)


async def authenticate(request: Request, *, field_value: str | None = None) -> Caller:
    """The caller of ``request``, or :class:`InvalidAPIKey`; see the module docstring."""
    state: GateState = request.app.state.chatgpt
    return await identify(
        state.keys,
        state.settings.require_api_key,
        bearer=presented_credential(request),
        field_value=field_value or None,
    )


async def identify(
    keys: KeyStore | None,
    require: bool | None,
    *,
    bearer: str | None,
    field_value: str | None,
) -> Caller:
    """The rules of :func:`authenticate`, apart from the request."""
    presented = field_value or bearer
    if presented is not None and (field_value is not None or looks_like_key(presented)):
        record = None if keys is None else await keys.verify(presented)
        if record is None:
            raise InvalidAPIKey()
        return Caller(record)
    if await _required(keys, require):
        raise InvalidAPIKey()
    return Caller(None, upstream_credential=bearer)


async def _required(keys: KeyStore | None, require: bool | None) -> bool:
    if require is not None:
        return require
    return keys is not None and await keys.policy.required()
