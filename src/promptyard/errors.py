"""One exception tree for the whole project.

Services raise these; each web surface maps them to a status once; the SDK raises the same
classes from HTTP answers, so callers catch one set of names everywhere.
"""

from __future__ import annotations

from typing import Any

from promptyard import catalogue


class PromptyardError(Exception):
    """Base class. `code` is the stable machine-readable name used in the API error shape.

    `message` is a key of the message catalogue (`messages/*.json`, e.g. "errors.prompts.name_taken")
    and `params` its fields (a field may be a `catalogue.Text`, translated with the message): `.message`
    is the English text, `text(lang)` the text in a user's language.
    A string that is not a key is kept as it is (an SDK error built from a server's answer).
    """

    code = "error"
    status = 500

    def __init__(self, message: str, *, details: Any = None, **params: Any):
        self.key = message if catalogue.has(message) else None
        self.params = params
        self.message = catalogue.translate("en", message, **params) if self.key else message
        super().__init__(self.message)
        self.details = details

    def __reduce__(self) -> tuple:
        # Across processes (the ingest workers' errors) with its key and fields, not only the English text.
        return _rebuilt, (type(self), self.args, self.__dict__)

    def text(self, lang: str) -> str:
        """The message in `lang` (English where the catalogue has no translation)."""
        return catalogue.translate(lang, self.key, **self.params) if self.key else self.message

    def as_text(self) -> catalogue.Text | str:
        """This message as a field of another one (an error that wraps this one translates it too)."""
        return catalogue.Text(self.key, **self.params) if self.key else self.message


def _rebuilt(cls: type[PromptyardError], args: tuple, state: dict[str, Any]) -> PromptyardError:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class InvalidInput(PromptyardError):
    code = "invalid_input"
    status = 422


class NotFound(PromptyardError):
    code = "not_found"
    status = 404


class Conflict(PromptyardError):
    code = "conflict"
    status = 409


class Unauthorized(PromptyardError):
    code = "unauthorized"
    status = 401


class Forbidden(PromptyardError):
    code = "forbidden"
    status = 403


class Unavailable(PromptyardError):
    """Try again later: every surface answers with a Retry-After header of `retry_after_s`."""

    code = "unavailable"
    status = 503

    def __init__(self, message: str, *, details: Any = None, retry_after_s: int = 5, **params: Any):
        super().__init__(message, details=details, **params)
        self.retry_after_s = retry_after_s


class Upstream(PromptyardError):
    """Another server we called (an LLM provider, a webhook receiver) did not answer usefully:
    unreachable, timed out, redirected, or an error answer (`upstream_status`, None without an answer)."""

    code = "upstream_error"
    status = 502

    def __init__(self, message: str, *, details: Any = None, upstream_status: int | None = None, **params: Any):
        super().__init__(message, details=details, **params)
        self.upstream_status = upstream_status


class TooLarge(InvalidInput):
    code = "too_large"
    status = 413


class TimedOut(InvalidInput):
    """A read ran longer than the statement timeout: narrow it rather than retry it."""

    code = "timed_out"
    status = 422


class RateLimited(Unavailable):
    code = "rate_limited"
    status = 429


def retry_after(exc: PromptyardError) -> dict[str, str]:
    """The Retry-After header every surface sends with an Unavailable answer (none otherwise)."""
    return {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Unavailable) else {}


BY_CODE = {
    cls.code: cls
    for cls in (InvalidInput, NotFound, Conflict, Unauthorized, Forbidden, Unavailable, TooLarge, RateLimited,
                TimedOut, Upstream)
}


def from_status(status: int, message: str, code: str | None = None, details: Any = None) -> PromptyardError:
    """The error class for an HTTP answer (used by the SDK)."""
    cls = BY_CODE.get(code or "")
    if cls is None:
        cls = next((c for c in BY_CODE.values() if c.status == status), None)
    if cls is None:
        cls = Unavailable if status >= 500 else InvalidInput
    return cls(message, details=details)
