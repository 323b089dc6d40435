"""flmctl commands against a fake Frontend client: parsing, tables, JSON, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_fakes import CliRunner, FakeFrontend

from flamepy.cli.main import build_parser
from flamepy.errors import InvalidArgumentError
from flamepy.types import Shim


def test_parser_aliases_and_global_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["--endpoint", "http://h:1", "list", "ssn", "-o", "json"])
    assert (args.command, args.kind, args.output, args.endpoint) == ("list", "ssn", "json", "http://h:1")
    # the global options are also accepted after the command
    args = parser.parse_args(["view", "task", "s-1", "7", "--endpoint", "http://h:2"])
    assert (args.kind, args.session_id, args.task_id, args.endpoint) == ("task", "s-1", "7", "http://h:2")
    args = parser.parse_args(["cluster", "up", "--port", "0", "--data-dir", "/tmp/x"])
    assert (args.action, args.port, args.data_dir, args.log_level) == ("up", 0, "/tmp/x", "INFO")


def test_parser_rejects_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["list", "bananas"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_endpoint_resolution(flmctl: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert flmctl("list", "nodes").code == 0
    monkeypatch.setenv("FLAME_ENDPOINT", "http://10.0.0.1:9000")
    assert flmctl("list", "nodes").code == 0
    assert flmctl("--endpoint", "http://127.0.0.1:1234", "list", "nodes").code == 0
    assert flmctl.endpoints == [
        "http://127.0.0.1:8080",
        "http://10.0.0.1:9000",
        "http://127.0.0.1:1234",
    ]


def test_list_nodes_json(flmctl: CliRunner) -> None:
    res = flmctl("list", "nodes", "-o", "json")
    assert res.code == 0, res.stderr
    nodes = json.loads(res.stdout)
    assert [(n["name"], n["state"]) for n in nodes] == [("node-a", "Ready")]
    assert nodes[0]["capacity"] == {"cpu": 2, "memory": 4 << 30, "gpu": 0}
    assert nodes[0]["last_heartbeat_time"] == 1_732_530_000_000


@pytest.mark.parametrize("kind", ["applications", "app", "sessions", "ssn", "executors", "nodes"])
def test_list_table_every_kind(flmctl: CliRunner, kind: str) -> None:
    res = flmctl("list", kind)
    assert res.code == 0, res.stderr
    assert any(word in res.stdout for word in ("flmping", "ssn-1", "e-1", "node-a"))
    assert "2024-11-25" in res.stdout or kind == "executors"  # human-readable time


def test_list_sessions_json_shape(flmctl: CliRunner) -> None:
    [ssn] = json.loads(flmctl("list", "sessions", "-o", "json").stdout)
    assert ssn["id"] == "ssn-1"
    assert ssn["application"] == "flmping"
    assert ssn["attributes"]["common_data"] == "common"
    assert ssn["status"]["state"] == "Open"
    assert (ssn["status"]["succeed"], ssn["status"]["failed"]) == (1, 1)


def test_list_tasks_needs_session(flmctl: CliRunner) -> None:
    res = flmctl("list", "tasks")
    assert res.code == 1
    assert res.stderr.startswith("error: ") and "-s SESSION" in res.stderr


def test_list_tasks_json_bytes(flmctl: CliRunner) -> None:
    tasks = json.loads(flmctl("list", "tasks", "-s", "ssn-1", "-o", "json").stdout)
    assert [t["state"] for t in tasks] == ["Succeed", "Failed"]
    assert tasks[0]["output"] == "out"
    assert tasks[1]["input"] == {"base64": "/wA="}
    assert tasks[1]["output"] is None
    assert tasks[1]["events"][-1] == {
        "code": 3,
        "message": "ValueError: boom",
        "creation_time": 1_732_530_000_020,
    }


def test_list_tasks_table_shows_failure_message(flmctl: CliRunner) -> None:
    res = flmctl("list", "tasks", "-s", "ssn-1")
    assert "ValueError: boom" in res.stdout and "1.5s" in res.stdout


def test_view_unknown_session_is_a_clean_error(flmctl: CliRunner) -> None:
    res = flmctl("view", "session", "nope")
    assert res.code == 1
    assert res.stderr == "error: session 'nope' not found\n"
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_view_unknown_application(flmctl: CliRunner) -> None:
    res = flmctl("view", "app", "ghost")
    assert (res.code, res.stderr) == (1, "error: application 'ghost' not found\n")


def test_view_session_table_and_json(flmctl: CliRunner) -> None:
    res = flmctl("view", "ssn", "ssn-1")
    assert res.code == 0
    assert "succeed=1" in res.stdout and "flmping" in res.stdout
    doc = json.loads(flmctl("view", "session", "ssn-1", "-o", "json").stdout)
    assert doc["status"]["creation_time"] == 1_732_530_000_000


def test_view_task(flmctl: CliRunner) -> None:
    res = flmctl("view", "task", "ssn-1", "2")
    assert res.code == 0
    assert "Failed" in res.stdout and "ValueError: boom" in res.stdout and "binary" in res.stdout
    doc = json.loads(flmctl("view", "task", "ssn-1", "1", "-o", "json").stdout)
    assert (doc["id"], doc["output"], doc["completion_time"]) == ("1", "out", 1_732_530_001_500)


def test_view_application_and_node(flmctl: CliRunner) -> None:
    assert "/usr/bin/python3" in flmctl("view", "application", "flmping").stdout
    doc = json.loads(flmctl("view", "app", "flmping", "-o", "json").stdout)
    assert doc["attributes"]["arguments"] == ["-m", "ping"]
    assert doc["state"] == "Enabled"
    assert "cpu=2 mem=4g gpu=0" in flmctl("view", "node", "node-a").stdout
    assert flmctl("view", "node", "zzz").code == 1


def test_register_unregister_close(flmctl: CliRunner, frontend: FakeFrontend, tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text(
        "metadata: {name: my-app}\n"
        "spec:\n"
        "  shim: Host\n"
        "  command: /usr/bin/python3\n"
        "  arguments: [service.py]\n"
        "  environments: {A: '1'}\n"
        "  max_instances: 3\n"
        "  schema: {input: bytes}\n"
    )
    res = flmctl("register", "-f", str(app))
    assert res.code == 0, res.stderr
    attrs = frontend.registered["my-app"]
    assert (attrs.shim, attrs.command, attrs.arguments) == (Shim.HOST, "/usr/bin/python3", ["service.py"])
    assert attrs.environments == {"A": "1"} and attrs.max_instances == 3
    assert attrs.schema is not None and attrs.schema.input == "bytes"
    assert flmctl("unregister", "flmping").code == 0
    assert "flmping" not in frontend.applications
    assert flmctl("close", "ssn-1").code == 0 and frontend.closed == ["ssn-1"]


def test_register_bad_file_names_the_problem(flmctl: CliRunner, tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text("name: x\ncomand: /bin/true\n")
    res = flmctl("register", "-f", str(app))
    assert res.code == 1 and "unknown field 'comand'" in res.stderr
    res = flmctl("register", "-f", str(tmp_path / "missing.yaml"))
    assert res.code == 1 and "cannot read application file" in res.stderr
    app.write_text("spec: {command: /bin/true}\n")
    assert "needs a name" in flmctl("register", "-f", str(app)).stderr


def test_cluster_status_and_down_without_cluster(flmctl: CliRunner, tmp_path: Path) -> None:
    res = flmctl("cluster", "status", "--data-dir", str(tmp_path))
    assert res.code == 1 and "No local Flame cluster" in res.stdout
    doc = json.loads(flmctl("cluster", "status", "--data-dir", str(tmp_path), "-o", "json").stdout)
    assert doc["running"] is False
    res = flmctl("cluster", "down", "--data-dir", str(tmp_path))
    assert res.code == 0 and "nothing to stop" in res.stdout


def test_flat_application_file_and_env_list() -> None:
    from flamepy.cli.app_cmd import parse_application

    name, attrs = parse_application(
        {
            "name": "flat",
            "command": "run.sh",
            "shim": "wasm",
            "environments": [{"name": "K", "value": "v"}],
            "delay_release": 5,
        }
    )
    assert (name, attrs.command, attrs.shim, attrs.environments) == ("flat", "run.sh", Shim.WASM, {"K": "v"})
    assert attrs.delay_release == 5
    with pytest.raises(InvalidArgumentError, match="max_instances must be a non-negative integer"):
        parse_application({"name": "x", "max_instances": -1})
    with pytest.raises(InvalidArgumentError, match="shim must be Host or Wasm"):
        parse_application({"name": "x", "shim": "docker"})


def test_bad_endpoint_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    from flamepy.cli.main import main

    assert main(["--endpoint", "ftp://host:1", "list", "nodes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invalid endpoint 'ftp://host:1'") and "Traceback" not in err
