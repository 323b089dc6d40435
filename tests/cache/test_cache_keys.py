"""Key syntax and get negotiation: pure, no network."""

from __future__ import annotations

import pytest

from flamepy.cache import WILDCARD_SESSION, ObjectKey
from flamepy.common.cache_types import Encoding, GetMode, ObjectInfo
from flamepy.errors import InvalidArgumentError
from object_cache.store import plan_get

BAD_KEYS = [
    "", "app", "app/", "/ssn/obj", "app//obj", "app/ssn/", "app/ssn/obj/extra",
    "app/../obj", "../ssn/obj", "app/ssn/..", "app/ssn/a..b", "app/./obj",
    "app\\x/ssn/obj", "app/ssn/o\\bj", "app/ssn/o\x00bj", "app/*/obj", "*/ssn/obj",
    "app/ssn/" + "x" * 256,
]  # fmt: skip


@pytest.mark.parametrize("text", BAD_KEYS)
def test_invalid_keys_are_rejected_with_the_reason(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid object key"):
        ObjectKey.parse(text, prefix=True)


def test_full_key_prefix_and_wildcard() -> None:
    key = ObjectKey.parse("app/ssn/obj-1")
    assert (key.application, key.session, key.object_id, key.is_full) == ("app", "ssn", "obj-1", True)
    assert str(key) == "app/ssn/obj-1"
    prefix = ObjectKey.parse("app/ssn", prefix=True)
    assert not prefix.is_full and str(prefix.child("x")) == "app/ssn/x"
    with pytest.raises(InvalidArgumentError, match="expected <application>/<session>/<object id>"):
        ObjectKey.parse("app/ssn")
    wild = ObjectKey.parse(f"app/{WILDCARD_SESSION}", wildcard=True)
    assert wild.is_wildcard and wild.matches(key) and not wild.matches(ObjectKey.parse("other/ssn/obj-1"))
    assert prefix.matches(key) and not prefix.matches(ObjectKey.parse("app/ssn2/obj-1"))
    with pytest.raises(InvalidArgumentError):
        ObjectKey.parse("app/*", prefix=True)  # '*' is for deletes only
    with pytest.raises(InvalidArgumentError, match="expected a string"):
        ObjectKey.parse(None)


def info(version: int, base_version: int, tag: str = "t1") -> ObjectInfo:
    from flamepy.common.cache_types import DeltaInfo

    deltas = tuple(DeltaInfo(10, Encoding.PICKLE) for _ in range(version - base_version))
    return ObjectInfo("a/s/o", version, base_version, tag, Encoding.PICKLE, 100, deltas)


def test_plan_get_negotiates_not_modified_deltas_or_everything() -> None:
    cur = info(version=5, base_version=2)  # base + 3 deltas
    assert plan_get(cur, "t1", 5, False).mode == GetMode.NOT_MODIFIED
    p = plan_get(cur, "t1", 3, False)
    assert (p.mode, p.first_delta, p.delta_count) == (GetMode.DELTAS, 1, 2)
    assert plan_get(cur, "t1", 2, True).mode == GetMode.NOT_MODIFIED  # base only: base is current
    for tag, have in (("", 0), ("other", 5), ("t1", 1), ("t1", 9)):
        p = plan_get(cur, tag, have, False)
        assert (p.mode, p.first_delta, p.delta_count) == (GetMode.FULL, 0, 3), (tag, have)
    assert plan_get(cur, "", 0, True).delta_count == 0
