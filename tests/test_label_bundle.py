"""labels.bundle(): what the SDKs cache for a fetch spec - the label's policy, its own version and
every version the policy can serve - with no routing draw (the client draws)."""

from __future__ import annotations

import pytest

from promptyard.errors import NotFound
from promptyard.services import labels, prompts, versions

POLICY = {"sticky_key": "user_id", "split": [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}],
          "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 5}]}


@pytest.fixture()
def prompt_id(database, principal):  # noqa: ANN001, ANN201
    with database.write() as s:
        pid = prompts.create(s, principal, name="bundle/reply").id
        for i in range(1, 7):
            versions.publish(s, principal, pid, {"text": f"v{i}", "commit_message": f"v{i}"})
        labels.move(s, principal, pid, "production", version=2, policy=POLICY, reason="try v3-v5")
        labels.move(s, principal, pid, "staging", version=6)
    return pid


def test_a_policy_label_bundles_every_version_it_serves_and_its_own(database, principal, prompt_id):  # noqa: ANN001
    with database.read() as s:
        b = labels.bundle(s, principal, "bundle/reply")
        again = labels.bundle(s, principal, "bundle/reply", label="production")
    assert (b.prompt.id, b.label, b.version) == (prompt_id, "production", 2)
    assert b.policy["split"] == POLICY["split"] and b.policy["segments"][0]["version"] == 5
    assert sorted(b.versions) == [2, 3, 4, 5]
    assert all(v.number == n and v.template == {"text": f"v{n}"} for n, v in b.versions.items())
    assert again == b  # no draw: the same spec gives the same bundle


@pytest.mark.parametrize(("spec", "label", "number"), [
    ({"version": 4}, None, 4), ({"label": "staging"}, "staging", 6), ({"label": "latest"}, "latest", 6)])
def test_a_fixed_spec_bundles_one_version_and_no_policy(database, principal, prompt_id, spec, label, number):  # noqa: ANN001
    with database.read() as s:
        b = labels.bundle(s, principal, "bundle/reply", **spec)
    assert (b.label, b.policy, b.version, sorted(b.versions)) == (label, None, number, [number])


def test_unknown_label_or_version_is_not_found(database, principal, prompt_id):  # noqa: ANN001
    with database.read() as s:
        with pytest.raises(NotFound, match="no label 'nope'"):
            labels.bundle(s, principal, "bundle/reply", label="nope")
        with pytest.raises(NotFound, match="no version 9"):
            labels.bundle(s, principal, "bundle/reply", version=9)
