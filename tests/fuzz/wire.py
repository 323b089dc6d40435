"""Hypothesis strategies for raw protobuf request bytes, built from a message's descriptor.

The bytes are written by hand rather than through the generated classes so they can hold what no
well-behaved client would send: invalid UTF-8 in a string field, enum values nobody defined,
integers at and past every width's edge (negative ones as 10-byte varints), unknown fields, long
repeated fields, huge strings, ids that look like numbers, and truncated garbage.
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import strategies as st

# strings that hit interesting paths: known names (found / not found), id look-alikes, key shapes
SPECIAL_STRINGS = [
    "",
    "0",
    "1",
    "2",
    " 1",
    "\u0661",
    "01",
    "+1",
    "flmping",
    "fz-s1",
    "n1",
    "e1",
    "app/ssn/obj",
    "app/ssn",
    "app/*",
    "../x/y",
    "a\x00b",
    "x" * 300,
    "y" * 70_000,
]
INT_EDGES = [0, 1, 2, 3, 7, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1, -1, -7, -(2**31), -(2**63)]

_T = FieldDescriptor


def varint(value: int) -> bytes:
    value &= 2**64 - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def _delimited(number: int, payload: bytes) -> bytes:
    return _tag(number, 2) + varint(len(payload)) + payload


strings = st.one_of(
    st.sampled_from(SPECIAL_STRINGS).map(str.encode),
    st.text(max_size=12).map(str.encode),
    st.binary(max_size=12),  # often not UTF-8
)
integers = st.one_of(st.sampled_from(INT_EDGES), st.integers(min_value=-3, max_value=20))


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[bytes]:
    n = field.number
    if field.type == _T.TYPE_STRING:
        return strings.map(lambda b: _delimited(n, b))
    if field.type == _T.TYPE_BYTES:
        return st.binary(max_size=32).map(lambda b: _delimited(n, b))
    if field.type in (_T.TYPE_DOUBLE, _T.TYPE_FIXED64, _T.TYPE_SFIXED64):
        return st.binary(min_size=8, max_size=8).map(lambda b: _tag(n, 1) + b)
    if field.type in (_T.TYPE_FLOAT, _T.TYPE_FIXED32, _T.TYPE_SFIXED32):
        return st.binary(min_size=4, max_size=4).map(lambda b: _tag(n, 5) + b)
    return integers.map(lambda v: _tag(n, 0) + varint(v))  # ints, enums, bools


def _field(field: FieldDescriptor, depth: int) -> st.SearchStrategy[bytes]:
    if field.type == _T.TYPE_MESSAGE:
        if depth <= 0:
            return st.just(_delimited(field.number, b""))
        return message(field.message_type, depth - 1).map(lambda b: _delimited(field.number, b))
    return _scalar(field)


_COPIES = st.sampled_from([1, 1, 1, 2, 3, 2_000])  # of a repeated field's entry
_TAIL = st.sampled_from([b""] * 15 + [_delimited(99, b"?"), b"\x0a\x05ab", b"\xff\xff\xff"])
_CACHE: dict[tuple[str, int], st.SearchStrategy[bytes]] = {}


def _entry(field: FieldDescriptor, depth: int) -> st.SearchStrategy[bytes]:
    one = _field(field, depth)
    if not field.is_repeated:
        return one
    return st.tuples(one, _COPIES).map(lambda pair: pair[0] * pair[1])


def message(desc: Descriptor, depth: int = 3) -> st.SearchStrategy[bytes]:
    """Raw bytes of a ``desc`` message, from well-formed to hostile (strategies built once)."""
    key = (desc.full_name, depth)
    found = _CACHE.get(key)
    if found is None:
        entries = [_entry(f, depth) for f in desc.fields]
        body = st.lists(st.one_of(entries), max_size=6) if entries else st.just([])
        # an unknown field or truncated garbage now and then
        found = _CACHE[key] = st.tuples(body, _TAIL).map(lambda bt: b"".join(bt[0]) + bt[1])
    return found
