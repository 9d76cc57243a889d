"""The one check every route makes: who is calling, and which upstream credential they bring.

The presented key is the seed's ``api_key`` field, else ``Authorization: Bearer``, else
``x-api-key``. A valid gateway key makes its id the caller's ``owner`` and is never forwarded
upstream; anything shaped like a key (``cak-...``) that does not verify is a 401, required or
not. Keys are required when ``require_api_key`` is true, or unset while the database says so
(from the first key created until ``keys require off``). Otherwise an anonymous caller's Bearer
value passes through as the upstream credential. Without a store every key is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

from chatgpt_api.errors import ConfigurationError, InvalidAPIKey
from chatgpt_api.keys.format import looks_like_key
from chatgpt_api.keys.records import ApiKey

if TYPE_CHECKING:
    from chatgpt_api.keys.keystore import KeyStore

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
    def require_api_key(self) -> bool | None: ...


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
        state.require_api_key,
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
