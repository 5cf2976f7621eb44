"""Sandboxed Jinja2 for prompt templates: no Python internals, bounded time and size.

Anyone with editor rights writes prompt text and the server renders it on every request, so
on top of Jinja2's ImmutableSandboxedEnvironment:

* reach: the only global is a bounded `range`; include/extends/import are refused; attribute
  names containing "__" are refused when parsing, and unsafe attributes raise at run time.
* time: every loop iteration, call, filter, operator and literal checks a deadline (the
  compiler puts a tick at the top of each loop body, so even empty loops are counted; this is
  2-4x cheaper than a sys.settrace line tracer and leaves debuggers and coverage alone).
  Python cannot interrupt one running C call, hence the size rules below keep each step short.
* size: template values come into being only through literals, operators, filters and calls.
  Each of those is checked against `max_output_chars` *before* it allocates where the size is
  known up front (`*`, `**`, `+`, `%`, `~`, replace, indent, join, ...) and after otherwise;
  every int passed as an argument is capped at `max_int` (widths, counts, range sizes).
  A container's size is its "weight" (characters it would print as), memoised per object, so
  lists of lists of the same list cannot multiply behind the checks' backs.
"""

from __future__ import annotations

import functools
import time

from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_environment,
)
from jinja2.compiler import CodeGenerator, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import soft_str

from promptyard.catalogue import Text
from promptyard.domain import library_texts
from promptyard.domain.render_limits import (
    DEFAULT_LIMITS,
    MAX_INT_BITS,
    STATE,
    RenderError,
    RenderLimits,
    RenderState,
    UndefinedVariable,
    check_ints,
    check_percent,
    check_result,
    check_str_format,
    current_state,
    filter_prechecks,
    method_prechecks,
    weight,
)
from promptyard.errors import InvalidInput

__all__ = ["DEFAULT_LIMITS", "RenderError", "RenderLimits", "UndefinedVariable", "check_jinja", "jinja_variables",
           "render_jinja"]

FILENAME = "<promptyard-template>"
_PRODUCED_FACTOR = 10  # all output expressions together, including text buffered by macros
_DROPPED_FILTERS = frozenset({"pprint", "urlize"})  # HTML/debug helpers with superlinear output
_SEQ = (str, bytes, list, tuple)


@pass_environment
def _sum_filter(environment, iterable, attribute=None, start=0):
    """|sum for numbers only: adding lists or strings is quadratic, in C, beyond any deadline."""
    values = list(iterable)
    if attribute is not None:
        values = list(map(make_attrgetter(environment, attribute), values))
    if not all(isinstance(v, (int, float)) for v in (*values, start)):
        raise RenderError("errors.templates.sum_filter_adds_numbers")
    return sum(values, start)


def _wrap_filter(env, name: str, func):
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    check_args = name not in ("default", "d", "format")  # their extra args are values, not sizes

    @functools.wraps(func)  # keeps jinja_pass_arg, so pass_context filters still get it
    def wrapper(*args, **kwargs):
        st = current_state()
        st.tick()
        if check_args:
            check_ints(args[skip + 1:], st.limits)
            check_ints(kwargs.values(), st.limits)
        if len(args) > skip:
            args = (*args[:skip], *filter_prechecks(env, name, args[skip:], kwargs, st))
        return check_result(func(*args, **kwargs), st, f"filter {name!r}")

    return wrapper


def _bounded_range(*args):
    st = current_state()
    numbers = range(*args)
    if len(numbers) > st.limits.max_int:
        raise RenderError("errors.templates.range_items_over_limit", n=len(numbers), max_int=st.limits.max_int)
    return numbers


def _finalize(value):
    """Every `{{ ... }}` output passes here: None prints as "" and all output is counted."""
    if value is None:
        return ""
    st = STATE.get()
    if st is None:
        return value
    text = value if isinstance(value, str) else str(value)
    st.produced += len(text)
    if st.produced > _PRODUCED_FACTOR * st.limits.max_output_chars:
        raise RenderError(
            "errors.templates.template_produced_more_than", produced_factor=_PRODUCED_FACTOR * st.limits.max_output_chars
        )
    return text


# --- compiler and environment -----------------------------------------------------------------


def _tick_node(lineno: int) -> nodes.Stmt:
    """Deadline check put at the top of every loop body (Jinja allows no custom node types,
    so it is an expression statement that `_Codegen.visit_ExprStmt` recognises)."""
    return nodes.ExprStmt(nodes.EnvironmentAttribute("promptyard_tick", lineno=lineno), lineno=lineno)


class _Codegen(CodeGenerator):
    def visit_ExprStmt(self, node, frame) -> None:
        if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name == "promptyard_tick":
            self.writeline("environment.promptyard_tick()", node)
        else:
            super().visit_ExprStmt(node, frame)

    @optimizeconst
    def visit_Concat(self, node, frame) -> None:  # `a ~ b`: sized before it is joined
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        else:
            join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        self.write(f"environment.promptyard_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_List(self, node, frame) -> None:
        self._sized(super().visit_List, node, frame)

    def visit_Dict(self, node, frame) -> None:
        self._sized(super().visit_Dict, node, frame)

    def visit_Tuple(self, node, frame) -> None:
        if node.ctx != "load":  # an assignment target such as `for a, b in ...`
            return super().visit_Tuple(node, frame)
        self._sized(super().visit_Tuple, node, frame)

    def _sized(self, visit, node, frame) -> None:
        try:
            node.as_const(frame.eval_ctx)
            return visit(node, frame)  # a constant is as small as the template text
        except Exception:
            pass
        self.write("environment.promptyard_container(")
        visit(node, frame)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _Codegen
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, strict: bool):
        super().__init__(
            undefined=StrictUndefined if strict else ChainableUndefined,
            autoescape=False,  # prompts are text, not HTML
            keep_trailing_newline=True,
            finalize=_finalize,
            cache_size=0,
            auto_reload=False,
        )
        self.globals.clear()  # no lipsum, cycler, joiner, namespace, dict
        self.globals["range"] = _bounded_range
        filters = {name: f for name, f in self.filters.items() if name not in _DROPPED_FILTERS}
        filters["sum"] = _sum_filter
        self.filters = {name: _wrap_filter(self, name, f) for name, f in filters.items()}

    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def wrap_str_format(self, value):
        sandboxed = super().wrap_str_format(value)
        if sandboxed is None:
            return None
        fmt = value.__self__

        def checked(*args, **kwargs):
            check_str_format(fmt, args, kwargs, current_state())
            return sandboxed(*args, **kwargs)

        checked.promptyard_format = True
        return checked

    def call(self, context, obj, /, *args, **kwargs):
        st = current_state()
        st.tick()
        if not getattr(obj, "promptyard_format", False):
            check_ints(args, st.limits)
            check_ints(kwargs.values(), st.limits)
        args = method_prechecks(obj, args, kwargs, st)
        return check_result(super().call(context, obj, *args, **kwargs), st, "call result")

    def call_binop(self, context, operator, left, right):
        st = current_state()
        st.tick()
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise RenderError("errors.templates.integer_product_over_bits", max_int_bits=MAX_INT_BITS)
            elif isinstance(left, _SEQ) and isinstance(right, int) and right > 0:
                st.limit(weight(left, st) * right, "repetition with *")
            elif isinstance(right, _SEQ) and isinstance(left, int) and left > 0:
                st.limit(weight(right, st) * left, "repetition with *")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                if abs(left).bit_length() * right > MAX_INT_BITS:
                    raise RenderError("errors.templates.integer_power_over_bits", max_int_bits=MAX_INT_BITS)
        elif operator == "+":
            if isinstance(left, _SEQ) and isinstance(right, _SEQ):
                st.limit(weight(left, st) + weight(right, st), "concatenation with +")
        elif operator == "%" and isinstance(left, (str, bytes)):
            check_percent(left, right, st)
        return self.binop_table[operator](left, right)

    def promptyard_tick(self) -> None:
        st = STATE.get()
        if st is not None:
            st.tick()

    def promptyard_container(self, value):
        st = current_state()
        st.tick()
        st.limit(weight(value, st), "a literal")
        return value

    def promptyard_concat(self, join, parts):
        st = current_state()
        texts, total = [], 0
        for part in parts:
            text = part if isinstance(part, str) else soft_str(part)
            total += len(text)
            st.limit(total, "concatenation with ~")
            texts.append(text)
        return join(texts)

    def concat(self, parts):  # buffers of macros, {% set %} blocks, {% filter %} and {% call %}
        parts = parts if isinstance(parts, list) else list(parts)
        st = current_state()
        st.tick()
        st.limit(sum(map(len, parts)), "buffered template output")
        return "".join(parts)


_ENVS = {True: _Sandbox(strict=True), False: _Sandbox(strict=False)}
_REFUSED_TAGS = {nodes.Extends: "extends", nodes.Include: "include", nodes.Import: "import",
                 nodes.FromImport: "from ... import"}


class _Refused(Exception):
    def __init__(self, cls, message: Text, line: int):
        super().__init__(message)
        self.cls, self.message, self.line = cls, message, line


def _parse(source: str) -> nodes.Template:
    ast = _ENVS[True].parse(source)
    for node in ast.find_all(tuple(_REFUSED_TAGS)):
        tag = _REFUSED_TAGS[type(node)]
        raise _Refused(InvalidInput, Text("errors.templates.tag_not_available", tag=tag), node.lineno)
    for node in ast.find_all(nodes.Getattr):
        if node.attr.startswith("__") or (node.attr.startswith("_") and "__" in node.attr):
            raise _Refused(RenderError, Text("errors.templates.attribute_refused", attr=node.attr), node.lineno)
    return ast


@functools.lru_cache(maxsize=1024)
def _compiled(source: str, strict: bool):
    env = _ENVS[strict]
    ast = _parse(source)
    for loop in list(ast.find_all(nodes.For)):
        loop.body.insert(0, _tick_node(loop.lineno))
    code = env.compile(ast, filename=FILENAME)
    return env.template_class.from_code(env, code, env.make_globals(None))


@functools.lru_cache(maxsize=1024)
def _variables(source: str) -> tuple[str, ...]:
    """Undeclared names in order of first appearance in the text (the AST has no columns)."""
    from jinja2 import meta

    undeclared = meta.find_undeclared_variables(_parse(source)) - set(_ENVS[True].globals)
    names: dict[str, None] = {}
    tokens = list(_ENVS[True].lexer.tokenize(source))
    for i, token in enumerate(tokens):
        if token.type != "name" or token.value not in undeclared:
            continue
        before = [t.value if t.type == "name" else t.type for t in tokens[max(i - 2, 0):i]]
        after = tokens[i + 1].type if i + 1 < len(tokens) else ""
        # skip the same word used as an attribute, filter, test, keyword argument or target
        if before[-1:] in (["dot"], ["pipe"], ["is"], ["for"], ["set"]) or before == ["is", "not"] \
                or after == "assign":
            continue
        names.setdefault(token.value)
    return tuple(names) + tuple(sorted(undeclared - names.keys()))


def _short(text: object, size: int = 300) -> str:
    text = str(text)
    return text if len(text) <= size else text[: size - 1] + "…"


def _compile_errors(field: str, build, source: str, *args):
    try:
        return build(source, *args)
    except TemplateSyntaxError as exc:
        raise InvalidInput("errors.templates.reason_line_lineno", field=field, reason=library_texts.jinja_reason(exc.message),
                           lineno=exc.lineno,
                           details={"field": field, "line": exc.lineno}) from None
    except _Refused as exc:
        raise exc.cls("errors.templates.reason_line_lineno", field=field, reason=exc.message, lineno=exc.line,
                      details={"field": field, "line": exc.line}) from None
    except RecursionError:
        raise InvalidInput("errors.templates.template_nested_too_deeply", field=field,
                           details={"field": field}) from None
    except MemoryError:
        raise InvalidInput("errors.templates.template_needs_too_much", field=field, details={"field": field}) from None
    except Exception as exc:  # e.g. an int literal over 4,300 digits, Python's nesting limits
        raise InvalidInput("errors.templates.template_could_compiled", field=field, exc=_short(exc),
                           details={"field": field}) from None


def check_jinja(field: str, source: str) -> None:
    """Parse and compile `source`; InvalidInput naming `field` and the line on any problem."""
    if "{" in source:
        _compile_errors(field, _compiled, source, True)


def jinja_variables(field: str, source: str) -> tuple[str, ...]:
    if "{" not in source:
        return ()
    return _compile_errors(field, _variables, source)


def render_jinja(items: list[tuple[str, str]], variables: dict, strict: bool, limits: RenderLimits) -> list[str]:
    """Render each (field, source); one deadline and one output budget for all of them."""
    st = RenderState(limits, time.perf_counter() + limits.max_seconds)
    token = STATE.set(st)
    try:
        return [_render_one(field, source, variables, strict, st) for field, source in items]
    finally:
        STATE.reset(token)


def _render_one(field: str, source: str, variables: dict, strict: bool, st: RenderState) -> str:
    if "{" not in source:  # plain text: Jinja would only normalise its newlines
        st.output_left -= len(source)
        if st.output_left < 0:
            raise RenderError("errors.templates.rendered_output_longer_than", field=field,
                              max_output_chars=st.limits.max_output_chars,
                              details={"field": field})
        return source
    template = _compile_errors(field, _compiled, source, strict)
    details = {"field": field}
    try:
        chunks, size = [], 0
        for chunk in template.root_render_func(template.new_context(variables)):
            size += len(chunk)
            if size > st.output_left:
                raise RenderError("errors.templates.rendered_output_longer_than_2",
                                  max_output_chars=st.limits.max_output_chars)
            chunks.append(chunk)
        st.output_left -= size
        return "".join(chunks)
    except RenderError as exc:
        raise RenderError("errors.templates.in_field", field=field, reason=exc.as_text(), details=details) from None
    except UndefinedError as exc:
        raise UndefinedVariable("errors.templates.in_field", field=field, reason=library_texts.jinja_reason(exc.message),
                                details=details) from None
    except SecurityError as exc:
        raise RenderError("errors.templates.security_violation", field=field, exc=library_texts.jinja_reason(str(exc)),
                          details=details) from None
    except RecursionError:
        raise RenderError("errors.templates.template_recursion_too_deep", field=field, details=details) from None
    except MemoryError:
        raise RenderError("errors.templates.template_ran_out_memory", field=field, details=details) from None
    except Exception as exc:
        raise RenderError("errors.templates.failed_in_field", field=field, name=type(exc).__name__, exc=_short(exc),
                          details=details) from None
