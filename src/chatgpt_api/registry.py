"""The model registry: public model names → backend, upstream model and credentials.

Read from a TOML file (``CHATGPT_API_MODELS_FILE``): ``default_backend`` (``chatgpt-web`` or
``none``) and one ``[models."name"]`` table per model with ``backend``, ``upstream_model``,
``api_key_env`` / ``api_key``, ``base_url``, ``include_usage``, ``responses``
(``bridge`` | ``native``), ``emulate_tools`` and ``kind`` (``chat`` | ``embedding``); see
docs/configuration.md. With no file, every model name goes to the ChatGPT web backend under its
own name (the seed's behaviour). ``repr`` of a route masks its key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from chatgpt_api.errors import ConfigurationError, ModelNotFound

BackendKind = Literal["chatgpt-web", "openai", "openai-compatible"]
ModelKind = Literal["chat", "embedding"]
#: How ``POST /v1/responses`` reaches the model: bridged through chat completions (every
#: backend), or forwarded as it is to an upstream that serves the Responses API itself.
ResponsesMode = Literal["bridge", "native"]
OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    name: str
    backend: BackendKind
    upstream_model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    include_usage: bool = True
    listed: bool = True
    kind: ModelKind = "chat"
    responses: ResponsesMode = "bridge"
    #: Tool calling and structured output by prompt emulation (chatgpt-web routes only).
    emulate_tools: bool = False


class _RouteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: BackendKind
    upstream_model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    include_usage: bool = True
    kind: ModelKind = "chat"
    responses: ResponsesMode = "bridge"
    emulate_tools: bool = False


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_backend: BackendKind | Literal["none"] = "chatgpt-web"
    models: dict[str, _RouteFile] = {}


class ModelRegistry:
    """Resolves public model names; unlisted names go to the default backend, if any."""

    def __init__(
        self, routes: list[ModelRoute], default_backend: BackendKind | None = "chatgpt-web"
    ) -> None:
        self._routes = {route.name: route for route in routes}
        self._default_backend = default_backend

    @classmethod
    def from_file(cls, path: Path) -> ModelRegistry:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            parsed = _RegistryFile.model_validate(raw)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the models file {path}: {exc.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"the models file {path} is not valid TOML: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigurationError(f"the models file {path} is invalid: {problems}") from None
        routes = [_route(name, spec) for name, spec in parsed.models.items()]
        default = None if parsed.default_backend == "none" else parsed.default_backend
        return cls(routes, default)

    def resolve(self, name: str) -> ModelRoute:
        route = self._routes.get(name)
        if route is not None:
            return route
        if self._default_backend is None:
            raise ModelNotFound(name)
        return ModelRoute(name, self._default_backend, name, listed=False)

    def listed(self) -> list[ModelRoute]:
        return list(self._routes.values())

    @property
    def default_backend(self) -> BackendKind | None:
        """Where unlisted model names go (None: they are refused)."""
        return self._default_backend


def _route(name: str, spec: _RouteFile) -> ModelRoute:
    api_key = spec.api_key
    if spec.api_key_env:
        api_key = os.environ.get(spec.api_key_env) or api_key
    base_url = spec.base_url
    if spec.backend == "openai" and base_url is None:
        base_url = OPENAI_BASE_URL
    if spec.backend == "openai-compatible" and base_url is None:
        raise ConfigurationError(f"model {name!r}: backend openai-compatible needs a base_url")
    if spec.kind == "embedding" and spec.backend == "chatgpt-web":
        raise ConfigurationError(
            f"model {name!r}: an embedding model needs an openai or openai-compatible backend"
        )
    if spec.responses == "native" and spec.backend == "chatgpt-web":
        raise ConfigurationError(
            f'model {name!r}: responses = "native" needs an openai or openai-compatible backend'
        )
    if spec.emulate_tools and spec.backend != "chatgpt-web":
        raise ConfigurationError(
            f"model {name!r}: emulate_tools is for chatgpt-web routes (an {spec.backend} "
            "backend calls tools natively)"
        )
    return ModelRoute(
        name=name,
        backend=spec.backend,
        upstream_model=spec.upstream_model or name,
        base_url=base_url,
        api_key=api_key,
        include_usage=spec.include_usage,
        kind=spec.kind,
        responses=spec.responses,
        emulate_tools=spec.emulate_tools,
    )
