"""The browser UI under /ui: server-rendered pages (Jinja2, autoescaped), forms, i18n.

Modules by what they hold: pages (rendering, sessions, roles, CSRF), errors (the UI's error
page), auth_pages, prompt_pages, admin_pages, experiment_pages, request_pages.
"""

from fastapi import APIRouter

from promptyard.web.ui import (admin_pages, auth_pages, errors, experiment_pages, prompt_pages,  # noqa: F401
                               request_pages)

router = APIRouter(prefix="/ui", include_in_schema=False)
for _module in (auth_pages, prompt_pages, admin_pages, experiment_pages, request_pages):
    router.include_router(_module.router)
