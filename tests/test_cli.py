"""The CLI and a real `promptyard serve` process (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from urllib.parse import quote

import httpx

from tests.servers import start_server
from tests.support import cli, ours, publish


def test_serve_health_first_run_and_restart(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        out = "".join(server.output)
        assert "serving on http://127.0.0.1:" in out and server.api_key.startswith("py_sk_")
        assert server.admin_email == "admin@localhost" and len(server.admin_password) >= 10
        health = httpx.get(server.url + "/-/health").json()
        assert health["status"] == "ok" and health["database"] == "sqlite" and health["version"]
        assert (tmp_path / "data" / "promptyard.db").exists()
    finally:
        server.stop()
    again = start_server(tmp_path / "data")  # second start: nothing new shown, key still works
    try:
        assert again.api_key == "" and "Log in at" in "".join(again.output)
        r = httpx.get(again.url + "/api/v1/prompts", headers={"Authorization": f"Bearer {server.api_key}"})
        assert r.status_code == 200
    finally:
        again.stop()


def test_keys_and_users_commands(tmp_path):
    env = {"PROMPTYARD_DATA_DIR": str(tmp_path)}
    assert cli("db", "upgrade", env=env).returncode == 0
    made = cli("keys", "create", "--name", "ci", "--scopes", "read", env=env)
    assert made.returncode == 0, made.stderr
    raw = made.stdout.strip()
    assert raw.startswith("py_sk_") and "\n" not in raw
    listed = cli("keys", "list", env=env).stdout
    assert "ci" in listed and raw not in listed and "active" in listed
    key_id = listed.split("\t")[0]
    assert cli("keys", "revoke", key_id, env=env).returncode == 0
    assert "revoked" in cli("keys", "list", env=env).stdout
    bad = cli("keys", "create", "--name", "x", "--scopes", "root", env=env)
    assert bad.returncode == 1 and "scopes" in bad.stderr
    assert cli("users", "create", "--email", "ph@example.jp", "--password", "long-enough-pw", env=env).returncode == 0


def test_users_create_without_a_password_or_a_terminal_says_so(tmp_path):
    env = {"PROMPTYARD_DATA_DIR": str(tmp_path / "data")}
    out = cli("users", "create", "--email", "nopw@example.jp", env=env, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "no terminal to ask for the password on; pass --password" in out.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made
    piped = cli("users", "create", "--email", "nopw@example.jp", env=env, input="a-password-in-a-pipe\n")
    assert piped.returncode == 2 and "pass --password" in piped.stderr


def test_prompts_push_pull_roundtrip(live, tmp_path):
    env = live.client_env
    src = tmp_path / "prompts"
    (src / "服薬指導").mkdir(parents=True)
    (src / "服薬指導" / "返信案.yaml").write_text(
        "folder: production\nmodel: {provider: openai, name: gpt-4o, parameters: {temperature: 0.2}}\n"
        "messages:\n  - role: system\n    content: 丁寧に答えてください。\n  - role: user\n    content: '{question}'\n",
        encoding="utf-8")
    first = cli("prompts", "push", str(src), "-m", "initial", "--label", "staging", env=env)
    assert first.returncode == 0, first.stderr
    assert "服薬指導/返信案: new version v1" in first.stdout
    again = cli("prompts", "push", str(src), "-m", "no change", env=env)
    assert "unchanged (v1)" in again.stdout
    out = tmp_path / "pulled"
    assert cli("prompts", "pull", str(out), env=env).returncode == 0
    pulled = (out / "服薬指導" / "返信案.yaml").read_text(encoding="utf-8")
    assert "丁寧に答えてください。" in pulled and "folder: production" in pulled
    listed = cli("prompts", "list", env=env).stdout
    assert "服薬指導/返信案\tv1\tproduction\tstaging=v1" in listed
    got = cli("prompts", "get", "服薬指導/返信案", "--label", "staging", env=env)
    assert '"number": 1' in got.stdout
    missing = cli("prompts", "get", "nope", env=env)
    assert missing.returncode == 1 and "no prompt named 'nope'" in missing.stderr


def test_requests_export_command(live, tmp_path):
    env = live.client_env
    r = live.http.post("/api/v1/requests", json={"requests": [
        {"model": "m", "metadata": {"env": "prod"}, "output": {"text": "=1+1"}}, {"model": "m", "metadata": {"env": "dev"}}]})
    assert r.json()["accepted"] == 2
    out = tmp_path / "prod.csv"
    done = cli("requests", "export", "--filter", 'metadata.env = "prod"', "--format", "csv", "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "prod" in lines[1] and lines[0].startswith("id,")
    excel = tmp_path / "excel.csv"
    done = cli("requests", "export", "--format", "csv", "--bom", "-o", str(excel), env=env)
    assert done.returncode == 0, done.stderr
    assert excel.read_bytes().startswith(b"\xef\xbb\xbfid,") and len(excel.read_text("utf-8-sig").splitlines()) == 3
    bad = cli("requests", "export", "--filter", "metadata.env = prod", env=env)
    assert bad.returncode == 1 and "position" in bad.stderr


def test_experiment_commands(live, tmp_path):
    """The whole experiment life cycle from the command line: policy, show, ramp, tick, stop,
    promote, rollback, clear."""
    env = live.client_env
    name = f"cli/exp-{uuid.uuid4().hex[:6]}"
    _publish(live, name, ["v1 {q}", "v2 {q}"])
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"sticky_key": "user_id", "split": [{"version": 1, "weight": 90},
                                                                      {"version": 2, "weight": 10}],
                                  "segments": [{"name": "staff", "when": [{"key": "role", "op": "=",
                                                                           "value": "staff"}], "version": 2}]}))
    done = cli("experiments", "policy", name, "production", "--file", str(policy), "--reason", "try v2", env=env)
    assert done.returncode == 0 and "policy set" in done.stdout, done.stderr
    staff = live.http.get(f"/api/v1/fetch/{quote(name, safe='')}",
                          params={"label": "production", "meta.role": "staff"}).json()
    assert staff["version"]["number"] == 2
    shown = cli("experiments", "show", name, "production", env=env)
    assert shown.returncode == 0 and "v1" in shown.stdout, shown.stderr
    bad = cli("experiments", "policy", name, "production", "--file", str(policy), "--reason", " ", env=env)
    assert bad.returncode == 1 and "needs a reason" in bad.stderr
    cli("experiments", "policy", name, "production", "--clear", "--version", "1", "--reason", "plain", env=env)
    ramp = cli("experiments", "ramp", name, "production", "--candidate", "2", "--baseline", "1", "--steps", "10",
               "50", "100", "--interval", "1", "--min-units", "5", "--planned-units", "300",
               "--sticky-key", "user_id", "--reason", "ramp it", env=env)
    assert ramp.returncode == 0 and "running" in ramp.stdout, ramp.stderr
    ramp_id = ramp.stdout.split()[1]
    prompt_id = live.http.get(f"/api/v1/prompts/by-name/{quote(name, safe='')}").json()["id"]
    plan = live.http.get(f"/api/v1/prompts/{prompt_id}/labels/production/ramps").json()
    assert {k: plan["items"][0]["plan"][k] for k in ("min_n", "planned_units", "sticky_key")} == {
        "min_n": 5, "planned_units": 300, "sticky_key": "user_id"}
    assert cli("experiments", "tick", env=env).returncode == 0
    stopped = cli("experiments", "stop-ramp", ramp_id, "--reason", "enough", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    promoted = cli("experiments", "promote", name, "production", "--version", "2", "--reason", "v2 wins", env=env)
    assert promoted.returncode == 0 and "v2" in promoted.stdout, promoted.stderr
    back = cli("experiments", "rollback", name, "production", "--reason", "oops", env=env)
    assert back.returncode == 0 and "-> v" in back.stdout, back.stderr
    history = live.http.get(f"/api/v1/prompts/by-name/{quote(name, safe='')}").json()
    assert history["labels"]
    missing = cli("experiments", "policy", name, "production", "--file", str(tmp_path / "nope.json"),
                  "--reason", "x", env=env)
    assert missing.returncode != 0


def _publish(live, name: str, texts: list[str]) -> None:  # noqa: ANN001
    for i, text in enumerate(texts):
        publish(live.http, name, text, role="user", commit=text, labels=["production"] if i == 0 else [])


def _log_split(live, name: str, users: range, score: dict[int, int]) -> None:  # noqa: ANN001
    """Requests as our SDK logs them: the version and the rule the cached policy chose, per user
    (even users v1, odd v2: a balanced split), two requests each, the score `q` set per version."""
    logs = [{"model": "m", "metadata": {"user_id": f"u{u}"}, "prompt": {"name": name, "version": 1 + u % 2},
             "routing": {"label": "production", "rule": "split", "unit": f"u{u}"},
             "scores": [{"name": "q", "value": score[1 + u % 2] + (u * 7 + j * 3) % 10}]}
            for u in users for j in range(2)]
    r = live.http.post("/api/v1/requests", json={"requests": logs})
    assert r.json()["accepted"] == len(logs), r.text


def test_experiment_evidence_commands(live, tmp_path):
    """show / get print the API's evidence per rule (its numbers, with its decimals and p-values);
    declare, list, promote of the default winner and a forced promotion."""
    env = live.client_env
    name = f"cli/evidence-{uuid.uuid4().hex[:6]}"
    _publish(live, name, ["v1 {q}", "v2 {q}", "v3 {q}"])
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"sticky_key": "user_id", "split": [{"version": 1, "weight": 50},
                                                                      {"version": 2, "weight": 50}],
                                  "segments": [{"name": "staff", "when": [{"key": "role", "op": "=",
                                                                           "value": "staff"}], "version": 2}]}))
    none = cli("experiments", "show", name, "production", env=env)
    assert none.returncode == 0 and "production serves one version: no running experiment" in none.stdout
    set_ = cli("experiments", "policy", name, "production", "--file", str(policy), "--reason", "try v2",
               "--hypothesis", "shorter replies are more correct", "--primary-metric", "q", env=env)
    assert set_.returncode == 0, set_.stderr
    _log_split(live, name, range(120), {1: 60, 2: 75})

    view = json.loads(cli("experiments", "show", name, "production", "--json", env=env).stdout)
    exp_id = view["experiment"]["id"]
    assert view["experiment"]["hypothesis"] == "shorter replies are more correct" and view["primary_metric"] == "q"
    shown = cli("experiments", "show", name, "production", env=env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"experiment {exp_id} on label production: running" in out
    assert "hypothesis: shorter replies are more correct" in out and "unit of analysis: user_id" in out
    assert "rule segment:staff: not randomised: no comparison" in out and "rule split: randomised" in out
    assert "sample ratio: units v1 60, v2 60" in out
    primary = view["comparisons"][0]
    assert primary["primary"] and primary["metric"] == "q" and primary["verdict"] == "better"
    k = primary["shown"]["places"]
    assert f"- {primary['text']} [primary]" in out
    assert (f"always-valid 95% interval [{primary['ci_low']:.{k}f}, {primary['ci_high']:.{k}f}] points, "
            f"p {primary['shown']['p']}") in out
    fixed = primary["fixed"]
    assert f"fixed-horizon 95% interval [{fixed['ci_low']:.{k}f}, {fixed['ci_high']:.{k}f}] points" in out
    assert "(planned analysis only)" in out and "winner: v2" in out and view["winner"] == 2

    assert cli("experiments", "declare", str(exp_id), "--min-effect", "5", "--planned-units", "400",
               env=env).returncode == 0
    declared = cli("experiments", "get", str(exp_id), env=env).stdout
    need = json.loads(cli("experiments", "get", str(exp_id), "--json", env=env).stdout)["comparisons"][0]["units_needed"]
    assert "planned units: 400; minimum effect: 5.0" in declared and need is not None
    assert (f"about {need} more units per arm" if need else "enough units per arm") in declared
    listed = cli("experiments", "list", name, "production", env=env).stdout
    assert listed.startswith(f"{exp_id}\trunning\t") and "shorter replies are more correct" in listed

    outside = cli("experiments", "promote", name, "production", "--version", "3", "--reason", "hotfix", env=env)
    assert outside.returncode == 1 and "was not in experiment" in outside.stderr
    winner = cli("experiments", "promote", name, "production", "--reason", "v2 is better on q", env=env)
    assert winner.returncode == 0 and "production -> v2" in winner.stdout, winner.stderr
    ended = cli("experiments", "get", str(exp_id), env=env).stdout
    assert "ended" in ended and "(evidence frozen at its end)" in ended and ": promoted v2; reason:" in ended
    after = cli("experiments", "show", name, "production", env=env)
    assert after.returncode == 0 and "serves one version" in after.stdout
    assert f"{exp_id}\tended\t" in after.stdout and "promoted v2" in after.stdout

    assert cli("experiments", "policy", name, "production", "--file", str(policy), "--reason", "again",
               env=env).returncode == 0
    forced = cli("experiments", "promote", name, "production", "--version", "3", "--force", "--reason", "hotfix",
                 env=env)
    assert forced.returncode == 0 and "production -> v3" in forced.stdout, forced.stderr
    last_id = cli("experiments", "list", name, "production", env=env).stdout.split("\t")[0]
    last = json.loads(cli("experiments", "get", last_id, "--json", env=env).stdout)["experiment"]
    assert last["outcome"]["kind"] == "promoted" and last["outcome"]["forced"] is True


def test_serve_flags_win_over_the_environment(tmp_path):
    """--host, --port and --data-dir override PROMPTYARD_HOST / _PORT / _DATA_DIR."""
    import os
    import time

    from tests.servers import free_port

    port = free_port()
    env = dict(os.environ, PROMPTYARD_PORT="9", PROMPTYARD_DATA_DIR=str(tmp_path / "env"), PROMPTYARD_LOG_LEVEL="warning")
    env.pop("PROMPTYARD_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--data-dir", str(tmp_path / "flag")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.time() + 60, None
        while time.time() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/-/health", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health and health["status"] == "ok"
        assert (tmp_path / "flag" / "promptyard.db").exists() and not (tmp_path / "env").exists()
    finally:
        proc.terminate()
        proc.wait(10)


MULTILINE = {  # the text of each case, as published and as it must come back after pull -> push
    "no-final-newline": "あなたは薬剤師です。\n丁寧に答えてください。",
    "final-newline": "質問: {question}\n患者: {patient}\n",
    "extra-newlines": "回答の最後に署名:\n薬局 一同\n\n\n",
    "indented-first-line": "  注意: 用量は\n医師の指示に従う",
    "space-before-break": "行末に空白 \n次の行",
}


def test_pull_writes_multiline_text_as_block_scalars_and_push_round_trips(live, tmp_path):
    env = live.client_env
    folder = f"rt-{uuid.uuid4().hex[:6]}"
    for case, text in MULTILINE.items():
        publish(live.http, f"{folder}/{case}", text, role="system", folder=folder)
    publish(live.http, f"{folder}/completion", type="completion", text="次の文を要約:\n{text}\n", folder=folder)
    out = tmp_path / "pulled"
    assert cli("prompts", "pull", str(out), "--folder", folder, env=env).returncode == 0
    files = {p.stem: p.read_text(encoding="utf-8") for p in (out / folder).glob("*.yaml")}
    assert "content: |-\n    あなたは薬剤師です。\n    丁寧に答えてください。\n" in files["no-final-newline"]
    assert "content: |\n    質問: {question}\n" in files["final-newline"]
    assert "content: |+\n" in files["extra-newlines"] and "text: |\n  次の文を要約:\n" in files["completion"]
    assert '"行末に空白 \\n次の行"' in files["space-before-break"]  # a block scalar would lose the space
    again = cli("prompts", "push", str(out), "-m", "pulled back", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("unchanged (v1)") == len(MULTILINE) + 1 and "new version" not in again.stdout
    for case, text in MULTILINE.items():
        got = ours(live, "GET", f"/api/v1/fetch/{quote(f'{folder}/{case}', safe='')}")["version"]
        assert got["number"] == 1 and got["messages"][0]["content"] == text, case
    edited = out / folder / "no-final-newline.yaml"  # a PdM adds a line in an editor
    edited.write_text(files["no-final-newline"].replace("丁寧に答えてください。\n", "丁寧に答えてください。\n    短く。\n"),
                      encoding="utf-8")
    pushed = cli("prompts", "push", str(out), "-m", "shorter", env=env)
    assert f"{folder}/no-final-newline: new version v2" in pushed.stdout, pushed.stdout + pushed.stderr
    v2 = ours(live, "GET", f"/api/v1/fetch/{quote(f'{folder}/no-final-newline', safe='')}",
              params={"version": 2})["version"]
    assert v2["messages"][0]["content"] == "あなたは薬剤師です。\n丁寧に答えてください。\n短く。"


def _read_until(proc: subprocess.Popen, text: str, seconds: float = 60) -> str:
    """What the process printed up to and with the first line holding `text` (killed past `seconds`)."""
    import threading

    timer, shown = threading.Timer(seconds, proc.kill), ""
    timer.start()
    try:
        for line in proc.stdout:
            shown += line
            if text in line:
                break
    finally:
        timer.cancel()
    return shown


def test_serve_says_serving_on_only_once_the_port_is_listening(tmp_path):
    """The moment the line appears, a connection to the port succeeds (it waits in the backlog)."""
    import os
    import socket

    from tests.servers import free_port

    port = free_port()
    env = dict(os.environ, PROMPTYARD_PORT=str(port), PROMPTYARD_DATA_DIR=str(tmp_path / "d"),
               PROMPTYARD_LOG_LEVEL="warning")
    env.pop("PROMPTYARD_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        shown = _read_until(proc, "serving on")
        assert f"Promptyard is serving on http://127.0.0.1:{port}" in shown, shown
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_on_a_busy_port_names_it_and_how_to_choose_another(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = cli("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
        assert out.returncode == 3, out.stdout + out.stderr
        assert f"error: port {port} on 127.0.0.1 is already in use" in out.stderr
        assert f"promptyard.cli serve --port {port + 1}` or PROMPTYARD_PORT={port + 1}" in out.stderr
        assert "serving on" not in out.stdout and "Traceback" not in out.stderr
        assert not (tmp_path / "d").exists()  # nothing set up for a server that cannot start
        bare = cli("--port", str(port), "--data-dir", str(tmp_path / "d"))  # bare promptyard is serve
        assert bare.returncode == 3 and f"port {port} on 127.0.0.1 is already in use" in bare.stderr
    low = cli("serve", "--host", "203.0.113.7", "--port", "8700", "--data-dir", str(tmp_path / "d"))
    assert low.returncode == 3 and "error: cannot listen on 203.0.113.7 port 8700" in low.stderr, low.stderr
    assert "--host / PROMPTYARD_HOST" in low.stderr


def test_client_commands_name_the_url_they_could_not_reach(tmp_path):
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"PROMPTYARD_URL": url, "PROMPTYARD_API_KEY": "py_sk_unused"}
    for argv in (["prompts", "list"], ["requests", "export", "-o", str(tmp_path / "x.jsonl")],
                 ["privacy", "purge", "--dry-run"], ["experiments", "show", "p", "production"]):
        out = cli(*argv, env=env)
        assert out.returncode == 1 and "Traceback" not in out.stderr, (argv, out.stderr)
        assert f"error: could not reach the Promptyard server at {url} (" in out.stderr, (argv, out.stderr)
        assert "Set PROMPTYARD_URL or pass --url" in out.stderr
    flag = cli("prompts", "list", "--url", "http://127.0.0.1:9/", env=env)
    assert "could not reach the Promptyard server at http://127.0.0.1:9 (" in flag.stderr, flag.stderr


def test_the_hints_of_make_serve_name_the_venv_command(tmp_path):
    """`make serve` runs .venv/bin/promptyard, which is not on PATH: the hints name that path."""
    import os
    from pathlib import Path

    from tests.servers import free_port

    script = Path(sys.executable).parent / "promptyard"
    assert script.exists(), f"{script}: the package is not installed in this venv (make test installs it)"
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "promptyard").symlink_to(script)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and Path(p).resolve() != script.parent.resolve())
    import promptyard

    here = str(Path(promptyard.__file__).parents[1])  # this tree's code, also from another directory
    env = dict(os.environ, PATH=path, PROMPTYARD_PORT=str(free_port()), PROMPTYARD_LOG_LEVEL="warning",
               PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    env.pop("PROMPTYARD_DATABASE_URL", None)
    env.pop("PROMPTYARD_DATA_DIR", None)
    for start in ("first", "restart"):
        proc = subprocess.Popen([".venv/bin/promptyard", "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            shown = _read_until(proc, "New API key")
        finally:
            proc.terminate()
            proc.wait(10)
        assert "New API key: .venv/bin/promptyard keys create --name NAME; new login: .venv/bin/promptyard users " \
               "create" in shown, (start, shown)
    assert (tmp_path / "data" / "promptyard.db").exists()  # ./data, as README says
