"""``flmctl register -f app.yaml``, ``flmctl unregister NAME`` and ``flmctl close SESSION``.

An application file is either Flame-style::

    metadata: {name: my-app}
    spec: {command: /usr/bin/python3, arguments: [service.py], shim: Host}

or flat (``name:`` next to the spec fields). Every ``ApplicationSpec`` field is accepted;
``environments`` is a mapping or a list of ``{name, value}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from flamepy.cli.context import CliContext
from flamepy.errors import InvalidArgumentError
from flamepy.types import ApplicationAttributes, ApplicationSchema, Shim

_STR_FIELDS = ("image", "description", "command", "working_directory", "url", "installer")
_INT_FIELDS = ("max_instances", "delay_release")
_LIST_FIELDS = ("labels", "arguments")
_KNOWN = {*_STR_FIELDS, *_INT_FIELDS, *_LIST_FIELDS, "shim", "environments", "schema"}


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    reg = sub.add_parser("register", parents=[common], help="register an application from YAML")
    reg.add_argument("-f", "--file", required=True, type=Path, help="application YAML file")
    reg.add_argument("--name", help="override the application name of the file")
    reg.set_defaults(handler=_register)

    unreg = sub.add_parser("unregister", parents=[common], help="unregister an application")
    unreg.add_argument("name")
    unreg.set_defaults(handler=_unregister)

    close = sub.add_parser("close", parents=[common], help="close a session")
    close.add_argument("session_id", metavar="SESSION")
    close.set_defaults(handler=_close)


def _register(ctx: CliContext) -> int:
    name, attrs = load_application_file(ctx.args.file)
    name = ctx.args.name or name
    with ctx.connect() as conn:
        conn.register_application(name, attrs)
    ctx.out.print(f"Application {name} registered.")
    return 0


def _unregister(ctx: CliContext) -> int:
    with ctx.connect() as conn:
        conn.unregister_application(ctx.args.name)
    ctx.out.print(f"Application {ctx.args.name} unregistered.")
    return 0


def _close(ctx: CliContext) -> int:
    with ctx.connect() as conn:
        conn.close_session(ctx.args.session_id)
    ctx.out.print(f"Session {ctx.args.session_id} closed.")
    return 0


def load_application_file(path: Path) -> tuple[str, ApplicationAttributes]:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read application file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InvalidArgumentError(f"application file {path} is not valid YAML: {exc}") from exc
    return parse_application(doc, str(path))


def parse_application(doc: Any, source: str = "application") -> tuple[str, ApplicationAttributes]:
    """A YAML document → ``(name, ApplicationAttributes)``; names the bad field on error."""
    if not isinstance(doc, Mapping):
        raise InvalidArgumentError(f"{source}: expected a mapping at the top level")
    if "spec" in doc or "metadata" in doc:
        meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
        if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
            raise InvalidArgumentError(f"{source}: 'metadata' and 'spec' must be mappings")
        name = meta.get("name")
    else:
        spec = {k: v for k, v in doc.items() if k != "name"}
        name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"{source}: the application needs a name (metadata.name)")
    unknown = sorted(set(spec) - _KNOWN)
    if unknown:
        raise InvalidArgumentError(
            f"{source}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})"
        )
    values: dict[str, Any] = {}
    for key in _STR_FIELDS:
        if spec.get(key) is not None:
            values[key] = str(spec[key])
    for key in _INT_FIELDS:
        if spec.get(key) is not None:
            values[key] = _int(spec[key], key, source)
    for key in _LIST_FIELDS:
        if spec.get(key) is not None:
            values[key] = _str_list(spec[key], key, source)
    if spec.get("shim") is not None:
        values["shim"] = _shim(spec["shim"], source)
    if spec.get("environments") is not None:
        values["environments"] = _environments(spec["environments"], source)
    if spec.get("schema") is not None:
        values["schema"] = _schema(spec["schema"], source)
    return name.strip(), ApplicationAttributes(**values)


def _int(value: Any, key: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"{source}: {key} must be a non-negative integer, got {value!r}")
    return value


def _str_list(value: Any, key: str, source: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidArgumentError(f"{source}: {key} must be a list")
    return [str(v) for v in value]


def _shim(value: Any, source: str) -> Shim:
    by_name = {s.name.lower(): s for s in Shim}
    shim = by_name.get(str(value).lower())
    if shim is None:
        raise InvalidArgumentError(f"{source}: shim must be Host or Wasm, got {value!r}")
    return shim


def _environments(value: Any, source: str) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(e, Mapping) and "name" in e for e in value):
        return {str(e["name"]): str(e.get("value", "")) for e in value}
    raise InvalidArgumentError(f"{source}: environments must be a mapping or a list of {{name, value}}")


def _schema(value: Any, source: str) -> ApplicationSchema:
    if not isinstance(value, Mapping) or set(value) - {"input", "output", "common_data"}:
        raise InvalidArgumentError(f"{source}: schema must be a mapping with input, output, common_data")
    return ApplicationSchema(**{k: None if v is None else str(v) for k, v in value.items()})
