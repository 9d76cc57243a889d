"""Field coercions shared by the routes: JavaScript ``Number()``, booleans and ids.

``timeout`` keeps the seed's coercion, which was JavaScript's ``Number(value)``: surrounding
whitespace is ignored, ``""`` is 0, ``"1e3"`` is 1000, ``"0x10"`` is 16, ``"Infinity"`` is
infinite and anything else is NaN (which, like 0 and infinity, means "no timeout").
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RADIX = {"0x": 16, "0o": 8, "0b": 2}
_RADIX_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+")}
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# JavaScript's WhiteSpace and LineTerminator code points, which Number() trims.
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_number(text: str) -> float:
    """What JavaScript's ``Number(text)`` gives for a string."""
    s = text.strip(_JS_SPACE)
    if not s:
        return 0.0
    radix = _RADIX.get(s[:2].lower())
    if radix is not None:
        digits = s[2:]
        if not _RADIX_DIGITS[radix].fullmatch(digits):
            return math.nan
        try:
            return float(int(digits, radix))
        except OverflowError:  # beyond the largest double: JavaScript says Infinity
            return math.inf
    if s in ("Infinity", "+Infinity"):
        return math.inf
    if s == "-Infinity":
        return -math.inf
    return float(s) if _DECIMAL.fullmatch(s) else math.nan


def js_number_text(value: float) -> str:
    """How JavaScript prints a number (``-5``, ``-1.5``, ``-1e+21``, ``-Infinity``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    text = repr(value)  # the shortest round-tripping digits, as JavaScript picks them
    if "e" not in text:
        return text.removesuffix(".0")
    if 1e-6 <= abs(value) < 1e21:
        return format(Decimal(text), "f")
    mantissa, exponent = text.split("e")
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{int(exponent.lstrip('+-'))}"


def is_message_id(value: str) -> bool:
    """Any 8-4-4-4-12 hex id (ChatGPT has issued version-8 ids since 2024)."""
    return _ID.fullmatch(value) is not None


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def parse_flag(value: str) -> bool | None:
    """``true``/``false`` (and 1/0, yes/no, on/off) in any case; ``None`` if neither."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None
