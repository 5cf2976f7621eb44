"""Jinja2 templates are parsed, compiled and rendered in worker processes, never in the server's.

Parsing and compiling have no deadline inside Jinja2 (a 250 KB template took 5-20 s and up to
900 MB here), and one long C call cannot be interrupted by the sandbox's own checks, so every
Jinja2 job runs in a small pool of worker processes (pebble's ProcessPool) that:

* kills a job at a hard deadline (compile timeout, plus the render timeout for renders) and
  starts a fresh worker in its place, so the next job finds a healthy pool;
* caps each worker's address space (RLIMIT_AS): a template that needs too much memory fails
  with MemoryError in its worker (or kills it), not the server;
* runs at a lower CPU priority, so a busy worker leaves the server's event loop and its other
  requests the CPU they need.

The server process only waits on a future (in a thread of the route's threadpool), so the
event loop and other requests go on. F-string templates stay in process: their parser is
linear and their output bounded. Workers start lazily on the first Jinja2 job; pools are
shared by every engine with the same worker settings and stopped when the process exits.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import resource
import signal
import threading
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from pebble import ProcessExpired, ProcessPool

from promptyard.catalogue import Text
from promptyard.domain import templates
from promptyard.domain.render_limits import RenderError, RenderLimits
from promptyard.errors import InvalidInput, Unavailable
from promptyard.services import worker_processes
from promptyard.settings import Settings

__all__ = ["TemplateEngine", "engine_for"]

# How long a job may wait for a free worker before the caller gets a 503: longer than one
# job's deadline, so a short burst of slow templates queues instead of failing.
QUEUE_WAIT_S = 10.0
_NICE = 10  # CPU priority of the workers, below the server's

# --- in the worker process --------------------------------------------------------------------


def _start_worker(memory_bytes: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the server, which stops the pool
    try:
        os.nice(_NICE)
    except OSError:
        pass
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    from promptyard.catalogue import catalogue
    from promptyard.domain import sandbox  # noqa: F401 - Jinja2 loads once per worker, not per job

    catalogue("en")  # an error's words are read now, not first when memory has run out


def _drop_caches() -> None:
    from promptyard.domain import sandbox

    sandbox._compiled.cache_clear()  # noqa: SLF001 - the worker owns these caches
    sandbox._variables.cache_clear()  # noqa: SLF001


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _job(memory_bytes: int, function, *args):
    """Run one job; compiled templates are cached, but never so many that they crowd the limit."""
    try:
        try:
            return function(*args)
        except MemoryError:
            _drop_caches()
            raise RenderError("errors.templates.template_needs_more_memory", details={"field": "template"}) from None
    except InvalidInput as exc:
        if isinstance(exc.__context__, MemoryError):
            # which holds, through its traceback, all that the compile had built: let it go before the
            # answer is pickled, or pickling runs out of memory too
            exc.__context__ = None
            gc.collect()
        raise
    finally:
        if memory_bytes > 0 and _resident_bytes() > memory_bytes // 2:
            _drop_caches()


def _check(kind: str, template: dict, fmt: str, max_chars: int | None) -> tuple[dict, list[str]]:
    normalised = templates.validate_template(kind, template, fmt, max_chars=max_chars)
    return normalised, templates.extract_variables(kind, normalised, fmt)


def _render(kind: str, template: dict, fmt: str, variables: dict, strict: bool, limits: RenderLimits) -> dict:
    return templates.render(kind, template, fmt, variables, strict=strict, limits=limits)


def _text_variables(texts: list[str], fmt: str, max_chars: int | None) -> list[list[str]]:
    """The variables of each text on its own; [] for a text that does not parse."""
    out = []
    for text in texts:
        try:
            out.append(templates.extract_variables("completion", {"text": text}, fmt, max_chars=max_chars)
                       if text else [])
        except InvalidInput:
            out.append([])
    return out


# --- in the server process --------------------------------------------------------------------

_VARIABLES_CACHED = 4096
_variables_cache: dict[tuple[int | None, bytes], list[str]] = {}  # oldest first
_variables_lock = threading.Lock()


def _pool(workers: int, memory_bytes: int) -> ProcessPool:
    return worker_processes.pool("templates", (workers, memory_bytes), lambda: {
        "max_workers": workers, "initializer": _start_worker, "initargs": (memory_bytes,)})


@dataclass(frozen=True)
class TemplateEngine:
    """Checks and renders templates with the server's limits (see the module docstring)."""

    limits: RenderLimits
    compile_timeout_s: float = 2.0
    workers: int = 2
    memory_mb: int = 512
    queue_wait_s: float = QUEUE_WAIT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> "TemplateEngine":
        limits = RenderLimits(max_seconds=settings.render_timeout_s, max_output_chars=settings.render_max_chars,
                              max_template_chars=settings.template_max_chars)
        return cls(limits, settings.template_compile_timeout_s, max(settings.template_workers, 1),
                   settings.template_memory_mb)

    def check(self, kind: str, template: dict, fmt: str) -> tuple[dict, list[str]]:
        """(normalised template, input variables) for publishing; InvalidInput on a bad shape,
        size or syntax, or a template that takes too long or too much memory to compile."""
        if fmt != "jinja2":
            return _check(kind, template, fmt, self.limits.max_template_chars)
        return self._run(self.compile_timeout_s, Text("errors.templates.doing_compile"), _check, kind, template, fmt,
                         self.limits.max_template_chars)

    def render(self, kind: str, template: dict, fmt: str, variables: dict, *, strict: bool = True) -> dict:
        if fmt != "jinja2":
            return _render(kind, template, fmt, variables, strict, self.limits)
        # The worker may not have compiled this template yet: its deadline covers both steps.
        return self._run(self.compile_timeout_s + self.limits.max_seconds, Text("errors.templates.doing_render"),
                         _render,
                         kind, template, fmt, variables, strict, self.limits)

    def text_variables(self, texts: list[str], fmt: str) -> list[list[str]]:
        """The variables of each text on its own ([] where one does not parse), remembered by
        digest: PromptLayer's shapes list them per message on every fetch."""
        if fmt != "jinja2" or not any("{" in t for t in texts):
            return _text_variables(texts, fmt, self.limits.max_template_chars)
        keys = [(self.limits.max_template_chars, hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest())
                for t in texts]
        with _variables_lock:
            known = [_variables_cache.get(k) for k in keys]
        missing = [i for i, hit in enumerate(known) if hit is None]
        if missing:
            found = self._run(self.compile_timeout_s, Text("errors.templates.doing_parse"), _text_variables,
                              [texts[i] for i in missing], fmt,
                              self.limits.max_template_chars)
            with _variables_lock:
                for i, names in zip(missing, found):
                    known[i] = _variables_cache[keys[i]] = names
                while len(_variables_cache) > _VARIABLES_CACHED:
                    _variables_cache.pop(next(iter(_variables_cache)))
        return [list(names) for names in known]

    def _run(self, deadline: float, what: Text, function, *args):
        memory = self.memory_mb * 1024 * 1024
        future = _pool(self.workers, memory).schedule(_job, args=(memory, function, *args), timeout=deadline)
        try:
            return future.result(timeout=deadline + self.queue_wait_s)
        except FutureTimeout:
            if not future.done():  # still queued (or stuck): give up, the pool drops or kills it
                future.cancel()
                raise Unavailable("errors.templates.all_template_workers_are") from None
            raise RenderError("errors.templates.template_took_longer_than", deadline=deadline, what=what,
                              details={"field": "template", "limit_s": deadline}) from None
        except ProcessExpired:
            raise RenderError("errors.templates.template_worker_stopped_while", what=what, memory_mb=self.memory_mb,
                              details={"field": "template", "limit_mb": self.memory_mb}) from None
        except (CancelledError, BrokenProcessPool):  # the next call starts a fresh pool
            raise Unavailable("errors.templates.template_workers_are_restarting") from None


@functools.lru_cache(maxsize=32)
def engine_for(settings: Settings) -> TemplateEngine:
    """The engine of these settings' limits (one per settings: its worker pool is shared)."""
    return TemplateEngine.from_settings(settings)
