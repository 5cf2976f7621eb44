"""create_app(settings): the one ASGI application serving the JSON API, the PromptLayer-compatible
routes and the browser UI, each with its own error shape."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from promptyard import log_scrub
from promptyard.errors import InvalidInput, PromptyardError, Unavailable
from promptyard.services import (
    annotation_queues,
    erasure,
    evaluation_runner,
    outbound,
    ramps,
    request_annotations,
    webhooks,
)
from promptyard.services.render_pool import engine_for
from promptyard.settings import Settings
from promptyard.store import partitions
from promptyard.store.db import Database
from promptyard.store.types import utcnow
from promptyard.web import compat, ui
from promptyard.web.api import datasets as api_datasets
from promptyard.web.api import docs as api_docs
from promptyard.web.api import erasure as api_erasure
from promptyard.web.api import errors as api_errors
from promptyard.web.api import evaluations as api_evaluations
from promptyard.web.api import experiments as api_experiments
from promptyard.web.api import folders as api_folders
from promptyard.web.api import logs as api_logs
from promptyard.web.api import openapi as api_openapi
from promptyard.web.api import privacy as api_privacy
from promptyard.web.api import prompts as api_prompts
from promptyard.web.api import providers as api_providers
from promptyard.web.api import queues as api_queues
from promptyard.web.api import score_configs as api_score_configs
from promptyard.web.api import scores as api_scores
from promptyard.web.api import system as api_system
from promptyard.web.api import traces as api_traces
from promptyard.web.api import webhooks as api_webhooks
from promptyard.web.api import workspace as api_workspace
from promptyard.web.context import AppContext
from promptyard.web.cors import CorsMiddleware
from promptyard.web.headers import SecurityHeadersMiddleware
from promptyard.web.middleware import GuardMiddleware, HostMiddleware
from promptyard.web.request_ids import RequestIdMiddleware, log_unexpected

log = logging.getLogger("promptyard")


def app_version() -> str:
    try:
        return version("promptyard")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    app = FastAPI(title="Promptyard", version=app_version(), openapi_url="/api/v1/openapi.json",
                  docs_url=None, redoc_url=None, lifespan=_lifespan)
    app.state.ctx = AppContext(settings=settings, db=db or Database(
        settings.db_url, statement_timeout_s=settings.statement_timeout_s, secret=settings.secret(),
        outbound=outbound.Policy.from_settings(settings)),
        version=app_version())
    routers = (api_system, api_prompts, api_folders, api_logs, api_experiments, api_privacy, api_erasure,
               api_scores, api_score_configs, api_traces, api_workspace, api_providers, api_datasets,
               api_webhooks, api_evaluations, api_queues, api_docs)
    for router in (module.router for module in routers):
        app.include_router(router)
    app.include_router(ui.router)
    app.include_router(ui.root)
    app.include_router(compat.router)  # last: its root-level paths never shadow ours
    api_openapi.install(app)
    _errors(app)
    app.add_middleware(_Unexpected)  # first: the innermost, right around the routes
    app.add_middleware(GuardMiddleware, settings=settings)
    app.add_middleware(CorsMiddleware, max_age=settings.cors_max_age)
    app.add_middleware(HostMiddleware, allowed=settings.host_allowlist)  # before anything reads Host
    app.add_middleware(RequestIdMiddleware)  # every answer carries the id
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: also on the other middlewares' answers
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: AppContext = app.state.ctx
    tasks = [asyncio.create_task(_analyze(context))]
    if context.settings.ramp_tick_s > 0:
        tasks.append(asyncio.create_task(_tick(context)))
    if context.settings.eval_workers > 0:
        context.runner = evaluation_runner.Runner(
            context.db, engine_for(context.settings), workers=context.settings.eval_workers,
            poll_s=context.settings.eval_poll_s, lease_margin_s=context.settings.eval_lease_margin_s)
        context.runner.start()
    yield
    context.stopping.set()
    if context.runner is not None:
        await run_in_threadpool(context.runner.stop)
        context.runner = None
    for task in tasks:
        task.cancel()


async def _analyze(context: AppContext) -> None:
    """Planner statistics at start and then on a schedule (store/db.Database.analyze)."""
    while True:
        try:
            await run_in_threadpool(context.db.analyze)
        except Unavailable:
            pass  # the store logged the outage once; next time
        except Exception:  # noqa: BLE001 - statistics only speed queries up; retry next time
            log_scrub.failure(log, "refreshing the query planner's statistics failed")
        if context.settings.analyze_every_s <= 0:
            return
        await asyncio.sleep(context.settings.analyze_every_s)


async def _tick(context: AppContext) -> None:
    """While the server runs: the request log's partitions for the months ahead are made (PostgreSQL,
    store/partitions.py), guarded ramps advance on their schedule, pending updates whose log
    arrived at the same moment are applied (request_annotations.apply_late_pending), and logs past
    their workspace's retention period are purged, a bounded number per tick (erasure.purge_expired),
    annotation queues with a daily sample take the logs of each day gone by (annotation_queues.sample_daily), and a
    batch of due webhook deliveries is sent (webhooks.deliver_due, outside any transaction)."""
    def tick() -> None:
        if context.db.kind == "postgresql":  # the request log's months ahead (SQLite keeps one table)
            with context.db.write() as s:
                partitions.ensure(s.connection(), utcnow())
        with context.db.write() as s:
            ramps.tick(s)
        with context.db.write() as s:
            request_annotations.apply_late_pending(s, grace_s=context.settings.pending_grace_s)
        erasure.purge_expired(context.db)
        with context.db.write() as s:
            annotation_queues.sample_daily(s)
        webhooks.deliver_due(context.db)

    while True:
        await asyncio.sleep(context.settings.ramp_tick_s)
        try:
            await run_in_threadpool(tick)
        except Unavailable:
            pass  # the store logged the outage once; a tick is retried next time
        except Exception:  # noqa: BLE001 - a failed tick is retried next time; never kill the loop
            log_scrub.failure(log, "advancing guarded ramps failed")


def _surface(request: Request):  # noqa: ANN202
    """The error module of the surface a path belongs to (from_domain, from_validation, from_http,
    from_unexpected): the UI's pages, our API, or PromptLayer's shape for every other path."""
    path = request.url.path
    if path == "/ui" or path.startswith("/ui/"):
        return ui.errors
    if path.startswith(("/api/v1/", "/-/")):
        return api_errors
    return compat.errors


def _errors(app: FastAPI) -> None:
    @app.exception_handler(PromptyardError)
    async def domain_error(request: Request, exc: PromptyardError):  # noqa: ANN202
        return _surface(request).from_domain(exc, request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):  # noqa: ANN202
        return _surface(request).from_validation(exc, request)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):  # noqa: ANN202
        return _surface(request).from_http(exc, request)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception):  # noqa: ANN202
        # A value too large for its database column that slipped past the schema bounds.
        return _surface(request).from_domain(InvalidInput("errors.system.number_request_out_range"), request)

    # Only for failures in the outer middlewares: route errors end in _Unexpected below.
    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # noqa: ANN202
        return _surface(request).from_unexpected(request, exc)


class _Unexpected:
    """Answers a route's unexpected error in its surface's shape, logged once. Starlette gives an
    Exception handler to its outermost middleware, which re-raises after answering: uvicorn then
    logged a second full traceback, database message included, for every such error."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:  # noqa: BLE001 - every error gets an answer and one log entry
            request = Request(scope)
            if started:  # a stream failed midway: too late to answer; the client sees it cut
                log_unexpected(log, request, exc)
                return
            await _surface(request).from_unexpected(request, exc)(scope, receive, send)
