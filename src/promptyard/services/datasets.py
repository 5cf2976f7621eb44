"""Datasets: named sets of items (input, expected output, metadata, source request) that evaluation
runs read, versioned. Every change (items added, edited, deleted, uploaded, taken from the log) makes
one new version, 1, 2, 3 ... (under a row lock on the dataset), and a version's items never change.
Uploads and exports are services/dataset_files.py; the item rules domain/datasets.py.

How versions are stored: each item row carries the range of versions it is in, first_version <= v <
last_version (NULL: still in the latest). A new version costs only what it changes: an added item is
one row, a deleted one gets its last_version set, an edit does both at the same `position` (the item's
place in the dataset). With a version <-> item membership table every new version would copy the
whole list instead: at 10,000 items x 20 versions that is 200,000 membership rows, and editing one
item writes 10,000; here it is 10,000 rows plus one per change, and reading version v is one range
condition on the (dataset_id, position, first_version) index, paged by position.

An item's content is never updated in place. The one exception is erasure: erasing a request
(services/erasure.py) removes the items made from it from every version that held them
(`forget_requests`), because their input and expected output are copies of the request's text.

Items made from the log copy the stored, already redacted text of the request; items sent to the API
or uploaded pass through the workspace's redaction policy first, like ingest (services/redaction.py).
Viewers read, editors (the `write` scope) change.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any, Iterable, Iterator

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from promptyard.domain import access, query
from promptyard.domain import datasets as dd
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import redaction, request_reads
from promptyard.store import bulk
from promptyard.store.models import Dataset, DatasetItem, DatasetVersion, Request
from promptyard.store.types import utcnow

MAX_ITEMS = 100_000  # items in one version
MAX_FROM_LOG = 10_000  # logs one call takes from the log at most (the newest first)
PAGE, MAX_PAGE = 100, 1000
BATCH = 500  # rows per insert


# --- reading ---------------------------------------------------------------------------------------


def _record(d: Dataset) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "description": d.description, "latest_version": d.latest_version,
            "created_by": d.created_by, "created_at": d.created_at, "updated_at": d.updated_at}


def _version_record(v: DatasetVersion) -> dict[str, Any]:
    return {"number": v.number, "message": v.message, "item_count": v.item_count, "created_by": v.created_by,
            "created_at": v.created_at}


def _item_record(i: DatasetItem) -> dict[str, Any]:
    return {"id": i.id, "position": i.position, "input": i.input, "expected": i.expected,
            "metadata": dict(i.item_metadata or {}), "source_request": i.source_request_id,
            "created_at": i.created_at}


def _get(session: Session, p: Principal, dataset_id: int, *, lock: bool = False) -> Dataset:
    q = select(Dataset).where(Dataset.workspace_id == p.workspace_id, Dataset.id == dataset_id)
    d = session.scalar(q.with_for_update() if lock else q)
    if d is None:
        raise NotFound("errors.datasets.not_found", id=dataset_id)
    return d


def list_all(session: Session, p: Principal, *, name: str | None = None) -> list[dict[str, Any]]:
    """Every dataset of the workspace by name (`name`: only the one of that name), each with its
    latest version's item count."""
    access.require(p, "read")
    q = (select(Dataset, DatasetVersion.item_count).outerjoin(DatasetVersion, and_(
        DatasetVersion.dataset_id == Dataset.id, DatasetVersion.number == Dataset.latest_version))
         .where(Dataset.workspace_id == p.workspace_id).order_by(Dataset.name))
    if name is not None:  # looked up, not judged: a name that cannot exist is simply not found
        q = q.where(Dataset.name == unicodedata.normalize("NFC", name))
    return [_record(d) | {"item_count": n or 0} for d, n in session.execute(q)]


def get(session: Session, p: Principal, dataset_id: int) -> dict[str, Any]:
    """One dataset with its versions, newest first."""
    access.require(p, "read")
    d = _get(session, p, dataset_id)
    out = _record(d) | {"versions": versions(session, p, dataset_id)}
    out["item_count"] = out["versions"][0]["item_count"] if out["versions"] else 0
    return out


def versions(session: Session, p: Principal, dataset_id: int) -> list[dict[str, Any]]:
    access.require(p, "read")
    _get(session, p, dataset_id)
    rows = session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
                           .order_by(DatasetVersion.number.desc()))
    return [_version_record(v) for v in rows]


def _number(d: Dataset, version: int | None) -> int:
    """The version asked for (None: the latest); NotFound for one that does not exist."""
    if version is None:
        if not d.latest_version:
            raise NotFound("errors.datasets.no_versions", name=d.name)
        return d.latest_version
    if not 1 <= version <= d.latest_version:
        raise NotFound("errors.datasets.no_such_version", name=d.name, version=version)
    return version


def _in_version(dataset_id: int, number: int) -> Any:
    return and_(DatasetItem.dataset_id == dataset_id, DatasetItem.first_version <= number,
                or_(DatasetItem.last_version.is_(None), DatasetItem.last_version > number))


def items(session: Session, p: Principal, dataset_id: int, *, version: int | None = None, after: int = 0,
          limit: int = PAGE) -> dict[str, Any]:
    """One page of a version's items in position order: `items`, and `next` (the `after` of the
    next page, None on the last one)."""
    access.require(p, "read")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("errors.datasets.page_size", field="limit", limit=MAX_PAGE)
    d = _get(session, p, dataset_id)
    number = _number(d, version)
    rows = session.scalars(select(DatasetItem).where(_in_version(d.id, number), DatasetItem.position > after)
                           .order_by(DatasetItem.position).limit(limit + 1)).all()
    page = [_item_record(i) for i in rows[:limit]]
    return {"dataset": d.id, "version": number, "items": page,
            "next": page[-1]["position"] if len(rows) > limit else None}


def iterate(session: Session, p: Principal, dataset_id: int, version: int | None = None
            ) -> tuple[dict[str, Any], int, Iterator[dict[str, Any]]]:
    """The dataset, the version's number and all its items in position order, read in batches
    (exports). Rights and the version are checked now, before the first item is asked for."""
    access.require(p, "read")
    d = _get(session, p, dataset_id)
    number = _number(d, version)

    def each() -> Iterator[dict[str, Any]]:
        after = 0
        while True:
            page = items(session, p, d.id, version=number, after=after, limit=MAX_PAGE)
            yield from page["items"]
            if page["next"] is None:
                return
            after = page["next"]

    return _record(d), number, each()


def source_requests(session: Session, p: Principal, dataset_id: int, version: int | None = None
                    ) -> tuple[dict[str, Any], int, list[int], int]:
    """The dataset, the version's number, the request logs its items were made from (position order,
    each once) and how many of its items have no log (entered by hand, uploaded): an annotation
    queue's items (services/queue_sources.py)."""
    access.require(p, "read")
    d = _get(session, p, dataset_id)
    number = _number(d, version)
    rows = session.scalars(select(DatasetItem.source_request_id).where(_in_version(d.id, number))
                           .order_by(DatasetItem.position)).all()
    linked = list(dict.fromkeys(r for r in rows if r is not None))
    return _record(d), number, linked, sum(1 for r in rows if r is None)


# --- writing ---------------------------------------------------------------------------------------


def create(session: Session, p: Principal, *, name: Any, description: Any = "") -> dict[str, Any]:
    """A new dataset, without versions until items are added."""
    access.require(p, "write")
    name = dd.dataset_name(name)
    if not isinstance(description, str) or len(description) > 10_000:
        raise InvalidInput("errors.datasets.description", field="description")
    if session.scalar(select(Dataset.id).where(Dataset.workspace_id == p.workspace_id, Dataset.name == name)):
        raise Conflict("errors.datasets.name_taken", name=name)
    d = Dataset(workspace_id=p.workspace_id, name=name, description=description, created_by=p.actor)
    session.add(d)
    session.flush()
    return _record(d) | {"item_count": 0}


class _Change:
    """One new version in the making: the dataset row is locked, its number is latest + 1; items
    are added in batches and ended as they go; `commit` writes the version row."""

    def __init__(self, session: Session, p: Principal, dataset_id: int):
        access.require(p, "write")
        self.session, self.p = session, p
        self.d = _get(session, p, dataset_id, lock=True)
        self.number = self.d.latest_version + 1
        self.before = session.scalar(select(DatasetVersion.item_count).where(
            DatasetVersion.dataset_id == self.d.id, DatasetVersion.number == self.d.latest_version)) or 0
        self.next_position = (session.scalar(select(func.max(DatasetItem.position))
                                             .where(DatasetItem.dataset_id == self.d.id)) or 0) + 1
        self.added, self.ended, self._rows = 0, 0, []

    def add(self, item: dd.Item, position: int | None = None) -> None:
        if self.before + self.added - self.ended >= MAX_ITEMS:
            raise InvalidInput("errors.datasets.too_many", limit=MAX_ITEMS)
        if position is None:
            position, self.next_position = self.next_position, self.next_position + 1
        self._rows.append({"workspace_id": self.p.workspace_id, "dataset_id": self.d.id, "position": position,
                           "first_version": self.number, "last_version": None, "input": item.input,
                           "expected": item.expected, "metadata": item.metadata,
                           "source_request_id": item.source_request_id, "created_at": utcnow()})
        self.added += 1
        if len(self._rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self.session.execute(insert(DatasetItem.__table__), self._rows)
            self._rows = []

    def live(self, item_ids: Iterable[int]) -> list[DatasetItem]:
        """These items of the latest version (NotFound naming the first that is not in it)."""
        ids = list(dict.fromkeys(item_ids))
        found = {i.id: i for i in self.session.scalars(select(DatasetItem).where(
            _in_version(self.d.id, self.d.latest_version), bulk.one_of(DatasetItem.id, ids)))} if ids else {}
        missing = next((i for i in ids if i not in found), None)
        if missing is not None:
            raise NotFound("errors.datasets.no_such_item", id=missing, name=self.d.name)
        return [found[i] for i in ids]

    def end(self, rows: list[DatasetItem]) -> None:
        self.session.execute(update(DatasetItem).where(bulk.one_of(DatasetItem.id, [r.id for r in rows]))
                             .values(last_version=self.number))
        self.ended += len(rows)

    def commit(self, message: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        self.flush()
        if not self.added and not self.ended:
            raise InvalidInput("errors.datasets.no_change")
        if not isinstance(message, str) or len(message) > 10_000:
            raise InvalidInput("errors.datasets.message", field="message")
        v = DatasetVersion(workspace_id=self.p.workspace_id, dataset_id=self.d.id, number=self.number,
                           message=message, item_count=self.before + self.added - self.ended,
                           created_by=self.p.actor)
        self.session.add(v)
        self.d.latest_version, self.d.updated_at = self.number, utcnow()
        self.session.flush()
        return _version_record(v) | {"dataset": self.d.id, "added": self.added, "removed": self.ended} | (extra or {})


def redacted(red: Any, item: dd.Item) -> dd.Item:
    """An item from outside the log as the workspace's redaction policy leaves it (like ingest)."""
    if red is None:
        return item
    return dd.Item(red.value(item.input), red.text(item.expected) if item.expected else item.expected,
                   {k: red.text(v) for k, v in item.metadata.items()}, item.source_request_id)


def add_items(session: Session, p: Principal, dataset_id: int, raw_items: Any, *, message: Any = ""
              ) -> dict[str, Any]:
    """A new version with these items added at the end ([{input, expected?, metadata?}])."""
    if not isinstance(raw_items, list) or not raw_items:
        raise InvalidInput("errors.datasets.items_list", field="items")
    checked = []
    for index, raw in enumerate(raw_items):
        try:
            checked.append(dd.item(raw))
        except InvalidInput as exc:
            raise dd.Located(exc, "errors.datasets.at_item", index=index) from None
    change = _Change(session, p, dataset_id)
    red = redaction.for_workspace(session, p.workspace_id)
    for item in checked:
        change.add(redacted(red, item))
    return change.commit(message)


def update_item(session: Session, p: Principal, dataset_id: int, item_id: int, changes: Any, *,
                message: Any = "") -> dict[str, Any]:
    """A new version in which one item has new content (the fields given) at the same position. An
    item made from a log keeps its link: its content still comes from that request."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("errors.datasets.item_not_object", field="item")
    change = _Change(session, p, dataset_id)
    (old,) = change.live([item_id])
    merged = {"input": old.input, "expected": old.expected, "metadata": old.item_metadata} | changes
    new = redacted(redaction.for_workspace(session, p.workspace_id), dd.item(merged))
    new.source_request_id = old.source_request_id
    change.end([old])
    change.add(new, position=old.position)
    return change.commit(message)


def delete_items(session: Session, p: Principal, dataset_id: int, item_ids: Any, *, message: Any = ""
                 ) -> dict[str, Any]:
    """A new version without these items (ids of the latest version's items)."""
    if not isinstance(item_ids, list) or not item_ids or not all(isinstance(i, int) and not isinstance(i, bool)
                                                                 for i in item_ids):
        raise InvalidInput("errors.datasets.item_ids", field="ids")
    change = _Change(session, p, dataset_id)
    change.end(change.live(item_ids))
    return change.commit(message)


# --- from the request log --------------------------------------------------------------------------


def log_item(summary: dict[str, Any], *, with_expected: bool) -> dd.Item:
    """An item from a request as request_reads.summaries(full=True) gives it: its prompt variables,
    else its messages, as input; its output text as the expected output (`with_expected`, ok
    requests only); its metadata; the link to it. Its text is the stored, already redacted one."""
    inp = summary.get("input_variables")
    if not inp:
        raw = summary.get("input")
        inp = raw.get("messages") if isinstance(raw, dict) and isinstance(raw.get("messages"), list) else None
        if not inp or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in inp):
            inp = [{"role": "user", "content": summary.get("input_text") or ""}]
    expected = summary.get("output_text") if with_expected and summary.get("status") == "ok" else None
    return dd.Item(inp, expected or None, dict(summary.get("metadata") or {}), summary["number"])


def from_filter(session: Session, p: Principal, dataset_id: int, filter: Any, *, max_items: int = MAX_FROM_LOG,
                with_expected: bool = True, message: Any = "") -> dict[str, Any]:
    """A new version with the logs the filter matches (the search language, text or its JSON form)
    added, newest first, at most `max_items` (`truncated` says more matched)."""
    access.require(p, "read")
    node = query.from_json(filter) if isinstance(filter, dict) else query.parse(filter if isinstance(filter, str)
                                                                                else "")
    if node is None:
        raise InvalidInput("errors.datasets.filter_empty", field="filter")
    if not isinstance(max_items, int) or not 1 <= max_items <= MAX_FROM_LOG:
        raise InvalidInput("errors.datasets.max_items", field="max_items", limit=MAX_FROM_LOG)
    change = _Change(session, p, dataset_id)
    truncated = False
    for n, summary in enumerate(request_reads.iterate(session, p, node, batch=min(max_items + 1, 1000))):
        if n == max_items:
            truncated = True
            break
        change.add(log_item(summary, with_expected=with_expected))
    if not change.added:
        raise InvalidInput("errors.datasets.filter_matches_none", field="filter")
    return change.commit(message, {"truncated": truncated, "filter": query.to_text(node)})


def from_requests(session: Session, p: Principal, dataset_id: int, refs: Any, *, with_expected: bool = True,
                  message: Any = "") -> dict[str, Any]:
    """A new version with these requests (ids or numbers, as the UI's "add to dataset" sends them)."""
    access.require(p, "read")
    if not isinstance(refs, list) or not refs or len(refs) > MAX_FROM_LOG or not all(
            isinstance(r, (str, int)) and not isinstance(r, bool) for r in refs):
        raise InvalidInput("errors.datasets.request_ids", field="requests", limit=MAX_FROM_LOG)
    ids = []
    for ref in refs:
        rid = request_reads.find(session, p, str(ref))
        if rid is None:
            raise NotFound("errors.datasets.no_such_request", ref=str(ref))
        ids.append(rid)
    change = _Change(session, p, dataset_id)
    ids = list(dict.fromkeys(ids))
    by_id = {r.id: r for r in session.scalars(select(Request).where(Request.workspace_id == p.workspace_id,
                                                                    bulk.one_of(Request.id, ids)))}
    for summary in request_reads.summaries(session, [by_id[i] for i in ids], full=True):
        change.add(log_item(summary, with_expected=with_expected))
    return change.commit(message)


# --- erasure ---------------------------------------------------------------------------------------


def forget_requests(session: Session, workspace_id: int, request_ids: list[int]) -> int:
    """Erase the items made from these requests from every version that held them (their text is a
    copy of the request's), and take them out of those versions' item counts; how many went.
    services/erasure.delete_requests calls this before the requests go."""
    if not request_ids:
        return 0
    touched = session.scalars(select(DatasetItem.dataset_id).distinct().where(
        DatasetItem.workspace_id == workspace_id, bulk.one_of(DatasetItem.source_request_id, request_ids))).all()
    if not touched:
        return 0
    # Locked like a new version locks them (in id order): a version made meanwhile counts after this.
    session.execute(select(Dataset.id).where(bulk.one_of(Dataset.id, sorted(touched))).order_by(Dataset.id)
                    .with_for_update())
    rows = session.execute(select(DatasetItem.id, DatasetItem.dataset_id, DatasetItem.first_version,
                                  DatasetItem.last_version, Dataset.latest_version)
                           .join(Dataset, Dataset.id == DatasetItem.dataset_id)
                           .where(DatasetItem.workspace_id == workspace_id,
                                  bulk.one_of(DatasetItem.source_request_id, request_ids))).all()
    if not rows:
        return 0
    spans = Counter((row.dataset_id, row.first_version,
                     row.last_version if row.last_version is not None else row.latest_version + 1) for row in rows)
    for (dataset_id, first, last), n in sorted(spans.items()):  # one update per range, in key order
        session.execute(update(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset_id, DatasetVersion.number >= first,
            DatasetVersion.number < last).values(item_count=DatasetVersion.item_count - n))
    session.execute(delete(DatasetItem).where(bulk.one_of(DatasetItem.id, [row.id for row in rows])))
    return len(rows)
