from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Encoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCODING_UNSPECIFIED: _ClassVar[Encoding]
    ENCODING_PICKLE: _ClassVar[Encoding]
    ENCODING_RAW: _ClassVar[Encoding]

class GetMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GET_MODE_UNSPECIFIED: _ClassVar[GetMode]
    GET_MODE_NOT_MODIFIED: _ClassVar[GetMode]
    GET_MODE_DELTAS: _ClassVar[GetMode]
    GET_MODE_FULL: _ClassVar[GetMode]
ENCODING_UNSPECIFIED: Encoding
ENCODING_PICKLE: Encoding
ENCODING_RAW: Encoding
GET_MODE_UNSPECIFIED: GetMode
GET_MODE_NOT_MODIFIED: GetMode
GET_MODE_DELTAS: GetMode
GET_MODE_FULL: GetMode

class DeltaInfo(_message.Message):
    __slots__ = ("size", "encoding")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    size: int
    encoding: Encoding
    def __init__(self, size: _Optional[int] = ..., encoding: _Optional[_Union[Encoding, str]] = ...) -> None: ...

class ObjectInfo(_message.Message):
    __slots__ = ("key", "version", "base_version", "base_tag", "encoding", "base_size", "deltas")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_TAG_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    BASE_SIZE_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    key: str
    version: int
    base_version: int
    base_tag: str
    encoding: Encoding
    base_size: int
    deltas: _containers.RepeatedCompositeFieldContainer[DeltaInfo]
    def __init__(self, key: _Optional[str] = ..., version: _Optional[int] = ..., base_version: _Optional[int] = ..., base_tag: _Optional[str] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., base_size: _Optional[int] = ..., deltas: _Optional[_Iterable[_Union[DeltaInfo, _Mapping]]] = ...) -> None: ...

class WriteHeader(_message.Message):
    __slots__ = ("key", "encoding", "size")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    key: str
    encoding: Encoding
    size: int
    def __init__(self, key: _Optional[str] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., size: _Optional[int] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: WriteHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[WriteHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: ObjectInfo
    def __init__(self, info: _Optional[_Union[ObjectInfo, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("key", "have_tag", "have_version", "base_only")
    KEY_FIELD_NUMBER: _ClassVar[int]
    HAVE_TAG_FIELD_NUMBER: _ClassVar[int]
    HAVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_ONLY_FIELD_NUMBER: _ClassVar[int]
    key: str
    have_tag: str
    have_version: int
    base_only: bool
    def __init__(self, key: _Optional[str] = ..., have_tag: _Optional[str] = ..., have_version: _Optional[int] = ..., base_only: _Optional[bool] = ...) -> None: ...

class GetHeader(_message.Message):
    __slots__ = ("info", "mode", "first_delta", "delta_count")
    INFO_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FIRST_DELTA_FIELD_NUMBER: _ClassVar[int]
    DELTA_COUNT_FIELD_NUMBER: _ClassVar[int]
    info: ObjectInfo
    mode: GetMode
    first_delta: int
    delta_count: int
    def __init__(self, info: _Optional[_Union[ObjectInfo, _Mapping]] = ..., mode: _Optional[_Union[GetMode, str]] = ..., first_delta: _Optional[int] = ..., delta_count: _Optional[int] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: GetHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[GetHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("pattern",)
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    def __init__(self, pattern: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class HandoverRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Handover(_message.Message):
    __slots__ = ("directory", "token")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    directory: str
    token: str
    def __init__(self, directory: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class PutFileRequest(_message.Message):
    __slots__ = ("header", "file_name", "patch")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    header: WriteHeader
    file_name: str
    patch: bool
    def __init__(self, header: _Optional[_Union[WriteHeader, _Mapping]] = ..., file_name: _Optional[str] = ..., patch: _Optional[bool] = ...) -> None: ...

class GetFileResponse(_message.Message):
    __slots__ = ("header", "inline", "files")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    header: GetHeader
    inline: bytes
    files: FileNames
    def __init__(self, header: _Optional[_Union[GetHeader, _Mapping]] = ..., inline: _Optional[bytes] = ..., files: _Optional[_Union[FileNames, _Mapping]] = ...) -> None: ...

class FileNames(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...
