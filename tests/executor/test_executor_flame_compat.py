"""Services written for Flame start under our executor (spec "The service instance").

``FLAME_INSTANCE_ENDPOINT`` holds the bare path of the service's Unix socket: Flame's runtimes (and
flamepy 0.6.0 from PyPI) bind ``unix://<value>`` themselves, and so do the fake launcher and the
raw test service. Applications registered the way Flame's examples register them (``command``,
relative ``arguments``, ``working_directory``, ``environments``) start in their working directory
with their environment; without a working directory they run in the executor's work directory, and
a start that fails there says so.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from executor_testkit import RAW_SERVICE, bind_msg, fake_backend, release_msg, running_manager, task_msg

from executor.events import BindRequest, SessionContext
from executor.fake_launcher import FakeBehaviour, FakeLauncher
from executor.shim import BindError, HostShim, ShimSettings
from flamepy.types import ApplicationAttributes, ApplicationContext, ResourceRequirement
from tests.conformance.reference_venv import require_reference_python


def _shim(work_dir: Path, behaviour: FakeBehaviour | None = None) -> tuple[HostShim, FakeLauncher]:
    launcher = FakeLauncher(behaviour)
    settings = ShimSettings(work_dir=work_dir, frontend_endpoint="http://f", bind_timeout=5.0)
    return HostShim(settings, launcher), launcher


def _request(spec: ApplicationAttributes) -> BindRequest:
    return BindRequest(
        executor_id="e1",
        application="app",
        spec=spec,
        session=SessionContext("s1", ApplicationContext("app")),
        resreq=ResourceRequirement(),
    )


# -- with the fake launcher (it binds unix://<FLAME_INSTANCE_ENDPOINT>, as Flame's runtimes do) ----


async def test_instance_endpoint_is_the_bare_socket_path(tmp_path: Path) -> None:
    shim, launcher = _shim(tmp_path)
    instance = await shim.bind(_request(ApplicationAttributes(command="svc")))
    try:
        endpoint = launcher.started[0].spec.env["FLAME_INSTANCE_ENDPOINT"]
        assert endpoint == str(shim.socket_path("e1"))
        assert os.path.isabs(endpoint) and "unix:" not in endpoint
        assert launcher.started[0].calls.entered == ["s1"]  # served on unix://<endpoint> and entered
    finally:
        await instance.close()


async def test_an_endpoint_with_a_scheme_does_not_bind_under_flame_runtimes(tmp_path: Path) -> None:
    """What the fake (like flamepy 0.6.0) does with a ``unix://`` value: it cannot listen, exits,
    and the bind fails with its stderr. This is the failure the bare path avoids."""

    class SchemeShim(HostShim):
        def environment(self, req: BindRequest, socket_path: Path) -> dict[str, str]:
            return {
                **super().environment(req, socket_path),
                "FLAME_INSTANCE_ENDPOINT": f"unix://{socket_path}",
            }

    launcher = FakeLauncher()
    shim = SchemeShim(
        ShimSettings(work_dir=tmp_path, frontend_endpoint="http://f", bind_timeout=5.0), launcher
    )
    with pytest.raises(BindError) as err:
        await shim.bind(_request(ApplicationAttributes(command="svc")))
    assert "exited with code 1 before serving" in str(err.value)
    assert "cannot listen on unix://unix://" in str(err.value)


async def test_flame_style_application_starts_in_its_working_directory(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    shim, launcher = _shim(tmp_path / "work")
    spec = ApplicationAttributes(
        command="python",
        arguments=["service.py", "--greeting=${GREETING}"],
        environments={"GREETING": "hello"},
        working_directory=str(app_dir),
    )
    instance = await shim.bind(_request(spec))
    try:
        started = launcher.started[0].spec
        assert started.cwd == app_dir
        assert started.command == "python"
        assert started.arguments == ("service.py", "--greeting=hello")  # relative: resolved in cwd
        assert started.env["GREETING"] == "hello"
    finally:
        await instance.close()


async def test_a_relative_working_directory_is_refused(tmp_path: Path) -> None:
    shim, launcher = _shim(tmp_path)
    with pytest.raises(BindError, match="working_directory 'app' is not absolute"):
        await shim.bind(_request(ApplicationAttributes(command="python", working_directory="app")))
    assert launcher.started == []


async def test_without_working_directory_a_failed_start_names_the_directory(tmp_path: Path) -> None:
    work_dir = tmp_path / "work"
    shim, launcher = _shim(work_dir, FakeBehaviour(exit_at_start=2))
    spec = ApplicationAttributes(command="python", arguments=["-u", "service.py"])
    with pytest.raises(BindError) as err:
        await shim.bind(_request(spec))
    assert launcher.started[0].spec.cwd == work_dir
    message = str(err.value)
    assert "exited with code 2 before serving" in message
    assert "has no working_directory" in message and repr(str(work_dir)) in message
    assert "'service.py'" in message and "'-u'" not in message


@pytest.mark.parametrize(
    ("arguments", "working_directory"),
    [
        (["service.py"], "APP"),  # the application chose its directory: nothing to explain
        (["-c", "pass"], None),  # no argument looks like a relative file
        (["present.py"], None),  # the file is there: the failure is something else
    ],
)
async def test_no_hint_when_relative_arguments_are_not_the_cause(
    tmp_path: Path, arguments: list[str], working_directory: str | None
) -> None:
    (tmp_path / "present.py").write_text("")
    shim, _ = _shim(tmp_path, FakeBehaviour(exit_at_start=2))
    wd = str(tmp_path) if working_directory == "APP" else None
    with pytest.raises(BindError) as err:
        await shim.bind(
            _request(ApplicationAttributes(command="python", arguments=arguments, working_directory=wd))
        )
    assert "exited with code 2" in str(err.value)
    assert "working_directory" not in str(err.value)


# -- real processes --------------------------------------------------------------------------


async def test_flame_style_registration_runs_a_real_service(tmp_path: Path) -> None:
    """command ``python`` (found on the application's PATH), arguments ``[service.py]``, a
    working directory and environments, as Flame's examples register a service."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    shutil.copy(RAW_SERVICE, app_dir / "service.py")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    msg = bind_msg(
        "e1",
        None,
        command="python",
        arguments=["service.py"],
        environments={"PATH": path, "GREETING": "hello"},
        working_directory=str(app_dir),
    )
    async with fake_backend() as backend, running_manager(backend, tmp_path / "work"):
        stream, _ = await backend.accept()
        stream.send(msg)
        await stream.recv("executor_bound")
        stream.send(task_msg("e1", "t1", b"env"))
        info = json.loads((await stream.recv("task_result")).task_result.output)
        assert info["cwd"] == str(app_dir)
        assert info["argv"] == ["service.py"]
        assert info["env"]["GREETING"] == "hello"
        assert info["env"]["FLAME_INSTANCE_ENDPOINT"].startswith("/")
        stream.send(release_msg("e1"))
        await stream.recv("executor_released")


FLAME060_SERVICE = """\
import flamepy

class Echo(flamepy.FlameService):
    def on_session_enter(self, context):
        pass

    def on_task_invoke(self, context):
        return context.input

    def on_session_leave(self):
        pass

flamepy.run(Echo())
"""


async def test_a_flamepy_060_service_from_pypi_runs_tasks(tmp_path: Path) -> None:
    """flamepy 0.6.0 from PyPI (``.venv-flame060``, made on first use; see
    tests/conformance/reference_venv.py)."""
    flame060_python = require_reference_python()
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "service.py").write_text(FLAME060_SERVICE)
    msg = bind_msg(
        "e1", None, command=str(flame060_python), arguments=["service.py"], working_directory=str(app_dir)
    )
    async with fake_backend() as backend, running_manager(backend, tmp_path / "work"):
        stream, _ = await backend.accept()
        stream.send(msg)
        await stream.recv("executor_bound")
        stream.send(task_msg("e1", "t1", b"from flame 0.6.0"))
        result = (await stream.recv("task_result")).task_result
        assert (result.return_code, result.output) == (0, b"from flame 0.6.0")
        stream.send(release_msg("e1"))
        await stream.recv("executor_released")
