"""Decoding request bytes into protobuf messages, with errors that name the field at fault.

Every server parses what it receives through :func:`decode` (the gRPC servers through the
interceptor in ``flamepy.common.grpc_status``, the local socket directly), so

* a string field holding invalid UTF-8 is an :class:`InvalidArgumentError` naming the field
  (protobuf's own error names only the message type): the bytes are walked once more, on the
  error path only, to find it;
* an enum field holding a value this side does not know (proto3 keeps those as plain ints) is an
  InvalidArgumentError naming the field, the value and the known names. Only message types that
  can hold an enum somewhere are walked, and only along their set fields, so the hot messages
  (task batches and results) cost nothing extra.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from flamepy.common.bounds import quote
from flamepy.errors import InvalidArgumentError

M = TypeVar("M", bound=Message)

_HAS_ENUMS: dict[str, bool] = {}


def decode(cls: type[M], data: bytes) -> M:
    """``cls`` parsed from ``data``; InvalidArgumentError naming the field when it is malformed."""
    try:
        msg = cls.FromString(data)
    except DecodeError as exc:
        where = bad_utf8_field(cls.DESCRIPTOR, data)
        problem = f"{where}: invalid UTF-8 in a string field" if where else str(exc)
        raise InvalidArgumentError(f"malformed {cls.DESCRIPTOR.name}: {problem}") from None
    check_enums(msg)
    return msg


def check_enums(msg: Message) -> None:
    """InvalidArgumentError naming the first enum field of ``msg`` with an unknown value."""
    if has_enums(msg.DESCRIPTOR):
        problem = _unknown_enum(msg, "")
        if problem:
            raise InvalidArgumentError(f"invalid {msg.DESCRIPTOR.name}: {problem}")


def has_enums(desc: Descriptor) -> bool:
    """Whether a message of this type can hold an enum value anywhere inside it."""
    found = _HAS_ENUMS.get(desc.full_name)
    if found is None:
        _HAS_ENUMS[desc.full_name] = False  # a recursive type: assume not while looking
        found = any(
            f.enum_type is not None or (f.message_type is not None and has_enums(f.message_type))
            for f in desc.fields
        )
        _HAS_ENUMS[desc.full_name] = found
    return found


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _unknown_enum(msg: Message, prefix: str) -> str | None:
    for field, value in msg.ListFields():
        name = prefix + field.name
        items: list[Any] = list(value) if _is_repeated(field) else [value]
        if field.enum_type is not None:
            known = field.enum_type.values_by_number
            for v in items:
                if v not in known:
                    names = ", ".join(e.name for e in field.enum_type.values)
                    return f"{name}: unknown {field.enum_type.name} value {quote(v)} (known: {names})"
        elif field.message_type is not None and has_enums(field.message_type):
            for i, sub in enumerate(items):
                where = f"{name}[{i}]." if _is_repeated(field) else f"{name}."
                problem = _unknown_enum(sub, where)
                if problem:
                    return problem
    return None


# -- finding the string field with bad UTF-8 (error path only) ---------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def bad_utf8_field(desc: Descriptor, data: bytes, prefix: str = "") -> str | None:
    """The path (``inputs[2].input``) of a string field in ``data`` that is not valid UTF-8."""
    try:
        return _walk(desc, data, prefix)
    except ValueError:  # malformed in some other way: protobuf's own message says how
        return None


def _walk(desc: Descriptor, data: bytes, prefix: str) -> str | None:
    pos, seen = 0, dict[int, int]()
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, pos = _varint(data, pos)
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        elif wire_type == 2:
            size, pos = _varint(data, pos)
            chunk, pos = data[pos : pos + size], pos + size
            found = _check_chunk(desc.fields_by_number.get(number), chunk, prefix, seen)
            if found:
                return found
        else:
            return None  # groups: none of our messages use them
    return None


def _check_chunk(
    field: FieldDescriptor | None, chunk: bytes, prefix: str, seen: dict[int, int]
) -> str | None:
    if field is None:
        return None
    index = seen.get(field.number, 0)
    seen[field.number] = index + 1
    name = prefix + field.name + (f"[{index}]" if _is_repeated(field) else "")
    if field.type == FieldDescriptor.TYPE_STRING:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return name
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        return _walk(field.message_type, chunk, name + ".")
    return None
