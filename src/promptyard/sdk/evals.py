"""`client.evals`: evaluation runs from Python (the SDK side of /api/v1/evaluations).

    run = client.evals.run(dataset=7, provider=2, variants=[{"prompt": "qa", "label": "production"},
                                                             {"prompt": "qa", "version": 4}],
                           scorers=[{"type": "exact_match"}], judges=[{"prompt": "judges/helpful"}])
    run = client.evals.wait(run["id"])            # polls until done, cancelled or failed
    client.evals.compare(run["id"], run["id"], base_variant=..., candidate_variant=...)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

FINISHED = ("done", "cancelled", "failed")


class Evals:
    def __init__(self, request: Callable[..., Any]):
        self._request = request

    def run(self, *, dataset: int, provider: int, variants: list[dict[str, Any]], scorers: list[dict] | None = None,
            judges: list[dict] | None = None, **options: Any) -> dict[str, Any]:
        """Queue a run (options: dataset_version, model, params, concurrency, timeout_s, max_attempts, name)."""
        body = {"dataset": dataset, "provider": provider, "variants": variants, "scorers": scorers or [],
                "judges": judges or [], **options}
        return self._request("POST", "/api/v1/evaluations", json=body)

    def get(self, run_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/evaluations/{run_id}")

    def list(self, *, dataset: int | None = None, status: str | None = None, limit: int = 50) -> list[dict]:
        params = {k: v for k, v in {"dataset": dataset, "status": status, "limit": limit}.items() if v is not None}
        return self._request("GET", "/api/v1/evaluations", params=params)["items"]

    def items(self, run_id: int, *, status: str | None = None) -> list[dict[str, Any]]:
        """Every item of a run (read page by page)."""
        out, after = [], 0
        while True:
            params = {"after": after, "limit": 1000} | ({"status": status} if status else {})
            page = self._request("GET", f"/api/v1/evaluations/{run_id}/items", params=params)
            out += page["items"]
            if page["next"] is None:
                return out
            after = page["next"]

    def cancel(self, run_id: int) -> dict[str, Any]:
        return self._request("POST", f"/api/v1/evaluations/{run_id}/cancel")

    def resume(self, run_id: int, *, retry_failed: bool = False) -> dict[str, Any]:
        return self._request("POST", f"/api/v1/evaluations/{run_id}/resume", json={"retry_failed": retry_failed})

    def wait(self, run_id: int, *, timeout_s: float | None = None, poll_s: float = 1.0,
             on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll until the run is done, cancelled or failed; the run. TimeoutError past `timeout_s`."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            state = self._request("GET", f"/api/v1/evaluations/{run_id}/progress")
            if on_progress is not None:
                on_progress(state)
            if state["status"] in FINISHED:
                return self.get(run_id)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"evaluation run {run_id} is still {state['status']}")
            time.sleep(poll_s)

    def compare(self, base: int, candidate: int, *, base_variant: str | None = None,
                candidate_variant: str | None = None, worst: int = 50) -> dict[str, Any]:
        params = {"base": base, "candidate": candidate, "worst": worst}
        params |= {k: v for k, v in (("base_variant", base_variant), ("candidate_variant", candidate_variant)) if v}
        return self._request("GET", "/api/v1/evaluations/compare", params=params)
