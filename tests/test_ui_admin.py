"""API keys and members pages: keys shown once, publishable keys need origins, revoking works at
once; invitations, roles and owner rules; only admins get in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from promptyard.services import keys, prompts
from promptyard.store.models import Membership, User
from tests.ui_support import PASSWORD, accept_invitation, csrf_of, log_in, make_user

HOSTILE = '<img src=x onerror="alert(1)">'


def test_only_admins_manage_keys_and_members(ui):
    for role in ("viewer", "editor"):
        client = ui(role)
        for path in ("/ui/keys", "/ui/members"):
            assert client.get(path).status_code == 403, (role, path)
        assert client.post("/ui/keys", data={"csrf_token": client.csrf, "name": "x"}).status_code == 403
        assert "/ui/keys" not in client.get("/ui/settings").text  # not offered in the header either


def test_create_key_shows_it_once_and_it_works(ui, app):
    client = ui("admin")
    answer = client.post("/ui/keys", data={"csrf_token": client.csrf, "name": f"backend {HOSTILE}",
                                           "kind": "secret", "scopes": ["read", "ingest"]})
    assert answer.status_code == 200
    raw = re.search(r'id="new-key-value" class="mono">([^<]+)<', answer.text).group(1)
    assert raw.startswith("py_sk_") and HOSTILE not in answer.text and "&lt;img" in answer.text
    listing = client.get("/ui/keys").text
    assert raw not in listing and raw[:10] in listing
    api = TestClient(app)
    assert api.get("/api/v1/prompts", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    key_id = re.search(r'/ui/keys/(\d+)/revoke', listing).group(1)
    assert client.post(f"/ui/keys/{key_id}/revoke", data={"csrf_token": "x"}).status_code == 403
    revoked = client.post(f"/ui/keys/{key_id}/revoke", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    assert api.get("/api/v1/prompts", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert "revoked" in client.get("/ui/keys").text


def test_publishable_key_needs_origins(ui):
    client = ui("admin")
    answer = client.post("/ui/keys", data={"csrf_token": client.csrf, "name": "web", "kind": "publishable"})
    assert answer.status_code == 422 and "allowed_origins" in answer.text and 'value="web"' in answer.text
    answer = client.post("/ui/keys", data={"csrf_token": client.csrf, "name": "web", "kind": "publishable",
                                           "origins": "https://app.example.com\nhttp://localhost:3000"})
    assert answer.status_code == 200 and "py_pk_" in answer.text and "https://app.example.com" in answer.text


def test_invite_accept_and_change_roles(ui, app):
    admin = ui("admin")
    answer = admin.post("/ui/invitations", data={"csrf_token": admin.csrf, "email": "new.person@example.com",
                                                 "role": "editor"})
    assert answer.status_code == 200
    link = re.search(r'id="invite-link" class="mono">([^<]+)<', answer.text).group(1)
    path = link.split("testserver", 1)[1]
    newcomer = TestClient(app, raise_server_exceptions=False)
    page = newcomer.get(path)
    assert page.status_code == 200 and "new.person@example.com" in page.text
    short = accept_invitation(newcomer, path, name="New", password="short")
    assert short.status_code == 422 and "at least 10" in short.text
    joined = accept_invitation(newcomer, path, name="New", password=PASSWORD)
    assert joined.status_code == 303
    assert "(editor)" in newcomer.get("/ui/settings").text
    assert newcomer.get(path).status_code == 404  # used once
    row = next(r for r in admin.get("/ui/members").text.split("<tr>") if "new.person@example.com" in r)
    assert 'value="editor" selected' in row


def _member_id(html: str, email: str) -> str:
    row = next(r for r in html.split("<tr>") if email in r)
    return re.search(r"/ui/members/(\d+)/role", row).group(1)


def test_owner_rules_and_removal_ends_sessions(ui, app, database):
    admin = ui("admin")
    owner_email = make_user(database, admin.principal, "owner")
    viewer = ui("viewer")
    members = admin.get("/ui/members").text
    promote = admin.post(f"/ui/members/{_member_id(members, viewer.email)}/role",
                         data={"csrf_token": admin.csrf, "role": "owner"})
    assert promote.status_code == 403 and "only an owner" in promote.text
    demote = admin.post(f"/ui/members/{_member_id(members, owner_email)}/role",
                        data={"csrf_token": admin.csrf, "role": "viewer"})
    assert demote.status_code == 403
    owner = TestClient(app, raise_server_exceptions=False)
    log_in(owner, owner_email)
    owner_csrf = csrf_of(owner.get("/ui/settings").text)
    last = owner.post(f"/ui/members/{_member_id(members, owner_email)}/role",
                      data={"csrf_token": owner_csrf, "role": "admin"})
    assert last.status_code == 409 and "at least one owner" in last.text
    ok = admin.post(f"/ui/members/{_member_id(members, viewer.email)}/role",
                    data={"csrf_token": admin.csrf, "role": "editor"}, follow_redirects=False)
    assert ok.status_code == 303
    assert viewer.get("/ui/prompts/new").status_code == 200  # the new role applies at once
    removed = admin.post(f"/ui/members/{_member_id(members, viewer.email)}/remove",
                         data={"csrf_token": admin.csrf}, follow_redirects=False)
    assert removed.status_code == 303
    assert viewer.get("/ui/settings", follow_redirects=False).status_code == 303
    assert log_in(TestClient(app), viewer.email).status_code == 401  # no workspace left


def test_invitation_for_an_existing_account_needs_its_password(ui, app, database):
    admin = ui("admin")
    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, f"other-{admin.csrf[:6]}")
    someone = make_user(database, keys.system_principal(other_ws), "viewer")
    answer = admin.post("/ui/invitations", data={"csrf_token": admin.csrf, "email": someone, "role": "viewer"})
    path = re.search(r'id="invite-link" class="mono">[^<]*?testserver([^<]+)<', answer.text).group(1)
    client = TestClient(app, raise_server_exceptions=False)
    assert "already has an account" in client.get(path).text
    assert accept_invitation(client, path, password="wrong password!").status_code == 401
    assert accept_invitation(client, path, password=PASSWORD).status_code == 303
    dup = admin.post("/ui/invitations", data={"csrf_token": admin.csrf, "email": someone, "role": "viewer"})
    assert dup.status_code == 409


def test_a_member_of_two_workspaces_can_switch(ui, database):
    admin = ui("admin")
    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, f"second-{admin.csrf[:6]}")
        prompts.create(s, keys.system_principal(other_ws), name="only-in-second")
        uid = s.scalar(select(User.id).where(User.email == admin.email))
        s.add(Membership(workspace_id=other_ws, user_id=uid, role="viewer"))
    assert "second-" in admin.get("/ui/settings").text
    assert admin.post("/ui/workspace", data={"csrf_token": admin.csrf, "workspace_id": "999999"}).status_code == 404
    switched = admin.post("/ui/workspace", data={"csrf_token": admin.csrf, "workspace_id": str(other_ws)},
                          follow_redirects=False)
    assert switched.status_code == 303
    listing = admin.get("/ui/prompts").text
    assert "only-in-second" in listing and "(viewer)" in listing
    assert admin.get("/ui/keys").status_code == 403  # a viewer there


def _invite_path(admin, email: str, role: str = "viewer") -> str:  # noqa: ANN001
    answer = admin.post("/ui/invitations", data={"csrf_token": admin.csrf, "email": email, "role": role})
    return re.search(r'id="invite-link" class="mono">[^<]*?testserver([^<]+)<', answer.text).group(1)


def test_accepting_an_invitation_needs_the_pages_own_token(ui, app):
    """Whoever made an invitation knows its link, so the link alone must not log a browser in:
    another site could otherwise post the form and log its visitor into the inviter's account."""
    admin = ui("admin")
    path = _invite_path(admin, "csrf.victim@example.com")
    victim = TestClient(app, raise_server_exceptions=False)
    forged = victim.post(path, data={"password": PASSWORD, "login_token": "guessed"}, follow_redirects=False)
    assert forged.status_code == 403 and "py_session" not in victim.cookies
    assert accept_invitation(victim, path, password=PASSWORD).status_code == 303
    assert "py_session" in victim.cookies


def test_a_second_invitation_for_a_member_is_a_conflict_not_a_crash(ui, app):
    admin = ui("admin")
    first, second = _invite_path(admin, "twice@example.com"), _invite_path(admin, "twice@example.com")
    assert accept_invitation(TestClient(app, raise_server_exceptions=False), first,
                             password=PASSWORD).status_code == 303
    again = accept_invitation(TestClient(app, raise_server_exceptions=False), second, password=PASSWORD)
    assert again.status_code == 409 and "already a member" in again.text


def test_removal_ends_sessions_in_that_workspace_only(ui, app, database):
    """An admin of one workspace ends a person's sessions there, not their work elsewhere."""
    admin = ui("admin")
    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, f"elsewhere-{admin.csrf[:6]}")
    person = make_user(database, keys.system_principal(other_ws), "editor")
    with database.write() as s:
        uid = s.scalar(select(User.id).where(User.email == person))
        s.add(Membership(workspace_id=admin.principal.workspace_id, user_id=uid, role="viewer"))
    here, elsewhere = TestClient(app, raise_server_exceptions=False), TestClient(app, raise_server_exceptions=False)
    log_in(here, person)
    log_in(elsewhere, person)
    # 'here' switches into the admin's workspace; 'elsewhere' stays in the person's own one.
    assert here.post("/ui/workspace", data={"csrf_token": csrf_of(here.get("/ui/settings").text),
                                           "workspace_id": str(admin.principal.workspace_id)},
                     follow_redirects=False).status_code == 303
    removed = admin.post(f"/ui/members/{uid}/remove", data={"csrf_token": admin.csrf}, follow_redirects=False)
    assert removed.status_code == 303
    assert here.get("/ui/settings", follow_redirects=False).status_code == 303  # logged out here
    assert elsewhere.get("/ui/settings").status_code == 200


def test_another_workspaces_ids_are_not_found_on_every_action(ui, database):
    from promptyard.services import labels, members, versions

    admin = ui("owner")
    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, f"foreign-{admin.csrf[:6]}")
        other = keys.system_principal(other_ws)
        pid = prompts.create(s, other, name="foreign-secret").id
        for i in (1, 2):
            versions.publish(s, other, pid, {"messages": [{"role": "user", "content": f"v{i}"}], "commit_message": "c"})
        labels.move(s, other, pid, "production", version=1, reason="r")
        key_id = keys.create_key(s, other, name="foreign-key")[0].id
        invitation_id = members.invite(s, other, email="foreign@example.com", role="viewer")[0].id
    foreign_user = make_user(database, other, "viewer")
    with database.read() as s:
        uid = s.scalar(select(User.id).where(User.email == foreign_user))
    c = admin.csrf
    base = f"/ui/prompts/{pid}/labels/production"
    assert admin.get(f"{base}/experiment").status_code == 404
    for path, data in [(f"{base}/promote", {"version": "2", "reason": "r"}), (f"{base}/rollback", {"reason": "r"}),
                       (f"{base}/policy", {"weight_2": "100", "reason": "r"}),
                       (f"{base}/ramps", {"candidate": "2", "baseline": "1", "steps": "50,100", "interval_min": "1",
                                          "metric": "error_rate", "margin": "1", "min_n": "5", "reason": "r"}),
                       (f"/ui/keys/{key_id}/revoke", {}), (f"/ui/members/{uid}/role", {"role": "admin"}),
                       (f"/ui/members/{uid}/remove", {}), (f"/ui/invitations/{invitation_id}/revoke", {})]:
        answer = admin.post(path, data={"csrf_token": c, **data})
        assert answer.status_code == 404, path
        assert "foreign-secret" not in answer.text and "foreign-key" not in answer.text, path
    with database.read() as s:
        label = next(x for x in prompts.get(s, other, pid).labels if x.name == "production")
        assert (label.version, label.policy) == (1, None)
        assert keys.list_keys(s, other)[0].revoked_at is None
        assert [m.role for m in members.list_members(s, other)] == ["viewer"]
        assert len(members.list_invitations(s, other)) == 1
