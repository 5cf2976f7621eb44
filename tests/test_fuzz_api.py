"""Schemathesis against our OpenAPI: no generated request may produce a 5xx (on both databases)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import make_key

EXAMPLES = 12


def test_no_server_errors(app, database, principal):
    from promptyard.services import versions

    with database.write() as s:  # something to find, so that valid paths reach deeper code
        versions.publish_by_name(s, principal, name="fuzz", spec={
            "messages": [{"role": "user", "content": "{q}"}], "commit_message": "seed"}, labels=["staging"])
    headers = {"Authorization": f"Bearer {make_key(database, principal)}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    statuses: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15

    for operation in operations:
        if operation.path.endswith("/changes"):
            continue  # long poll: fuzzing `wait` only makes the suite slow

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):  # noqa: ANN001, ANN202
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # noqa: BLE001 - the in-process client re-raises server errors
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200} -> {exc!r:.300}")
                return
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                                f"{response.status_code}: {response.text[:200]}")

        run()
    assert not failures, "\n".join(failures[:10])
    assert sum(200 <= s < 300 for s in statuses) >= 3, "fuzzing never got past validation or auth"
