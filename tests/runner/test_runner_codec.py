"""Call/result encoding, argument walking and exception transport (pure)."""

from __future__ import annotations

import pickle

import pytest

from flamepy.errors import InvalidArgumentError
from flamepy.runner import codec
from flamepy.runner.codec import Call, ErrorInfo, RemoteError
from flamepy.runner.store import MemoryRef
from tests.runner import runner_funcs


def test_map_args_looks_inside_lists_tuples_and_dicts() -> None:
    value = (1, [2, {"k": 3, "s": {4}}], "x")
    doubled = codec.map_args(value, lambda v: v * 10 if type(v) is int else codec.KEEP)
    assert doubled == (10, [20, {"k": 30, "s": {4}}], "x")  # a set is not looked into
    assert codec.find_args(value, lambda v: type(v) is int) == [1, 2, 3]


def test_map_args_can_replace_with_none() -> None:
    assert codec.map_args([1, 2], lambda v: None if v == 1 else codec.KEEP) == [None, 2]


def test_get_data_decodes_calls_and_refuses_other_bytes() -> None:
    call = Call("square", (3,), {"k": 1})
    assert codec.get_data(codec.encode(call)) == call
    assert codec.get_data(None) is None
    with pytest.raises(InvalidArgumentError, match="not Runner data"):
        codec.get_data(b"hello")


def test_failure_message_names_the_stored_error() -> None:
    info = ErrorInfo("ValueError", "bad", "Traceback ...\nValueError: bad")
    ref = MemoryRef("memory://", "app/ssn/7", 1)
    text = codec.failure_message(info, ref)
    assert text.startswith("ValueError: bad\nTraceback")
    wrapped = f"task 3 of session ssn failed: CallFailed: {text}"
    assert codec.error_ref_fields(wrapped) == {"endpoint": "memory://", "key": "app/ssn/7", "version": 1}
    assert codec.error_ref_fields("task 3 failed: plain") is None
    assert codec.error_ref_fields(codec.ERROR_MARKER + "{not json") is None


def _raise_in_user_code() -> None:
    runner_funcs.boom("deep")


def test_capture_rebuilds_the_original_exception_with_its_traceback() -> None:
    try:
        _raise_in_user_code()
    except ValueError as exc:
        info = ErrorInfo.capture(exc, skip_frames=1)
    assert info.type_name == "ValueError" and info.message == "deep"
    assert "test_capture_rebuilds" not in info.traceback  # the catching frame is skipped
    assert "_raise_in_user_code" in info.traceback
    assert "in boom" in info.traceback
    exc2 = pickle.loads(pickle.dumps(info)).to_exception()
    assert type(exc2) is ValueError and str(exc2) == "deep"
    assert "in boom" in exc2.remote_traceback
    assert any("Remote traceback" in n for n in exc2.__notes__)


def test_an_exception_that_does_not_unpickle_becomes_a_remote_error() -> None:
    try:
        runner_funcs.raise_unpicklable()
    except runner_funcs.Unpicklable as exc:
        info = ErrorInfo.capture(exc)
    assert info.pickled is None
    err = info.to_exception()
    assert isinstance(err, RemoteError)
    assert err.remote_type == "tests.runner.runner_funcs.Unpicklable"
    assert err.remote_message == "1-2"
    assert "raise_unpicklable" in err.remote_traceback
    again = pickle.loads(pickle.dumps(err))
    assert again.remote_type == err.remote_type
