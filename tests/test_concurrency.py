"""20 clients publishing versions of one prompt at once get 1..N with no gap or duplicate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from promptyard.services import prompts, versions


def spec(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"variant {i} {{q}}"}], "commit_message": f"writer {i}"}


def test_concurrent_publishes_number_without_gaps(database, principal):
    with database.write() as s:
        pid = prompts.create(s, principal, name="contended").id

    def publish(i: int) -> int:
        with database.write() as s:
            return versions.publish(s, principal, pid, spec(i))[0].number

    with ThreadPoolExecutor(max_workers=20) as pool:
        numbers = list(pool.map(publish, range(60)))
    assert sorted(numbers) == list(range(1, 61))
    with database.read() as s:
        stored = [v.number for v in versions.list_versions(s, principal, pid)]
    assert sorted(stored) == list(range(1, 61))


def test_concurrent_label_moves_are_all_recorded(database, principal):
    from promptyard.services import labels

    with database.write() as s:
        pid = prompts.create(s, principal, name="labels").id
        for i in range(5):
            versions.publish(s, principal, pid, spec(i))

    def move(i: int) -> None:
        with database.write() as s:
            labels.move(s, principal, pid, "staging", version=i % 5 + 1, reason=f"move {i}")

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(move, range(30)))
    with database.read() as s:
        history = labels.history(s, principal, pid, "staging")
    # Every recorded move starts where the previous one ended: no lost update.
    chain = list(reversed(history))
    assert chain[0].from_version is None
    assert all(a.to_version == b.from_version for a, b in zip(chain, chain[1:]))
