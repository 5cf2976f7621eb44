"""Limits for rendering prompt templates: the per-render state (deadline, output budget) and
the size checks the Jinja2 sandbox runs before and after each operation (see sandbox.py).
Imports nothing from Jinja2 at load time, so f-string rendering works without it.

Sizes are counted in characters. A container's "weight" is about how many characters it
prints as, memoised per object for the length of one render, so that lists holding the same
big list many times cannot multiply behind the checks' backs.
"""

from __future__ import annotations

import contextvars
import math
import re
import string
import time
from dataclasses import dataclass

from promptyard.errors import InvalidInput

MAX_INT_BITS = 10_000  # results of * and ** (str() of an int is capped at 4,300 digits anyway)


@dataclass(frozen=True)
class RenderLimits:
    max_seconds: float = 1.0
    max_output_chars: int = 1_000_000
    max_int: int = 100_000
    # Characters of a template's texts together (None: no limit). Parsing and compiling Jinja2
    # cost time and memory in proportion to the source; the server passes its setting here.
    max_template_chars: int | None = None


DEFAULT_LIMITS = RenderLimits()


class RenderError(InvalidInput):
    """The template failed while rendering: sandbox violation, time or size limit, bad operation."""


class UndefinedVariable(InvalidInput):
    """A strict render met an undefined name or attribute (the caller lists what is missing)."""


# --- per-render state -------------------------------------------------------------------------


class RenderState:
    __slots__ = ("limits", "deadline", "output_left", "produced", "weights")

    def __init__(self, limits: RenderLimits, deadline: float = math.inf):
        self.limits = limits
        self.deadline = deadline
        self.output_left = limits.max_output_chars
        self.produced = 0
        self.weights: dict[int, tuple[object, int]] = {}  # id -> (object kept alive, weight)

    def tick(self) -> None:
        if time.perf_counter() > self.deadline:
            raise RenderError("errors.templates.template_rendering_took_longer", max_seconds=self.limits.max_seconds)

    def limit(self, size: int, what: str) -> None:
        if size > self.limits.max_output_chars:
            raise RenderError(
                "errors.templates.value_too_large_would", what=what, size=size, max_output_chars=self.limits.max_output_chars
            )


STATE: contextvars.ContextVar[RenderState | None] = contextvars.ContextVar("promptyard_render", default=None)


def current_state() -> RenderState:
    # Outside a render (constant folding while compiling) the default limits apply, no deadline.
    return STATE.get() or RenderState(DEFAULT_LIMITS)


def weight(obj: object, st: RenderState) -> int:
    """About how many characters `obj` prints as; stops counting past the limit."""
    if isinstance(obj, (str, bytes)):
        return len(obj)
    if isinstance(obj, int):
        return obj.bit_length() // 3 + 1
    if not isinstance(obj, (list, tuple, dict)):
        return 8
    hit = st.weights.get(id(obj))
    if hit is not None:
        return hit[1]
    limit, total = st.limits.max_output_chars, 2
    for item in obj.items() if isinstance(obj, dict) else obj:
        kind = item.__class__  # plain strings and ints inline: lists of 100k items are common
        if kind is str:
            total += len(item) + 2
        elif kind is int:
            total += item.bit_length() // 3 + 3
        else:
            total += weight(item, st) + 2
        if total > limit:
            break
    st.weights[id(obj)] = (obj, total)
    return total


def check_ints(values, limits: RenderLimits) -> None:
    for value in values:
        if type(value) is int and abs(value) > limits.max_int:
            shown = str(value) if value.bit_length() < 64 else "a very large integer"
            raise RenderError("errors.templates.integer_argument_over_limit", shown=shown, max_int=limits.max_int)


_DIGITS = re.compile(r"\d+")
_WIDTH = re.compile(r"\*|\d*")


def check_format_spec(spec: str, limits: RenderLimits) -> None:
    """Width and precision in a format spec ("{x:>10}") must stay under max_int."""
    for digits in _DIGITS.findall(spec):
        if len(digits) > 9 or int(digits) > limits.max_int:
            raise RenderError("errors.templates.format_width_precision_over", digits=digits[:20],
                              max_int=limits.max_int)


def _percent_widths(text: str):
    """Width and precision fields of a printf-style format, read the way CPython reads them
    (a linear scan: a regex for "%(key)" backtracks quadratically on "%(%(%(...")."""
    i, n = 0, len(text)
    while (i := text.find("%", i) + 1) and i < n:
        if text[i] == "%":
            i += 1
            continue
        if text[i] == "(":
            depth, i = 1, i + 1
            while i < n and depth:
                depth += 1 if text[i] == "(" else -1 if text[i] == ")" else 0
                i += 1
            if depth:
                return  # "incomplete format key": the operation raises
        while i < n and text[i] in "-+ #0":
            i += 1
        width = _WIDTH.match(text, i)
        yield width.group()
        i = width.end()
        if i < n and text[i] == ".":
            precision = _WIDTH.match(text, i + 1)
            yield precision.group()
            i = precision.end()


def check_percent(fmt: str | bytes, operand: object, st: RenderState) -> None:
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    limit = st.limits.max_int
    if "*" not in text and all(len(d) <= 9 and int(d) <= limit for d in _DIGITS.findall(text)):
        return  # the common case, decided in C speed
    star = False
    for field in _percent_widths(text):
        if field == "*":
            star = True
        elif field:
            check_format_spec(field, st.limits)
    if star:  # "%*d" takes the width from the arguments
        check_ints(operand if isinstance(operand, tuple) else (operand,), st.limits)


def check_str_format(fmt: str, args: tuple, kwargs: dict, st: RenderState) -> None:
    nested = False
    try:
        for _, _, spec, _ in string.Formatter().parse(fmt):
            if spec:
                check_format_spec(spec, st.limits)
                nested = nested or "{" in spec
    except ValueError:
        return  # the call itself reports the syntax error
    if nested:  # "{0:{1}}" takes the width from the arguments
        values = list(args) + list(kwargs.values())
        if len(args) == 1 and isinstance(args[0], dict):  # format_map
            values += list(args[0].values())
        check_ints(values, st.limits)


# --- size estimates for the operations whose output can outgrow their input --------------------


def _arg(args, kwargs, index, name, default=None):
    return args[index] if index < len(args) else kwargs.get(name, default)


def _text(value) -> str:
    return value if isinstance(value, str) else str(value)


def _replace_size(s, old, new, count) -> int:
    hits = len(s) + 1 if not old else s.count(old)
    if type(count) is int and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(0, len(new) - len(old))


def _joined_size(env, items: list, sep, attribute, st: RenderState) -> int:
    getter = None
    if attribute is not None:
        from jinja2.filters import make_attrgetter  # only the sandbox calls this; Jinja2 is loaded

        getter = make_attrgetter(env, attribute)
    total = len(sep) * max(len(items) - 1, 0)
    for item in items:
        value = getter(item) if getter else item
        total += len(value) if isinstance(value, (str, bytes)) else len(str(value))
        if total > st.limits.max_output_chars:
            break
    return total


def _json_size(value, indent, st: RenderState) -> int:
    width = len(indent) if isinstance(indent, str) else indent if type(indent) is int else 0
    count, depth, stack = 0, 0, [(value, 1)]
    while stack and count <= st.limits.max_output_chars:
        obj, level = stack.pop()
        count, depth = count + 1, max(depth, level)
        if isinstance(obj, dict):
            stack.extend((v, level + 1) for v in obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, level + 1) for v in obj)
    return weight(value, st) + count * depth * max(width, 0)


def filter_prechecks(env, name, args, kwargs, st: RenderState):
    """Refuse a filter call whose result would be too large; returns the (maybe materialised) args."""
    if name == "replace":
        size = _replace_size(_text(args[0]), _text(_arg(args, kwargs, 1, "old")),
                             _text(_arg(args, kwargs, 2, "new")), _arg(args, kwargs, 3, "count"))
    elif name == "indent":
        s, width = _text(args[0]), _arg(args, kwargs, 1, "width", 4)
        size = len(s) + (s.count("\n") + 1) * (len(width) if isinstance(width, str) else int(width))
    elif name == "wordwrap":
        s, width = _text(args[0]), _arg(args, kwargs, 1, "width", 79)
        wrap = _arg(args, kwargs, 3, "wrapstring") or env.newline_sequence
        size = len(s) + (2 * len(s) // max(int(width), 1) + s.count("\n") + 2) * len(wrap)
    elif name == "join":
        args = (list(args[0]), *args[1:])
        size = _joined_size(env, args[0], _text(_arg(args, kwargs, 1, "d", "")),
                            _arg(args, kwargs, 2, "attribute"), st)
    elif name == "tojson":
        size = _json_size(args[0], _arg(args, kwargs, 1, "indent"), st)
    elif name == "format":
        check_percent(_text(args[0]), tuple(args[1:]) or kwargs, st)
        return args
    else:
        return args
    st.limit(size, f"filter {name!r}")
    return args


def method_prechecks(obj, args, kwargs, st: RenderState):
    """The same for str/bytes methods reached with `.`: replace, expandtabs, translate, join."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, (str, bytes)):
        return args
    name = getattr(obj, "__name__", "")
    try:
        if name == "replace":
            size = _replace_size(owner, args[0], args[1], _arg(args, kwargs, 2, "count"))
        elif name == "expandtabs":
            tab = _arg(args, kwargs, 0, "tabsize", 8)
            size = len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * int(tab)
        elif name == "translate" and isinstance(args[0], dict):
            longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
            size = len(owner) * max(longest, 1)
        elif name == "join":
            args = (list(args[0]),)
            size = sum(len(x) for x in args[0] if isinstance(x, (str, bytes)))
            size += len(owner) * max(len(args[0]) - 1, 0)
        else:
            return args
    except (IndexError, TypeError, ValueError):
        return args  # malformed call: the call itself raises the error
    st.limit(size, f"{type(owner).__name__}.{name}()")
    return args


def check_result(value, st: RenderState, what: str):
    if isinstance(value, (str, bytes, list, tuple, dict)):
        st.limit(weight(value, st), what)
    return value
