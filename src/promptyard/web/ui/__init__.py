"""The browser UI under /ui: server-rendered pages (Jinja2, autoescaped), forms, i18n.

Modules by what they hold: render (templates, links, forms - read its docstring first), session
(the logged-in user, roles, CSRF, cookies), catalogue (i18n), errors (the UI's error page), assets
(static files), auth_pages, prompt_pages, editor_pages, label_pages, admin_pages (API keys), member_pages, privacy_pages (redaction policy),
experiment_pages, request_pages, score_config_pages, erasure_pages (erasure and retention), trace_pages (OTLP traces),
dataset_pages (datasets), provider_pages (LLM provider connections), webhook_pages (webhooks and their delivery logs),
evaluation_pages (evaluation runs and their comparison), queue_pages (annotation queues and the focused review page),
playground_pages (a logged request opened as drafts to run, score and save).
"""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from promptyard.web.ui import (  # noqa: F401
    admin_pages,
    assets,
    auth_pages,
    dataset_pages,
    editor_pages,
    erasure_pages,
    errors,
    evaluation_pages,
    experiment_pages,
    label_pages,
    member_pages,
    playground_pages,
    privacy_pages,
    prompt_pages,
    provider_pages,
    queue_pages,
    request_pages,
    score_config_pages,
    session,
    trace_pages,
    webhook_pages,
)

# bind_request runs first on every UI route, so even a failing page knows its language.
router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(session.bind_request)])
for _module in (assets, auth_pages, prompt_pages, editor_pages, label_pages, admin_pages, member_pages,
                privacy_pages, experiment_pages, request_pages, score_config_pages, erasure_pages, trace_pages,
                dataset_pages, provider_pages, webhook_pages, evaluation_pages, queue_pages, playground_pages):
    router.include_router(_module.router)

# The server's root leads a newcomer to the UI (the prompt list, or the login page before it).
root = APIRouter(include_in_schema=False)


@root.get("/")
def index(request: Request) -> RedirectResponse:
    return RedirectResponse(request.app.url_path_for("prompts"), status_code=303)
