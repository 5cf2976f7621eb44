"""`client.datasets`: datasets on the server for evaluation runs (/api/v1/datasets), by name or id.
Synchronous calls over the client's HTTP connection; errors are the classes of promptyard.errors."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

from promptyard import errors

Call = Callable[..., Any]  # (method, path, **httpx keywords) -> the answer's JSON


class Datasets:
    def __init__(self, request: Call):
        self._request = request

    def list(self) -> list[dict[str, Any]]:
        """Every dataset of the workspace: id, name, latest_version, item_count, ..."""
        return self._request("GET", "/api/v1/datasets")["items"]

    def get(self, dataset: str | int) -> dict[str, Any]:
        """One dataset with its versions, newest first."""
        return self._request("GET", f"/api/v1/datasets/{self.id_of(dataset)}")

    def create(self, name: str, *, description: str = "", items: Sequence[Mapping[str, Any]] | None = None,
               message: str = "") -> dict[str, Any]:
        """A new dataset; with `items`, its first version holds them."""
        made = self._request("POST", "/api/v1/datasets", json={"name": name, "description": description})
        if items:
            made["version"] = self.add_items(made["id"], items, message=message)
        return made

    def add_items(self, dataset: str | int, items: Sequence[Mapping[str, Any]], *, message: str = "") -> dict[str, Any]:
        """A new version with these items ({input: {variables} | [messages], expected?, metadata?}) added."""
        return self._request("POST", f"/api/v1/datasets/{self.id_of(dataset)}/items",
                             json={"items": [dict(i) for i in items], "message": message})

    def from_filter(self, dataset: str | int, filter: str, *, max_items: int = 1000, expected: bool = True,
                    message: str = "") -> dict[str, Any]:
        """A new version with the logs a filter matches (newest first, at most `max_items`)."""
        return self._request("POST", f"/api/v1/datasets/{self.id_of(dataset)}/from-log", json={
            "filter": filter, "max_items": max_items, "expected": expected, "message": message})

    def items(self, dataset: str | int, *, version: int | None = None, page_size: int = 500
              ) -> Iterator[dict[str, Any]]:
        """Every item of a version (default: the latest), page by page as they are read."""
        ds, after = self.id_of(dataset), 0
        while True:
            params = {"after": after, "limit": page_size} | ({"version": version} if version else {})
            page = self._request("GET", f"/api/v1/datasets/{ds}/items", params=params)
            yield from page["items"]
            if page["next"] is None:
                return
            after = page["next"]

    def id_of(self, dataset: str | int) -> int:
        """A dataset's id: an int is taken as the id, a str as the name."""
        if isinstance(dataset, int):
            return dataset
        found = self._request("GET", "/api/v1/datasets", params={"name": dataset})["items"]
        if not found:
            raise errors.NotFound("errors.datasets.no_such_name", name=dataset)
        return found[0]["id"]
