"""flamepy 0.6.0's object references and keys, over our cache's own definitions.

:class:`ObjectRef` is our reference (:class:`flamepy.common.cache_types.ObjectRef`) with 0.6.0's
default ``version=0`` and :meth:`~ObjectRef.encode` / :meth:`~ObjectRef.decode` (JSON bytes here;
0.6.0 used BSON). :class:`ObjectKey` is 0.6.0's key value (``app_name``, ``session_id``,
``object_id``), validated by our one key syntax (:mod:`flamepy.common.cache_keys`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from flamepy.common import cache_keys, cache_types
from flamepy.common.cache_keys import WILDCARD_SESSION
from flamepy.errors import InvalidArgumentError

__all__ = ["ObjectKey", "ObjectRef"]


@dataclass(frozen=True, eq=False)
class ObjectRef(cache_types.ObjectRef):
    """Where an object lives and which version the holder saw (0: fetch it all next time)."""

    version: int = 0

    def encode(self) -> bytes:
        """The reference as bytes (for task inputs, outputs and common data)."""
        doc = {"endpoint": self.endpoint, "key": self.key, "version": self.version}
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, json_data: bytes | bytearray | str) -> ObjectRef:
        """The reference :meth:`encode` made."""
        try:
            doc = json.loads(json_data)
            return cls(str(doc["endpoint"]), str(doc["key"]), int(doc.get("version", 0)))
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidArgumentError(f"not an encoded ObjectRef: {exc}") from None

    @classmethod
    def of(cls, ref: cache_types.ObjectRef) -> ObjectRef:
        return ref if isinstance(ref, cls) else cls(ref.endpoint, ref.key, ref.version)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, cache_types.ObjectRef):
            return NotImplemented
        return (self.endpoint, self.key, self.version) == (other.endpoint, other.key, other.version)

    def __hash__(self) -> int:
        return hash((self.endpoint, self.key, self.version))


@dataclass(frozen=True)
class ObjectKey:
    """``<app_name>/<session_id>[/<object_id>]``; ``session_id`` ``*`` means every session.

    Also answers our own key API (``parse``, ``application``, ``session``, ``matches`` ...)."""

    app_name: str
    session_id: str
    object_id: str | None = None

    def __post_init__(self) -> None:
        cache_keys.ObjectKey.parse(str(self), prefix=True, wildcard=True)
        if self.object_id is not None and self.is_all_sessions():
            raise InvalidArgumentError(f"invalid object key {str(self)!r}: '*' has no objects")

    @classmethod
    def parse(cls, text: object, *, prefix: bool = False, wildcard: bool = False) -> ObjectKey:
        """Parse with our key rules (:meth:`flamepy.common.cache_keys.ObjectKey.parse`)."""
        key = cache_keys.ObjectKey.parse(text, prefix=prefix, wildcard=wildcard)
        return cls(key.application, key.session, key.object_id)

    @property
    def application(self) -> str:
        return self.app_name

    @property
    def session(self) -> str:
        return self.session_id

    @property
    def is_full(self) -> bool:
        return self.object_id is not None

    @property
    def is_wildcard(self) -> bool:
        return self.is_all_sessions()

    def child(self, object_id: str) -> ObjectKey:
        """The full key of ``object_id`` under this session prefix."""
        return ObjectKey(self.app_name, self.session_id, object_id)

    def matches(self, other: ObjectKey) -> bool:
        """Whether the full key ``other`` falls under this key, prefix or wildcard."""
        return self.matches_key(str(other))

    @classmethod
    def from_path(cls, path: str) -> ObjectKey:
        """A prefix or a full key."""
        parts = str(path).strip("/").split("/")
        if len(parts) not in (2, 3):
            raise InvalidArgumentError(f"invalid object key {path!r}: expected <app>/<session>[/<id>]")
        return cls(*parts)

    @classmethod
    def from_prefix(cls, prefix: str) -> ObjectKey:
        key = cls.from_path(prefix)
        if key.object_id is not None:
            raise InvalidArgumentError(f"invalid key prefix {prefix!r}: expected <app>/<session>")
        return key

    @classmethod
    def from_key(cls, key: str) -> ObjectKey:
        found = cls.from_path(key)
        if found.object_id is None:
            raise InvalidArgumentError(f"invalid object key {key!r}: expected <app>/<session>/<id>")
        return found

    @classmethod
    def for_shared(cls, app_name: str) -> ObjectKey:
        """The prefix of objects shared by every session of ``app_name``."""
        return cls(app_name, "shared")

    @classmethod
    def for_all_sessions(cls, app_name: str) -> ObjectKey:
        return cls(app_name, WILDCARD_SESSION)

    def is_all_sessions(self) -> bool:
        return self.session_id == WILDCARD_SESSION

    def with_generated_id(self) -> ObjectKey:
        """This prefix with a new random object id."""
        return ObjectKey(self.app_name, self.session_id, uuid.uuid4().hex)

    def to_prefix(self) -> str:
        return f"{self.app_name}/{self.session_id}"

    def to_key(self) -> str:
        if self.object_id is None:
            raise InvalidArgumentError(f"{self.to_prefix()!r} is a prefix, not a full key")
        return f"{self.to_prefix()}/{self.object_id}"

    def matches_key(self, key: str) -> bool:
        """Whether the full ``key`` falls under this key, prefix or wildcard."""
        try:
            other = ObjectKey.from_key(key)
        except InvalidArgumentError:
            return False
        if other.app_name != self.app_name:
            return False
        if self.is_all_sessions():
            return True
        return other.session_id == self.session_id and self.object_id in (None, other.object_id)

    def __str__(self) -> str:
        return self.to_prefix() if self.object_id is None else f"{self.to_prefix()}/{self.object_id}"
