"""The Runner end to end on a real local cluster (object cache, session manager, executor manager,
``flmrun`` service processes). The working directory (this repository) is the package, so
``tests.runner.runner_funcs`` imports remotely the same as here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import flamepy
from flamepy.cache import client_for
from flamepy.cluster import LocalCluster
from flamepy.errors import AlreadyExistsError, InvalidStateError, NotFoundError
from flamepy.runner import RemoteError, Runner
from tests.runner import runner_funcs as rf

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runner(runner_cluster: LocalCluster) -> Runner:
    with Runner("rt-main") as r:
        yield r


def test_function_and_map_reduce_over_1000_calls(runner: Runner) -> None:
    svc = runner.service(rf.add)
    assert svc(1, 2).get() == 3
    futs = [svc(i, i) for i in range(1000)]
    assert sum(runner.get(futs)) == 2 * sum(range(1000))
    assert runner.ref(futs[:2])[0].key.startswith(f"rt-main/{svc.session_id}/")


def test_kwargs_and_class_methods(runner: Runner) -> None:
    echo = runner.service(rf.echo)
    assert echo(1, [2], k={"v": 3}).get() == ((1, [2]), {"k": {"v": 3}})
    calc = runner.service(rf.Calculator, autoscale=False, warmup=2)
    assert (calc.session.attributes.min_instances, calc.session.attributes.max_instances) == (2, 2)
    assert calc.square(x=7).get() == 49
    assert calc(1).get() == 2
    calc.close()  # gives back its two pinned executors


def test_object_instance_keeps_state(runner: Runner) -> None:
    counter = runner.service(rf.Counter(100))
    attrs = counter.session.attributes
    assert (attrs.min_instances, attrs.max_instances) == (1, 1)
    futs = [counter.incr() for _ in range(5)]
    assert runner.get(futs) == [101, 102, 103, 104, 105]
    assert counter.incr(by=10).get() == 115
    assert counter.value().get() == 115
    counter.close()


def test_future_arguments_and_chaining(runner: Runner) -> None:
    add = runner.service(rf.add)
    mul = runner.service(rf.mul)
    tot = runner.service(rf.total)
    c = mul(add(1, 2), add(3, 4))  # c(a(1,2), b(3,4))
    assert c.get() == 21
    assert tot([add(i, 1) for i in range(10)]).get() == sum(range(1, 11))
    ref = flamepy.put_object(f"rt-main/{add.session_id}", 40)
    assert add(ref, 2).get() == 42


def test_select_yields_in_completion_order(runner: Runner) -> None:
    # three warm single-instance services, so the three calls surely run in parallel
    svcs = [runner.service(rf.sleep_then, autoscale=False) for _ in range(3)]
    runner.get([svc(0, None) for svc in svcs])
    futs = [svcs[0](1.0, "slow"), svcs[1](0.0, "fast"), svcs[2](0.5, "mid")]
    assert [f.get() for f in runner.select(futs)] == ["fast", "mid", "slow"]
    for svc in svcs:
        svc.close()


def test_errors_carry_the_remote_traceback(runner: Runner) -> None:
    boom = runner.service(rf.boom)
    with pytest.raises(ValueError, match="no good") as info:
        boom("no good").get()
    assert 'raise ValueError(message)' in info.value.remote_traceback
    assert "runner_funcs.py" in info.value.remote_traceback
    with pytest.raises(RemoteError) as info2:
        runner.service(rf.raise_unpicklable)().get()
    assert info2.value.remote_type.endswith("Unpicklable") and "raise_unpicklable" in info2.value.remote_traceback


def test_partial_failures_in_a_parallel_batch(runner: Runner) -> None:
    svc = runner.service(rf.fail_on)
    futs = [svc(i, {5, 50}) for i in range(100)]
    runner.wait(futs)
    failed = {i for i, f in enumerate(futs) if f.exception() is not None}
    assert failed == {5, 50}
    assert isinstance(futs[5].exception(), KeyError)
    assert all(futs[i].get() == 2 * i for i in range(100) if i not in failed)
    session = svc.session.refresh()
    assert (session.status.succeed, session.status.failed) == (98, 2)  # the broker sees failures


def test_big_result_goes_through_the_cache(runner: Runner) -> None:
    size = 500 * 1024**2
    fut = runner.service(rf.blob)(size)
    value = fut.get(timeout=60)
    assert len(value) == size and value[:1] == b"x"


def test_decorator_runs_locally_and_remotely(runner: Runner) -> None:
    assert rf.cube(3) == 27
    assert rf.cube.remote(4).get() == 64
    assert runner.get(rf.cube.map(range(5))) == [0, 1, 8, 27, 64]


def test_decorator_retries_timeout_and_gpu(runner: Runner, tmp_path: Path) -> None:
    assert rf.fails_once.options["resreq"] == flamepy.ResourceRequirement(cpu=1, gpu=0)
    counter = tmp_path / "attempts"
    assert rf.fails_once.remote(str(counter)).get() == 1  # raised once, re-run once
    assert counter.read_text() == "xx"
    with pytest.raises(flamepy.FlameError, match="(?i)time"):
        rf.too_slow.remote().get()
    with pytest.raises(flamepy.InvalidArgumentError, match="retries must be"):
        flamepy.function(retries=-1)(len)


def test_invoke_runs_a_file_not_imported_here(runner: Runner, tmp_path: Path) -> None:
    script = tmp_path / "train_job.py"
    script.write_text("import os\n\ndef train_model(x, scale=1):\n    return (x * scale, os.getpid())\n")
    value, pid = flamepy.invoke(script, "train_model", args=[3], kwargs={"scale": 2})
    assert value == 6 and pid != __import__("os").getpid()
    assert "train_job" not in " ".join(sys.modules)
    with pytest.raises(NotFoundError, match="no top-level function"):
        flamepy.invoke(script, "missing")


def test_recursion_a_remote_function_uses_a_runner(runner: Runner) -> None:
    svc = runner.service(rf.nested_sum)
    assert svc("rt-inner", 20).get(timeout=60) == 2 * sum(range(20))


def test_fail_if_exists_reuse_and_idempotent_close(runner_cluster: LocalCluster) -> None:
    conn = flamepy.Connection(runner_cluster.endpoint)
    try:
        owner = Runner("rt-owner").start()
        assert owner.registered
        with pytest.raises(AlreadyExistsError, match="rt-owner"):
            Runner("rt-owner", fail_if_exists=True).start()
        with Runner("rt-owner") as guest:
            assert not guest.registered
            assert not guest.package.uploaded  # same code: nothing uploaded
            assert guest.service(rf.add)(2, 2).get() == 4
        assert conn.get_application("rt-owner") is not None  # the guest left it in place
        svc = owner.service(rf.add)
        ref = svc(1, 1).ref()
        owner.close()
        owner.close()
        assert conn.get_application("rt-owner") is None
        assert conn.get_session(svc.session_id).state == flamepy.SessionState.CLOSED
        with pytest.raises(NotFoundError):
            client_for(ref.endpoint).stat(ref.key)  # its objects are gone
        with pytest.raises(InvalidStateError):
            owner.service(rf.add)
    finally:
        conn.close()


def test_excludes_are_honoured(runner_cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    (proj / "probe_mod.py").write_text(
        "import os\n\ndef files():\n"
        "    return sorted(os.path.relpath(os.path.join(b, f), '.') for b, _, fs in os.walk('.') for f in fs)\n"
    )
    (proj / "data" / "big.bin").write_bytes(b"0" * 1000)
    (proj / "notes.log").write_text("log")
    (proj / "keep.txt").write_text("keep")
    (proj / "secret.txt").write_text("s")
    (proj / ".flameignore").write_text("data/\n")
    (proj / ".gitignore").write_text("secret.txt\n")
    config = tmp_path / "flame.yaml"
    config.write_text(
        "current-context: t\ncontexts:\n  - name: t\n    package:\n      excludes: ['*.log']\n"
    )
    monkeypatch.setenv("FLAME_CONFIG", str(config))
    monkeypatch.chdir(proj)
    monkeypatch.syspath_prepend(str(proj))
    import probe_mod

    try:
        with Runner("rt-excludes") as r:
            assert r.package.files == 4  # data/ (.flameignore), secret.txt (.gitignore), *.log (config) left out
            remote = r.service(probe_mod.files)().get()
    finally:
        sys.modules.pop("probe_mod", None)
    assert remote == [".flameignore", ".gitignore", "keep.txt", "probe_mod.py"]
