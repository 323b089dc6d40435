"""Object keys: ``<application>/<session>/<object id>``, the one definition of their syntax.

Client and server both validate with :meth:`ObjectKey.parse`, so a bad key is rejected before any
byte is sent and again by the server (no path traversal into a disk store). A part may not be empty,
contain ``/``, ``\\``, ``..``, a NUL or control character, be ``.``, or exceed 255 UTF-8 bytes.
``*`` is only valid as the session of a delete pattern (:data:`WILDCARD_SESSION`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flamepy.common.bounds import quote
from flamepy.errors import InvalidArgumentError

WILDCARD_SESSION = "*"
MAX_PART_BYTES = 255


def check_part(part: str, what: str, text: str) -> None:
    """Raise InvalidArgumentError when ``part`` is not a valid key part."""
    problem = None
    if not part:
        problem = "is empty"
    elif "/" in part or "\\" in part:
        problem = "contains a path separator"
    elif ".." in part or part == ".":
        problem = "contains '..' or is '.'"
    elif any(ord(c) < 32 or ord(c) == 127 for c in part):
        problem = "contains a control character"
    elif part == WILDCARD_SESSION:
        problem = "is '*' (only valid as the session of a delete pattern)"
    elif len(part.encode()) > MAX_PART_BYTES:
        problem = f"is longer than {MAX_PART_BYTES} bytes"
    if problem:
        raise InvalidArgumentError(f"invalid object key {quote(text)}: {what} {problem}")


@dataclass(frozen=True, order=True)
class ObjectKey:
    """A parsed key; ``object_id`` None makes it a session prefix, ``session`` ``*`` a wildcard."""

    application: str
    session: str
    object_id: str | None = None

    @classmethod
    def parse(cls, text: object, *, prefix: bool = False, wildcard: bool = False) -> ObjectKey:
        """Parse ``text``. A full key is always accepted; ``prefix`` also accepts
        ``<app>/<session>``; ``wildcard`` also accepts ``<app>/*``."""
        if not isinstance(text, str):
            raise InvalidArgumentError(f"invalid object key {quote(text)}: expected a string")
        parts = text.split("/")
        if len(parts) == 2 and (prefix or wildcard):
            app, session = parts
            check_part(app, "application", text)
            if not (wildcard and session == WILDCARD_SESSION):
                if not prefix:
                    raise InvalidArgumentError(f"invalid object key {quote(text)}: expected <application>/*")
                check_part(session, "session", text)
            return cls(app, session)
        if len(parts) != 3:
            shape = "<application>/<session>/<object id>"
            if prefix:
                shape += " or <application>/<session>"
            if wildcard:
                shape += " or <application>/*"
            raise InvalidArgumentError(f"invalid object key {quote(text)}: expected {shape}")
        for part, what in zip(parts, ("application", "session", "object id"), strict=True):
            check_part(part, what, text)
        return cls(*parts)

    @property
    def is_full(self) -> bool:
        return self.object_id is not None

    @property
    def is_wildcard(self) -> bool:
        return self.session == WILDCARD_SESSION

    def child(self, object_id: str) -> ObjectKey:
        """The full key of ``object_id`` under this session prefix."""
        check_part(object_id, "object id", f"{self}/{object_id}")
        return ObjectKey(self.application, self.session, object_id)

    def matches(self, other: ObjectKey) -> bool:
        """Whether the full key ``other`` falls under this key, prefix or wildcard."""
        if self.application != other.application:
            return False
        if self.is_wildcard:
            return True
        if self.session != other.session:
            return False
        return self.object_id is None or self.object_id == other.object_id

    def __str__(self) -> str:
        parts = [self.application, self.session]
        if self.object_id is not None:
            parts.append(self.object_id)
        return "/".join(parts)
