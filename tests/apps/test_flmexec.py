"""flmexec's handler called directly: Flame's JSON requests (python and shell) and raw shell scripts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import flamepy
from flamepy.apps import flmexec


class FakeSessionContext:
    """What flmexec reads from a session context: its id and common data."""

    def __init__(self, session_id: str = "ssn-1", common_data: bytes | None = None) -> None:
        self.session_id = session_id
        self._common_data = common_data

    def common_data(self) -> bytes | None:
        return self._common_data


@pytest.fixture
def service() -> flmexec.Exec:
    svc = flmexec.Exec()
    svc.on_session_enter(FakeSessionContext(common_data=b"shared"))  # type: ignore[arg-type]
    return svc


def invoke(service: flmexec.Exec, data: bytes | None, task_id: str = "7") -> bytes | None:
    return service.on_task_invoke(flamepy.TaskContext(task_id=task_id, session_id="ssn-1", input=data))


def request(language: str, code: str, input: bytes | None = None, **extra: object) -> bytes:
    payload: dict[str, object] = {
        "language": language,
        "code": code,
        "input": None if input is None else list(input),
    }
    payload.update(extra)
    return json.dumps(payload).encode()


def output_of(raw: bytes | None) -> bytes:
    assert raw is not None
    payload = json.loads(raw)
    assert list(payload) == ["data"]
    return bytes(payload["data"])


# -- Flame's JSON contract ---------------------------------------------------------------------------


def test_python_reads_its_input_from_stdin_and_returns_stdout_as_byte_values(service: flmexec.Exec) -> None:
    code = "import sys\ndata = sys.stdin.read()\nprint(data.upper(), sys.version_info[:2] == (3, 11))\n"
    raw = invoke(service, request("python", code, b"hello"))
    assert raw is not None and raw.startswith(b'{"data":[')
    assert output_of(raw) == f"HELLO {sys.version_info[:2] == (3, 11)}\n".encode()


def test_python_passes_arbitrary_bytes_through(service: flmexec.Exec) -> None:
    everything = bytes(range(256))
    code = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])\n"
    assert output_of(invoke(service, request("python", code, everything))) == everything[::-1]


def test_null_input_is_an_empty_stdin(service: flmexec.Exec) -> None:
    assert (
        output_of(invoke(service, request("python", "import sys\nprint(repr(sys.stdin.read()))"))) == b"''\n"
    )
    assert output_of(invoke(service, request("shell", "cat; echo end"))) == b"end\n"


def test_shell_runs_with_bash_and_sees_input_and_task_environment(service: flmexec.Exec) -> None:
    code = 'read -r line; echo "$line/$FLAME_TASK_ID/$FLAME_SESSION_ID/$FLAME_COMMON_DATA"; echo ${BASH_VERSION:+bash}'
    out = output_of(invoke(service, request("shell", code, b"in put\n"), task_id="12"))
    expected_shell = b"bash\n" if Path("/bin/bash").exists() else b"\n"
    assert out == b"in put/12/ssn-1/shared\n" + expected_shell


def test_language_is_case_insensitive_and_runtime_may_name_this_python(service: flmexec.Exec) -> None:
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    out = invoke(service, request("Python", "import sys; print(sys.executable)", runtime=ours))
    assert output_of(out) == f"{sys.executable}\n".encode()
    assert output_of(invoke(service, request("SHELL", "echo $0", runtime="sh"))).strip().endswith(b"main.sh")


def test_each_script_runs_in_a_fresh_directory_that_is_removed_afterwards(service: flmexec.Exec) -> None:
    code = "import os\nprint(os.getcwd())\nprint(sorted(os.listdir('.')))\nopen('left.txt', 'w').write('x')\n"
    first = output_of(invoke(service, request("python", code))).decode().splitlines()
    second = output_of(invoke(service, request("python", code))).decode().splitlines()
    assert first[1] == second[1] == "['main.py']"
    assert first[0] != second[0]
    assert not Path(first[0]).exists() and not Path(second[0]).exists()


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        (
            "python",
            "import sys\nsys.stderr.write('boom ' * 3)\nsys.exit(3)\n",
            "python script exited with code 3: boom boom boom",
        ),
        ("python", "raise ValueError('bad value')\n", "ValueError: bad value"),
        ("shell", "echo partial; echo 'it broke' >&2; exit 4", "shell script exited with code 4: it broke"),
    ],
)
def test_non_zero_exit_fails_the_task_with_the_stderr_tail(
    service: flmexec.Exec, language: str, code: str, expected: str
) -> None:
    with pytest.raises(RuntimeError, match="exited with code") as info:
        invoke(service, request(language, code))
    assert expected in str(info.value)


def test_only_the_tail_of_a_long_stderr_is_kept(service: flmexec.Exec) -> None:
    code = "import sys\nsys.stderr.write('x' * 10000 + 'THE END')\nsys.exit(1)\n"
    with pytest.raises(RuntimeError) as info:
        invoke(service, request("python", code))
    message = str(info.value)
    assert message.endswith("THE END") and len(message) < flmexec.STDERR_TAIL + 100


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"language": "ruby", "code": "puts 1", "input": None}, "language must be 'python' or 'shell'"),
        ({"code": "print(1)", "input": None}, "language must be 'python' or 'shell'"),
        (
            {"language": "python", "code": "print(1)", "input": [1, 256]},
            "input must be null or a list of byte values",
        ),
        (
            {"language": "python", "code": "print(1)", "input": "text"},
            "input must be null or a list of byte values",
        ),
        ({"language": "python", "code": "print(1)", "input": None, "runtime": 3}, "runtime must be a string"),
        (
            {"language": "python", "code": "1", "input": None, "runtime": "9.99"},
            "'9.99' is not available on this node",
        ),
        (
            {"language": "shell", "code": "true", "input": None, "runtime": "no-such-shell-x"},
            "is not available",
        ),
    ],
)
def test_a_bad_request_fails_with_a_message_naming_the_field(
    service: flmexec.Exec, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match="flmexec: ") as info:
        invoke(service, json.dumps(payload).encode())
    assert message in str(info.value)


def test_encoding_helpers() -> None:
    assert flmexec.encode_output(b"\x00a\xff") == b'{"data":[0,97,255]}'
    assert flmexec.parse_request(
        request("python", "print(1)", b"ab", runtime=" 3.11 ")
    ) == flmexec.ScriptRequest(language="python", code="print(1)", input=b"ab", runtime="3.11")
    for not_a_request in (None, b"", b"echo {}", b'{"a": 1}', b'{"code": 3}', b"{not json", b"\xff{", b"[1]"):
        assert flmexec.parse_request(not_a_request) is None


# -- raw shell scripts (what our own job features send) ---------------------------------------------


def test_a_raw_script_runs_with_sh_and_returns_raw_stdout(service: flmexec.Exec) -> None:
    assert (
        invoke(service, b"echo hello from $FLAME_TASK_ID; echo $FLAME_COMMON_DATA")
        == b"hello from 7\nshared\n"
    )
    assert invoke(service, None) == b""


def test_json_without_a_code_key_is_still_a_raw_script(service: flmexec.Exec) -> None:
    with pytest.raises(RuntimeError, match="script exited with code 127"):
        invoke(service, b'{"language": "python"}')


def test_a_raw_script_failing_reports_exit_code_and_stderr(service: flmexec.Exec) -> None:
    with pytest.raises(RuntimeError, match="script exited with code 3: oops"):
        invoke(service, b"echo oops >&2; exit 3")


def test_no_common_data_leaves_the_variable_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAME_COMMON_DATA", raising=False)
    svc = flmexec.Exec()
    svc.on_session_enter(FakeSessionContext(session_id="s2"))  # type: ignore[arg-type]
    out = invoke(svc, request("shell", 'echo "${FLAME_COMMON_DATA-unset} $FLAME_SESSION_ID"'))
    assert output_of(out) == b"unset s2\n"
