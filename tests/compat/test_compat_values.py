"""flamepy 0.6.0's names behave as in 0.6.0, with no cluster: values, keys, references, config,
the Runner's value types, storage backends and the agent service run in-process."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import cloudpickle
import pytest

import flamepy
import flamepy.core.cache as core_cache
from flamepy.cache import ObjectKey, ObjectRef
from flamepy.connection import Connection
from flamepy.core.service import SessionContext, TaskContext
from flamepy.runner import RunnerContext, RunnerRequest, codec
from flamepy.runner import SessionContext as RunnerSessionContext
from flamepy.runner.storage import FileStorage, HttpStorage, create_storage_backend
from flamepy.service import FlameInstance
from flamepy.transport.memory import MemoryTransport
from flamepy.types import ApplicationContext
from flamepy.util import short_name


def test_short_name_has_the_prefix_and_random_alphanumerics() -> None:
    names = {short_name("app") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        prefix, _, tail = name.partition("-")
        assert prefix == "app" and len(tail) == 6 and tail.isalnum()
    assert len(flamepy.util.short_name("x", 10)) == 12
    assert flamepy.core.short_name is flamepy.util.short_name


def test_application_has_every_spec_field_in_both_constructor_forms() -> None:
    attrs = flamepy.ApplicationAttributes(command="python", url="file:///pkg.tgz", arguments=["-m", "x"])
    ours = flamepy.Application("app", attrs, flamepy.ApplicationState.ENABLED, 5)
    theirs = flamepy.Application(
        "app", "app", flamepy.ApplicationState.ENABLED, 5, command="python", url="file:///pkg.tgz",
        arguments=["-m", "x"],
    )  # fmt: skip
    assert ours.url == theirs.url == "file:///pkg.tgz"
    assert ours.id == ours.name == "app" and ours.command == "python"
    assert theirs.attributes.url == "file:///pkg.tgz" and theirs.shim is flamepy.Shim.HOST
    by_keyword = flamepy.Application(name="kw", attributes=attrs)
    assert by_keyword.id == "kw" and by_keyword.arguments == ["-m", "x"]


def test_resource_requirement_defaults_to_zero_and_a_bad_string_is_a_value_error() -> None:
    assert flamepy.ResourceRequirement() == flamepy.ResourceRequirement(0, 0, 0)
    assert flamepy.ResourceRequirement.from_string(s="mem=1g").cpu == 0
    with pytest.raises(ValueError, match="unknown resource"):
        flamepy.ResourceRequirement.from_string("disk=1")
    with pytest.raises(flamepy.FlameError):
        flamepy.ResourceRequirement.from_string("cpu")


def test_object_ref_encodes_and_decodes_and_defaults_to_version_zero() -> None:
    ref = ObjectRef("grpc://127.0.0.1:9090", "app/ssn/obj")
    assert ref.version == 0
    back = ObjectRef.decode(ObjectRef("grpc://h:1", "a/s/o", 3).encode())
    assert back == ObjectRef("grpc://h:1", "a/s/o", 3) and back.version == 3
    assert pickle.loads(pickle.dumps(back)) == back
    with pytest.raises(flamepy.InvalidArgumentError, match="not an encoded ObjectRef"):
        ObjectRef.decode(b"\x00garbage")


def test_object_key_follows_060_and_our_key_rules() -> None:
    key = flamepy.core.ObjectKey.from_key("app/ssn/obj")
    assert (key.app_name, key.session_id, key.object_id) == ("app", "ssn", "obj")
    prefix = ObjectKey.from_prefix("app/ssn")
    assert prefix.to_prefix() == "app/ssn" and prefix.matches_key("app/ssn/obj")
    assert not prefix.matches_key("app/other/obj")
    assert ObjectKey.for_all_sessions("app").is_all_sessions()
    assert ObjectKey.for_all_sessions("app").matches_key("app/any/obj")
    assert str(ObjectKey.for_shared("app")) == "app/shared"
    generated = prefix.with_generated_id()
    assert generated.to_key().startswith("app/ssn/") and generated.object_id
    with pytest.raises(flamepy.InvalidArgumentError):
        ObjectKey("app", "../etc")
    with pytest.raises(flamepy.InvalidArgumentError):
        prefix.to_key()
    assert core_cache.ObjectKey is ObjectKey and core_cache.FetchMode("full") is core_cache.FetchMode.FULL


def test_flame_context_reads_060_config_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "flame.yaml"
    conf.write_text(
        "current-context: c\ncontexts:\n  - name: c\n"
        "    cluster: {endpoint: 'http://h:1', tls: {ca_file: /ca.pem}}\n"
        "    cache: {endpoint: 'grpc://h:2'}\n"
        "    package: {storage: 'file:///pkgs', excludes: ['*.log']}\n"
        "    runner: {template: my-template}\n"
    )
    for var in ("FLAME_ENDPOINT", "FLAME_CACHE_ENDPOINT", "FLAME_CA_FILE", "FLAME_CACHE_STORAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FLAME_CONFIG", str(conf))
    ctx = flamepy.FlameContext()
    assert ctx.endpoint == "http://h:1" and ctx.cache_endpoint == "grpc://h:2"
    assert ctx.tls is not None and ctx.tls.ca_file == "/ca.pem"
    assert ctx.runner.template == "my-template"
    assert ctx.package is not None and ctx.package.storage == "file:///pkgs"
    assert "*.log" in ctx.package.excludes and ".venv" in ctx.package.excludes


def test_runner_context_computes_instances_like_060() -> None:
    def fn(x: int) -> int:
        return x

    class Obj:
        def m(self) -> int:
            return 1

    assert (RunnerContext(fn).min_instances, RunnerContext(fn).max_instances) == (0, None)
    fixed = RunnerContext(fn, autoscale=False, warmup=3)
    assert (fixed.stateful, fixed.min_instances, fixed.max_instances) == (False, 3, 3)
    obj = RunnerContext(Obj())
    assert (obj.stateful, obj.autoscale, obj.min_instances, obj.max_instances) == (True, False, 1, 1)
    with pytest.raises(ValueError, match="cannot autoscale"):
        RunnerContext(Obj(), autoscale=True)
    with pytest.raises(ValueError, match="warmup"):
        RunnerContext(fn, warmup=-1)
    with pytest.raises(ValueError, match="session_id"):
        RunnerSessionContext(session_id="")


def test_runner_request_round_trips_through_our_wire() -> None:
    req = RunnerRequest("add", (1, 2), {"c": 3})
    call = req.to_call()
    assert (call.method, call.args, call.kwargs) == ("add", (1, 2), {"c": 3})
    decoded = codec.get_data(codec.encode(req))
    assert decoded == req and RunnerRequest.from_call(call) == RunnerRequest("add", (1, 2), {"c": 3})
    with pytest.raises(ValueError, match="kwargs"):
        RunnerRequest(kwargs=[1])  # type: ignore[arg-type]


def test_file_storage_round_trip_and_http_upload_says_why(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    src = tmp_path / "pkg.tgz"
    src.write_bytes(b"package")
    backend = create_storage_backend(f"file://{store_dir}")
    assert isinstance(backend, FileStorage)
    assert backend.upload(str(src), "p.tgz") == f"file://{store_dir / 'p.tgz'}"
    backend.download("p.tgz", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == b"package"
    backend.delete("p.tgz")
    assert not (store_dir / "p.tgz").exists()
    with pytest.raises(flamepy.InvalidConfigError, match="no upload server"):
        HttpStorage("http://example.invalid/pkgs").upload(str(src), "p.tgz")
    with pytest.raises(flamepy.InvalidConfigError, match="unsupported storage scheme"):
        create_storage_backend("ftp://x/y")


def test_flame_instance_runs_its_entrypoint_with_pickled_requests() -> None:
    instance = FlameInstance()

    @instance.entrypoint
    def double(req: int) -> int:
        return req * 2

    instance.on_session_enter(SessionContext(None, "s1", ApplicationContext("agent")))
    assert instance.context() is None
    out = instance.on_task_invoke(TaskContext("1", "s1", cloudpickle.dumps(21)))
    assert out is not None and cloudpickle.loads(out) == 42

    async def hello() -> str:
        await asyncio.sleep(0)
        return "hi"

    instance.entrypoint(hello)
    assert cloudpickle.loads(instance.on_task_invoke(TaskContext("2", "s1", None)) or b"") == "hi"
    with pytest.raises(flamepy.InvalidArgumentError, match="zero or one"):
        instance.entrypoint(lambda a, b: a)


def test_session_context_is_060s_dataclass() -> None:
    ctx = SessionContext(b"common", "s1", ApplicationContext("app", command="python"))
    assert ctx.common_data() == b"common" and ctx.session_id == "s1"
    assert ctx.application.command == "python" and str(ctx.application) == "app"


def test_connection_accepts_dict_attributes_and_060_session_fields() -> None:
    conn = Connection.over(MemoryTransport())
    conn.register_application("dict-app", {"command": "python", "url": "file:///x"})
    app = conn.get_application("dict-app")
    assert app is not None and app.url == "file:///x"
    with pytest.raises(flamepy.InvalidArgumentError, match="invalid application attributes"):
        conn.register_application("bad", {"no_such_field": 1})
    ssn = flamepy.Session(conn, "s1", "dict-app", flamepy.SessionState.OPEN, 0, 1, 2, 3, 4, None)
    assert (ssn.id, ssn.application, ssn.pending, ssn.running, ssn.succeed, ssn.failed) == (
        "s1", "dict-app", 1, 2, 3, 4,
    )  # fmt: skip
    watcher = flamepy.TaskWatcher(iter([]), timeout=1.0)
    assert list(watcher) == [] and watcher.timeout == 1.0
