"""The Runner's client side (RunnerService, ObjectFuture) against its real service side
(RunnerRuntime), in-process through a loopback session and a MemoryStore: no cluster."""

from __future__ import annotations

import threading
import time

import pytest

from flamepy.errors import InternalError, InvalidArgumentError
from flamepy.runner import Runner, codec, get_data
from flamepy.runner.codec import Call, CallRef, RemoteError
from flamepy.runner.future import ObjectFuture
from flamepy.runner.store import MemoryStore
from tests.runner import runner_funcs as rf
from tests.runner.loopback import make_service


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_a_small_result_comes_inline_and_goes_to_the_store_on_ref(store: MemoryStore) -> None:
    svc, session, _ = make_service(rf.add, store)
    before = set(store.keys())
    fut = svc(1, 2)
    assert fut.get() == 3
    assert isinstance(get_data(fut.future.result()), codec.InlineResult)
    assert set(store.keys()) == before  # no cache round trip for a small result
    ref = fut.ref()  # asked for a reference: now it is put there, once
    assert store.is_ref(ref) and ref.key.startswith("loop/ssn-1/")
    assert store.get(ref) == 3 and fut.ref() is ref
    assert len(set(store.keys()) - before) == 1
    assert get_data(session.inputs[0]) == Call(None, (1, 2), {})


def test_a_large_result_lives_in_the_store(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.echo, store)
    big = b"x" * (codec.INLINE_RESULT_LIMIT + 1)
    fut = svc(big)
    assert fut.get() == ((big,), {})
    ref = get_data(fut.future.result())
    assert store.is_ref(ref) and fut.ref() == ref and store.get(ref) == ((big,), {})


def test_kwargs_and_methods(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.echo, store)
    assert svc(1, b=2).get() == ((1,), {"b": 2})
    calc, _, _ = make_service(rf.Calculator, store)
    assert calc.square(x=4).get() == 16
    assert calc(1).get() == 2  # __call__ of the instance
    assert {"square", "where"} <= calc.methods
    with pytest.raises(AttributeError, match="no remote method"):
        calc.missing  # noqa: B018
    with pytest.raises(InvalidArgumentError, match="no public method"):
        calc.call("_private")


def test_object_state_is_kept_and_saved(store: MemoryStore) -> None:
    svc, _, spec = make_service(rf.Counter(10), store)
    assert [svc.incr().get() for _ in range(3)] == [11, 12, 13]
    assert svc.incr(by=5).get() == 18
    saved = store.get(spec.object_ref)
    assert isinstance(saved, rf.Counter) and saved.count == 18


def test_chained_futures_resolve_remotely_without_blocking(store: MemoryStore) -> None:
    slow, session, _ = make_service(rf.sleep_then, store, workers=2)
    add, add_session, _ = make_service(rf.add, store, session_id="ssn-2")
    a, b = slow(0.2, 3), slow(0.2, 4)
    start = time.perf_counter()
    c = add(a, b)  # returns at once; submitted when a and b are done
    assert time.perf_counter() - start < 0.1
    assert c.get() == 7
    sent = get_data(add_session.inputs[0])
    assert isinstance(sent, Call) and all(store.is_ref(arg) for arg in sent.args)  # refs, not values


def test_futures_inside_lists_and_object_refs_resolve(store: MemoryStore) -> None:
    add, _, _ = make_service(rf.add, store)
    tot, _, _ = make_service(rf.total, store, session_id="ssn-2")
    futs = [add(i, i) for i in range(5)]
    assert tot(futs).get() == 20
    ref = store.put("loop/other", 100)
    assert add(ref, 1).get() == 101


def test_remote_exception_is_reraised_with_its_traceback(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.boom, store)
    fut = svc("bad input")
    with pytest.raises(ValueError, match="bad input") as info:
        fut.get()
    assert "in boom" in info.value.remote_traceback
    assert "on_task_invoke" not in info.value.remote_traceback
    assert isinstance(fut.exception(), ValueError)
    with pytest.raises(ValueError):
        fut.ref()


def test_unpicklable_exception_becomes_a_flame_error(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.raise_unpicklable, store)
    with pytest.raises(RemoteError) as info:
        svc().get()
    assert info.value.remote_type.endswith("Unpicklable")
    assert info.value.remote_message == "1-2"
    assert "raise_unpicklable" in info.value.remote_traceback


def test_error_text_survives_a_lost_error_object(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.boom, store)
    fut = svc("gone")
    fut.wait()
    store.delete("loop/*")
    with pytest.raises(RemoteError) as info:
        fut.get()
    assert info.value.remote_type == "ValueError" and info.value.remote_message == "gone"
    assert "in boom" in info.value.remote_traceback


def test_a_failed_dependency_fails_the_dependent_call(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.fail_on, store)
    add, session, _ = make_service(rf.add, store, session_id="ssn-2")
    bad = svc(1, [1])
    with pytest.raises(KeyError):
        add(bad, 1).get()
    bad.wait()
    with pytest.raises(KeyError):
        add(bad, 1).get()  # already failed: never submitted
    assert session.inputs == []


def test_partial_failures_in_a_batch(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.fail_on, store, workers=3)
    futs = [svc(i, {3, 7}) for i in range(10)]
    Runner.wait(futs)
    errors = {i for i, f in enumerate(futs) if f.exception() is not None}
    assert errors == {3, 7}
    assert [futs[i].get() for i in range(10) if i not in errors] == [
        2 * i for i in range(10) if i not in errors
    ]
    with pytest.raises(KeyError):
        Runner.get(futs)


def test_select_yields_in_completion_order(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.sleep_then, store, workers=3)
    futs = [svc(0.3, "slow"), svc(0.0, "fast"), svc(0.15, "mid")]
    assert [f.get() for f in Runner.select(futs)] == ["fast", "mid", "slow"]


def test_big_arguments_travel_through_the_store(store: MemoryStore) -> None:
    svc, session, _ = make_service(len, store)
    big = b"y" * (codec.INLINE_CALL_LIMIT + 10)
    assert svc(big).get() == len(big)
    assert isinstance(get_data(session.inputs[0]), CallRef)


def test_unpicklable_arguments_are_refused_at_the_call(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.add, store)
    with pytest.raises(InvalidArgumentError, match="cannot be pickled"):
        svc(threading.Lock(), 1)


def test_a_broken_callable_fails_calls_not_the_session(store: MemoryStore) -> None:
    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("cannot start")

        def go(self) -> int:
            return 1

    svc, _, _ = make_service(Broken, store)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="cannot start"):
            svc.go().get()


def test_get_caches_the_value_and_wait_times_out(store: MemoryStore) -> None:
    svc, _, _ = make_service(rf.sleep_then, store)
    fut = svc(0.3, [1])
    assert fut.wait(timeout=0.01) is False and not fut.done()
    assert fut.get() is fut.get()
    assert "done" in repr(fut)


def test_transport_errors_pass_through_unchanged() -> None:
    from concurrent.futures import Future

    raw: Future = Future()
    raw.set_exception(InternalError("task 1 of session s failed: killed by signal 9"))
    fut = ObjectFuture(raw, MemoryStore())
    with pytest.raises(InternalError, match="signal 9"):
        fut.get()
