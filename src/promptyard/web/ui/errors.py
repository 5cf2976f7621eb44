"""(placeholder: the UI's error page; until then the API's JSON shape)"""

from promptyard.web.api.errors import from_domain, from_http, from_unexpected, from_validation  # noqa: F401
