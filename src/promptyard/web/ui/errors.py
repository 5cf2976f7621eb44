"""(placeholder until the UI has its error page) The UI surface's error responses."""

from fastapi import Request
from fastapi.responses import PlainTextResponse


def from_domain(exc):  # noqa: ANN001, ANN201
    return PlainTextResponse(exc.message, status_code=exc.status)


def from_validation(exc):  # noqa: ANN001, ANN201
    return PlainTextResponse("invalid input", status_code=422)


def from_http(exc):  # noqa: ANN001, ANN201
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)


def from_unexpected(request: Request, exc: Exception):  # noqa: ANN201
    return PlainTextResponse("internal error", status_code=500)
