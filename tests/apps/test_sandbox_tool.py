"""flamepy.tools.Sandbox without a cluster: the wire format it sends flmexec, validation, lifecycle.

The session is a stand-in with the four things Sandbox uses (id, application, common_data(),
invoke/run/close); the end-to-end behaviour is in tests/e2e/test_sandbox.py.
"""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import Future

import pytest

import flamepy
from flamepy.apps import flmexec
from flamepy.tools import Sandbox, SandboxAttr, SandboxOutput
from flamepy.tools import sandbox as sandbox_module


class StandInSession:
    def __init__(
        self, output: bytes | None = None, application: str = "flmexec", common_data: bytes | None = None
    ):
        self.id = "flmexec-abc123"
        self.application = application
        self._common_data = common_data
        self.output = output if output is not None else flmexec.encode_output(b"ok\n")
        self.sent: list[bytes] = []
        self.futures: list[Future] = []
        self.closed = 0

    def common_data(self) -> bytes | None:
        return self._common_data

    def invoke(self, data: bytes) -> bytes | None:
        self.sent.append(data)
        return self.output

    def run(self, data: bytes) -> Future:
        self.sent.append(data)
        fut: Future = Future()
        self.futures.append(fut)
        return fut

    def close(self) -> None:
        self.closed += 1


def make(attr: SandboxAttr, session: StandInSession | None = None) -> tuple[Sandbox, StandInSession]:
    session = session or StandInSession()
    return Sandbox(session, sandbox_module.normalize_attr(attr)), session  # type: ignore[arg-type]


def test_public_exports_match_flames_tools_module() -> None:
    import flamepy.tools as tools

    assert tools.__all__ == ["Sandbox", "SandboxAttr", "SandboxOutput"]
    assert [f.name for f in dataclasses.fields(SandboxAttr)] == [
        "language",
        "runtime",
        "min_instances",
        "max_instances",
        "resreq",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SandboxAttr(language="python").language = "shell"  # type: ignore[misc]
    assert SandboxOutput(b"h\xc3\xa9").text() == "hé" and SandboxOutput(b"\xe9").text("latin-1") == "é"


def test_requests_are_flmexecs_json_and_runtime_is_sent_only_when_set() -> None:
    sb, session = make(SandboxAttr(language="shell", runtime="bash"))
    assert sb.run_code("echo hi", input=b"in").text() == "ok\n"
    assert json.loads(session.sent[0]) == {
        "language": "shell",
        "runtime": "bash",
        "code": "echo hi",
        "input": [105, 110],
    }
    sb, session = make(SandboxAttr(language=" PYTHON "))
    sb.run_code("print(1)")
    assert json.loads(session.sent[0]) == {"language": "python", "code": "print(1)", "input": None}
    # what the Sandbox sends is exactly what flmexec parses
    assert flmexec.parse_request(session.sent[0]) == flmexec.ScriptRequest(language="python", code="print(1)")


def test_attr_is_recorded_as_common_data_and_restored() -> None:
    attr = sandbox_module.normalize_attr(
        SandboxAttr(
            language="python", runtime="3.11", min_instances=1, max_instances=3, resreq="cpu=2,mem=1k"
        )
    )
    raw = sandbox_module.encode_attr(attr)
    assert json.loads(raw) == {
        "language": "python",
        "runtime": "3.11",
        "min_instances": 1,
        "max_instances": 3,
        "resreq": {"cpu": 2, "memory": 1024, "gpu": 0},
    }
    assert sandbox_module.decode_attr(raw, "s") == attr
    for bad in (
        None,
        b"",
        b"not json",
        b'{"runtime": null}',
        b'{"language": "ruby"}',
        b'{"language": "python", "resreq": {"disk": 1}}',
    ):
        with pytest.raises(flamepy.InvalidArgumentError):
            sandbox_module.decode_attr(bad, "s")


@pytest.mark.parametrize(
    "attr",
    [
        SandboxAttr(language="javascript"),
        SandboxAttr(language=""),
        SandboxAttr(language=3),  # type: ignore[arg-type]
        SandboxAttr(language="python", min_instances=-1),
        SandboxAttr(language="python", max_instances=1.5),  # type: ignore[arg-type]
        SandboxAttr(language="python", runtime=311),  # type: ignore[arg-type]
        SandboxAttr(language="python", resreq=4),  # type: ignore[arg-type]
    ],
)
def test_a_bad_attr_is_rejected_before_any_session_exists(attr: SandboxAttr) -> None:
    with pytest.raises(flamepy.InvalidArgumentError):
        Sandbox.create(attr)


def test_bad_code_or_input_is_rejected() -> None:
    sb, session = make(SandboxAttr(language="python"))
    with pytest.raises(flamepy.InvalidArgumentError, match="input must be bytes"):
        sb.run_code("print(1)", input="text")  # type: ignore[arg-type]
    with pytest.raises(flamepy.InvalidArgumentError, match="code must be a string"):
        sb.submit_code(b"print(1)")  # type: ignore[arg-type]
    assert session.sent == []


def test_output_decoding() -> None:
    assert sandbox_module.decode_output(None) == SandboxOutput(b"")
    assert sandbox_module.decode_output(b'{"data":[0,255]}') == SandboxOutput(b"\x00\xff")
    for bad in (b"raw stdout", b"{}", b'{"data": [300]}', b'{"data": "x"}'):
        with pytest.raises(flamepy.InternalError):
            sandbox_module.decode_output(bad)


def test_submit_code_maps_results_errors_and_cancellation() -> None:
    sb, session = make(SandboxAttr(language="python"))
    ok, failed, garbled, cancelled = (sb.submit_code(f"print({i})") for i in range(4))
    assert not ok.done()
    session.futures[0].set_result(flmexec.encode_output(b"0\n"))
    session.futures[1].set_exception(flamepy.InternalError("python script exited with code 1: boom"))
    session.futures[2].set_result(b"not json")
    session.futures[3].cancel()
    assert ok.result(timeout=1) == SandboxOutput(b"0\n")
    with pytest.raises(flamepy.InternalError, match="boom"):
        failed.result(timeout=1)
    with pytest.raises(flamepy.InternalError, match="not its JSON output"):
        garbled.result(timeout=1)
    assert cancelled.cancelled()
    caller_cancels = sb.submit_code("print(5)")
    assert caller_cancels.cancel()
    session.futures[4].set_result(flmexec.encode_output(b"5\n"))  # no error when the caller gave up
    assert caller_cancels.cancelled()


def test_close_is_idempotent_and_a_closed_sandbox_refuses_work() -> None:
    sb, session = make(SandboxAttr(language="shell"))
    with sb as inside:
        assert inside is sb and sb.sandbox_id == "flmexec-abc123"
    sb.close()
    assert session.closed == 1
    for call in (lambda: sb.run_code("true"), lambda: sb.submit_code("true"), lambda: sb.sandbox_id):
        with pytest.raises(flamepy.InvalidStateError, match="closed"):
            call()
    assert "closed" in repr(sb)
