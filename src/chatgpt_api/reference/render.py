"""The API reference page: HTML generated on the server from the OpenAPI document.

No script at all and one stylesheet from this origin, so the page works under the strict
Content-Security-Policy the app sets (nothing inline, nothing from another host). Every
operation gets an anchor ``#<method>-<path>`` (``#post-send_message``, ``#get-v1-models``);
every component schema ``#schema-<Name>``; ``$ref``s become links to them. All text from the
document is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from chatgpt_api import __version__

REF_PREFIX = "#/components/schemas/"
METHODS = ("get", "post", "put", "patch", "delete")


def operation_anchor(method: str, path: str) -> str:
    """``post-send_message``, ``get-v1-conversations-id``: stable, URL-safe anchors."""
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", path).strip("-") or "root"
    return f"{method.lower()}-{slug}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def type_label(schema: Any) -> str:
    """A short HTML description of ``schema``'s type, with links for ``$ref``s."""
    if not isinstance(schema, dict) or not schema:
        return "any"
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(REF_PREFIX)
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    if "const" in schema:
        return f"<code>{_e(repr(schema['const']).strip(chr(39)))}</code>"
    if "enum" in schema:
        return " | ".join(f"<code>{_e(value)}</code>" for value in schema["enum"])
    for combinator, joiner in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")):
        if combinator in schema:
            return joiner.join(type_label(part) for part in schema[combinator])
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if isinstance(kind, list):
        label = " | ".join(_e(k) for k in kind)
    elif kind == "array":
        label = f"array of {type_label(schema.get('items'))}"
    else:
        label = _e(kind)
    return label + _constraints(schema)


def _constraints(schema: dict[str, Any]) -> str:
    words = {
        "minLength": "min length",
        "maxLength": "max length",
        "minimum": "≥",
        "maximum": "≤",
        "maxItems": "at most",
        "minItems": "at least",
        "pattern": "pattern",
        "format": "format",
    }
    found = [f"{label} {_e(schema[key])}" for key, label in words.items() if key in schema]
    return f" <small>({', '.join(found)})</small>" if found else ""


def _properties_table(schema: dict[str, Any]) -> str:
    properties: dict[str, Any] = schema.get("properties") or {}
    if not properties:
        return ""
    required = set(schema.get("required") or ())
    rows = "".join(
        f"<tr><td><code>{_e(name)}</code>{' <b>required</b>' if name in required else ''}</td>"
        f"<td>{type_label(spec)}</td><td>{_e(_description(spec))}</td></tr>"
        for name, spec in properties.items()
    )
    return (
        "<table><thead><tr><th>Field</th><th>Type</th><th>Meaning</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _description(spec: Any) -> str:
    return str(spec.get("description", "")) if isinstance(spec, dict) else ""


def _parameters(operation: dict[str, Any]) -> str:
    parameters = operation.get("parameters") or []
    if not parameters:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(p['name'])}</code>{' <b>required</b>' if p.get('required') else ''}"
        f"</td><td>{_e(p.get('in', ''))}</td><td>{type_label(p.get('schema'))}</td>"
        f"<td>{_e(p.get('description', ''))}</td></tr>"
        for p in parameters
    )
    return (
        "<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th>"
        f"<th>Meaning</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _content(content: dict[str, Any] | None) -> str:
    if not content:
        return ""
    items = "".join(
        f"<li><code>{_e(media)}</code>"
        + (f": {type_label(spec['schema'])}" if isinstance(spec, dict) and "schema" in spec else "")
        + "</li>"
        for media, spec in content.items()
    )
    return f"<ul>{items}</ul>"


def _request_body(operation: dict[str, Any]) -> str:
    body = operation.get("requestBody")
    if not body:
        return ""
    return f"<h4>Request body</h4>{_content(body.get('content'))}"


def _responses(operation: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(status)}</code></td><td>{_e(response.get('description', ''))}"
        f"{_content(response.get('content'))}</td></tr>"
        for status, response in (operation.get("responses") or {}).items()
    )
    return (
        "<h4>Responses</h4><table><thead><tr><th>Status</th><th>Answer</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _operations(document: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _operation_section(method: str, path: str, operation: dict[str, Any]) -> str:
    anchor = operation_anchor(method, path)
    description = operation.get("description")
    return (
        f'<section class="operation" id="{_e(anchor)}">'
        f'<h3><span class="method {_e(method)}">{_e(method.upper())}</span> '
        f"<code>{_e(path)}</code></h3>"
        f"<p>{_e(operation.get('summary', ''))}</p>"
        + (f"<p>{_e(description)}</p>" if description else "")
        + _parameters(operation)
        + _request_body(operation)
        + _responses(operation)
        + "</section>"
    )


def _schema_section(name: str, schema: dict[str, Any]) -> str:
    description = schema.get("description")
    table = _properties_table(schema)
    return (
        f'<section class="schema" id="schema-{_e(name)}"><h3>{_e(name)}</h3>'
        + (f"<p>{_e(description)}</p>" if description else "")
        + (table or f"<p>{type_label(schema)}</p>")
        + "</section>"
    )


def render_reference(document: dict[str, Any]) -> str:
    """The whole page for ``document`` (an OpenAPI 3.1 dictionary)."""
    info = document.get("info", {})
    operations = list(_operations(document))
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    index = "".join(
        f'<li><a href="#{_e(operation_anchor(m, p))}"><span class="method {_e(m)}">'
        f"{_e(m.upper())}</span> {_e(p)}</a></li>"
        for m, p, _ in operations
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(info.get('title', 'API'))} API reference</title>\n"
        f'<link rel="stylesheet" href="/docs/static/reference.css?v={_e(__version__)}">\n'
        '<link rel="icon" href="/favicon.ico">\n</head>\n<body>\n'
        '<nav class="index"><p><a href="/">Home</a> · <a href="/playground">Playground</a> · '
        '<a href="/openapi.json">openapi.json</a></p>'
        f"<h2>Operations</h2><ul>{index}</ul>"
        '<h2><a href="#schemas">Schemas</a></h2></nav>\n<main>\n'
        f"<h1>{_e(info.get('title', 'API'))} <small>{_e(info.get('version', ''))}</small></h1>"
        f"<p>{_e(info.get('description', ''))}</p>"
        '<p>Generated from <a href="/openapi.json">/openapi.json</a>, the document this '
        "service serves.</p>"
        + "".join(_operation_section(m, p, op) for m, p, op in operations)
        + '<h2 id="schemas">Schemas</h2>'
        + "".join(_schema_section(name, schema) for name, schema in schemas.items())
        + "\n</main>\n</body>\n</html>\n"
    )
