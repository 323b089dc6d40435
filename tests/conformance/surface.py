"""Dump a Python package's public surface as JSON, and compare two dumps.

Standalone on purpose: it imports nothing from this repository, so any interpreter can run it
against whatever ``flamepy`` it has installed (ours, or flamepy 0.6.0 in its own venv)::

    python surface.py dump flamepy > surface.json
    python surface.py compare reference.json ours.json      # exit 1 when anything differs

What counts as public (the rules the dump applies)
- Modules: the root package and every submodule ``pkgutil.walk_packages`` finds under it whose
  dotted path has no component starting with ``_``. Generated protobuf modules (``*_pb2*``) and
  ``__main__`` modules are listed as modules but neither imported nor walked.
- Names of a module:
  * with ``__all__``: exactly the names in ``__all__`` (each resolved with ``getattr``, so lazy
    ``__getattr__`` exports count);
  * without ``__all__``: the public names (no leading ``_``) of its namespace that are defined
    there: functions and classes whose ``__module__`` is that module, names bound by a top-level
    assignment in its source (constants, type aliases) and its own submodules. A package's
    ``__init__`` also re-exports what it imports from inside the package. Foreign imports
    (``Optional``, ``grpc``, generated protobuf classes) and loggers are not part of the surface.
- Kinds: ``module``, ``class``, ``enum``, ``function``, ``constant``, ``alias`` (a name bound to a
  type that is not defined in the package, e.g. ``TaskID = str``).
- Callables: ``inspect.signature`` as a list of parameters (name, kind, whether it has a default
  and, for simple values, the default's repr). Classes: the constructor's signature, their public
  methods / classmethods / staticmethods / properties / class attributes (members defined by a
  class of the package or another non-builtin class; members inherited from builtins such as
  ``int`` or ``Exception`` are only listed in ``all_attrs``), declared annotations, protocol
  dunders (context manager, iterator, ...), dataclass fields and enum members (name -> value).

Compatible means: code written against the reference that calls with the same positional and
keyword arguments, reads the same attributes and iterates the same enum members still works
against ours. Extra modules, names, members, parameters with defaults and enum members in ours
are fine.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import json
import logging
import pkgutil
import sys
import textwrap
import types
from typing import Any, NamedTuple

PROTOCOL_DUNDERS = (
    "__call__",
    "__enter__",
    "__exit__",
    "__aenter__",
    "__aexit__",
    "__iter__",
    "__next__",
    "__aiter__",
    "__anext__",
    "__len__",
    "__getitem__",
    "__contains__",
    "__await__",
)
BUILTIN_OWNER_MODULES = ("builtins", "enum", "abc", "typing", "types")
SIMPLE_TYPES = (type(None), bool, int, float, str, bytes)


# ---------------------------------------------------------------------------- dump


def _is_generated(modname: str) -> bool:
    return "_pb2" in modname.rsplit(".", 1)[-1]


def _simple_repr(value: Any) -> str | None:
    """A stable repr for values worth comparing; None for objects whose repr is an address."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, SIMPLE_TYPES):
        return repr(value)
    if isinstance(value, (tuple, list, frozenset, set)) and all(isinstance(v, SIMPLE_TYPES) for v in value):
        return repr(type(value)(sorted(value, key=repr)) if isinstance(value, (set, frozenset)) else value)
    if isinstance(value, dict) and not value:
        return "{}"
    return None


def _params(sig: inspect.Signature, drop_first: bool = False) -> list[dict[str, Any]]:
    params = list(sig.parameters.values())
    if (
        drop_first
        and params
        and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD)
    ):
        params = params[1:]
    out = []
    for p in params:
        has_default = p.default is not inspect.Parameter.empty
        out.append(
            {
                "name": p.name,
                "kind": p.kind.name,
                "has_default": has_default,
                "default": _simple_repr(p.default) if has_default else None,
            }
        )
    return out


def _signature(obj: Any, drop_first: bool = False) -> dict[str, Any]:
    try:
        return {"signature": _params(inspect.signature(obj), drop_first)}
    except (TypeError, ValueError) as exc:
        return {"signature": None, "signature_error": f"{type(exc).__name__}: {exc}"}


def _owner(cls: type, name: str) -> type | None:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def _is_builtin_owner(klass: type | None) -> bool:
    return klass is None or klass is object or klass.__module__ in BUILTIN_OWNER_MODULES


def _member(cls: type, name: str) -> dict[str, Any] | None:
    owner = _owner(cls, name)
    if _is_builtin_owner(owner):
        return None
    raw = inspect.getattr_static(cls, name)
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", **_signature(getattr(cls, name))}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", **_signature(getattr(cls, name))}
    if isinstance(raw, property):
        return {"kind": "property", "settable": raw.fset is not None}
    if inspect.isfunction(raw) or inspect.ismethoddescriptor(raw):
        info = {"kind": "method", **_signature(raw, drop_first=True)}
        info["async"] = inspect.iscoroutinefunction(raw)
        return info
    if inspect.isclass(raw):
        return {"kind": "class"}
    return {"kind": "attribute", "value": _simple_repr(raw)}


def _class_info(cls: type) -> dict[str, Any]:
    is_enum = issubclass(cls, enum.Enum)
    info: dict[str, Any] = {
        "kind": "enum" if is_enum else "class",
        "bases": [f"{b.__module__}.{b.__qualname__}" for b in cls.__mro__[1:]],
        "is_exception": issubclass(cls, BaseException),
        "all_attrs": sorted(n for n in dir(cls) if not n.startswith("_")),
    }
    if is_enum:
        info["enum_members"] = {m.name: _simple_repr(m.value) for m in cls}
        return info
    info.update(_signature(cls))
    info["protocols"] = sorted(d for d in PROTOCOL_DUNDERS if not _is_builtin_owner(_owner(cls, d)))
    members: dict[str, Any] = {}
    for name in info["all_attrs"]:
        member = _member(cls, name)
        if member is not None:
            members[name] = member
    info["members"] = members
    annotations: list[str] = []
    for klass in reversed(cls.__mro__):
        if _is_builtin_owner(klass):
            continue
        for name in vars(klass).get("__annotations__", {}):
            if not name.startswith("_") and name not in annotations:
                annotations.append(name)
    info["annotations"] = annotations
    if dataclasses.is_dataclass(cls):
        fields = []
        for f in dataclasses.fields(cls):
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            fields.append(
                {
                    "name": f.name,
                    "init": f.init,
                    "has_default": has_default,
                    "default": _simple_repr(f.default) if f.default is not dataclasses.MISSING else None,
                }
            )
        info["dataclass_fields"] = fields
    else:
        info["dataclass_fields"] = None
    return info


def _describe(obj: Any, root: str) -> dict[str, Any]:
    if isinstance(obj, types.ModuleType):
        return {"kind": "module", "target": obj.__name__}
    if inspect.isclass(obj):
        module = getattr(obj, "__module__", "") or ""
        if module != root and not module.startswith(root + "."):
            return {"kind": "alias", "target": f"{module}.{obj.__qualname__}"}
        return _class_info(obj)
    if inspect.isroutine(obj):
        info = {"kind": "function", **_signature(obj)}
        info["async"] = inspect.iscoroutinefunction(obj)
        return info
    if callable(obj) and not isinstance(obj, SIMPLE_TYPES):
        # typing constructs (Optional[...], Union[...]) are callable-ish aliases.
        if type(obj).__module__ == "typing":
            return {"kind": "alias", "target": repr(obj)}
        return {"kind": "function", **_signature(obj)}
    return {"kind": "constant", "type": type(obj).__name__, "value": _simple_repr(obj)}


def _top_level_assignments(module: types.ModuleType) -> set:
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return set()
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    names.add(sub.id)
    return names


def _public_names(module: types.ModuleType, root: str) -> list[str]:
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [n for n in exported if isinstance(n, str)]
    modname = module.__name__
    is_package = hasattr(module, "__path__")
    assigned = _top_level_assignments(module)
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or isinstance(obj, logging.Logger):
            continue
        if isinstance(obj, types.ModuleType):
            if obj.__name__ == f"{modname}.{name}":
                names.append(name)
            continue
        obj_module = (
            getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isroutine(obj)) else None
        )
        if (
            obj_module == modname
            or name in assigned
            or (
                is_package
                and isinstance(obj_module, str)
                and obj_module.startswith(root + ".")
                and not _is_generated(obj_module)
            )
        ):
            names.append(name)
    return sorted(names)


def _module_info(modname: str, root: str) -> dict[str, Any]:
    info: dict[str, Any] = {"skipped": None, "import_error": None, "has_all": False, "names": {}}
    last = modname.rsplit(".", 1)[-1]
    if _is_generated(modname):
        info["skipped"] = "generated protobuf module"
        return info
    if last == "__main__":
        info["skipped"] = "__main__ module (importing it would run it)"
        return info
    try:
        module = importlib.import_module(modname)
    except Exception as exc:  # a module that does not import is itself a finding
        info["import_error"] = f"{type(exc).__name__}: {exc}"
        return info
    info["is_package"] = hasattr(module, "__path__")
    info["has_all"] = hasattr(module, "__all__")
    for name in _public_names(module, root):
        try:
            obj = getattr(module, name)
        except Exception as exc:
            info["names"][name] = {"kind": "unresolvable", "error": f"{type(exc).__name__}: {exc}"}
            continue
        info["names"][name] = _describe(obj, root)
    return info


def _is_public_path(modname: str) -> bool:
    return all(not part.startswith("_") or part == "__main__" for part in modname.split("."))


def dump(root: str) -> dict[str, Any]:
    """The public surface of package ``root`` (importable by this interpreter) as plain data."""
    package = importlib.import_module(root)
    modnames = [root]
    if hasattr(package, "__path__"):
        errors: list[str] = []
        for mod in pkgutil.walk_packages(package.__path__, prefix=root + ".", onerror=errors.append):
            if _is_public_path(mod.name):
                modnames.append(mod.name)
    modules = {name: _module_info(name, root) for name in sorted(set(modnames))}
    return {
        "root": root,
        "version": getattr(package, "__version__", None),
        "python": sys.version.split()[0],
        "modules": modules,
    }


# ---------------------------------------------------------------------------- compare


class Difference(NamedTuple):
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


POSITIONAL = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")


def _accepts_keyword(params: list[dict[str, Any]], name: str) -> bool:
    for p in params:
        if p["name"] == name and p["kind"] in ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY"):
            return True
    return any(p["kind"] == "VAR_KEYWORD" for p in params)


def compare_signatures(
    path: str, ref: list[dict[str, Any]] | None, ours: list[dict[str, Any]] | None
) -> list[Difference]:
    """Why a call written against ``ref``'s parameters may fail against ``ours`` (empty: it works)."""
    if ref is None:
        return []
    if ours is None:
        return [Difference(path, "signature not introspectable in ours")]
    diffs: list[Difference] = []
    ours_by_name = {p["name"]: p for p in ours}
    ours_positional = [p for p in ours if p["kind"] in POSITIONAL]
    ours_has_varargs = any(p["kind"] == "VAR_POSITIONAL" for p in ours)
    ref_positional = [p for p in ref if p["kind"] in POSITIONAL]
    for index, p in enumerate(ref_positional):
        name = p["name"]
        if index < len(ours_positional):
            theirs_at = ours_positional[index]
            if p["kind"] == "POSITIONAL_OR_KEYWORD" and theirs_at["name"] != name:
                if name in ours_by_name and ours_by_name[name]["kind"] in POSITIONAL:
                    where = ours_positional.index(ours_by_name[name])
                    diffs.append(
                        Difference(
                            path, f"parameter '{name}' reordered: position {index} in theirs, {where} in ours"
                        )
                    )
                elif _accepts_keyword(ours, name):
                    diffs.append(
                        Difference(
                            path, f"parameter '{name}' at position {index} is '{theirs_at['name']}' in ours"
                        )
                    )
                else:
                    diffs.append(
                        Difference(
                            path,
                            f"parameter '{name}' renamed (ours has '{theirs_at['name']}' at position {index})",
                        )
                    )
        elif ours_has_varargs:
            if p["kind"] == "POSITIONAL_OR_KEYWORD" and not _accepts_keyword(ours, name):
                diffs.append(
                    Difference(path, f"parameter '{name}' only reachable positionally (*args) in ours")
                )
        elif name in ours_by_name and ours_by_name[name]["kind"] == "KEYWORD_ONLY":
            diffs.append(
                Difference(
                    path, f"parameter '{name}' is keyword-only in ours (positional at {index} in theirs)"
                )
            )
        elif _accepts_keyword(ours, name) and p["kind"] == "POSITIONAL_OR_KEYWORD":
            diffs.append(
                Difference(
                    path, f"parameter '{name}' cannot be passed positionally (position {index}) in ours"
                )
            )
        else:
            diffs.append(Difference(path, f"parameter '{name}' missing"))
    for p in ref:
        kind = p["kind"]
        if kind == "KEYWORD_ONLY":
            if not _accepts_keyword(ours, p["name"]):
                diffs.append(Difference(path, f"keyword parameter '{p['name']}' missing"))
        elif kind == "VAR_POSITIONAL" and not ours_has_varargs:
            diffs.append(
                Difference(path, f"*{p['name']} missing (theirs accepts extra positional arguments)")
            )
        elif kind == "VAR_KEYWORD" and not any(q["kind"] == "VAR_KEYWORD" for q in ours):
            diffs.append(Difference(path, f"**{p['name']} missing (theirs accepts arbitrary keywords)"))
    ref_by_name = {p["name"]: p for p in ref}
    for q in ours:
        if q["has_default"] or q["kind"] in ("VAR_POSITIONAL", "VAR_KEYWORD"):
            continue
        counterpart = ref_by_name.get(q["name"])
        if counterpart is None and q["kind"] in POSITIONAL:
            pos = ours_positional.index(q)
            counterpart = ref_positional[pos] if pos < len(ref_positional) else None
        if counterpart is None:
            diffs.append(
                Difference(path, f"parameter '{q['name']}' is required in ours and does not exist in theirs")
            )
        elif counterpart["has_default"]:
            diffs.append(
                Difference(path, f"parameter '{q['name']}' is required in ours but optional in theirs")
            )
    for p in ref:
        q = ours_by_name.get(p["name"])
        if q is None or not p["has_default"] or not q["has_default"]:
            continue
        if p["default"] is not None and q["default"] is not None and p["default"] != q["default"]:
            diffs.append(
                Difference(
                    path,
                    f"parameter '{p['name']}' default differs: theirs {p['default']}, ours {q['default']}",
                )
            )
    return diffs


def _has_attribute(info: dict[str, Any], name: str) -> bool:
    if name in info.get("all_attrs", []) or name in info.get("annotations", []):
        return True
    return any(f["name"] == name for f in info.get("dataclass_fields") or [])


CALLABLE_MEMBERS = ("method", "classmethod", "staticmethod")


def _compare_methods(path: str, ref: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    diffs: list[Difference] = []
    ours_members = ours.get("members", {})
    for name, r in sorted(ref.get("members", {}).items()):
        rk = r["kind"]
        if rk not in CALLABLE_MEMBERS and rk != "class":
            continue
        mpath = f"{path}.{name}"
        o = ours_members.get(name)
        if o is None:
            if not _has_attribute(ours, name):
                diffs.append(Difference(mpath, f"missing {rk}"))
            continue
        ok = o["kind"]
        if rk == "class":
            continue
        if ok not in CALLABLE_MEMBERS:
            if ok != "attribute":
                diffs.append(
                    Difference(mpath, f"is a {ok} in ours, a {rk} in theirs (not callable the same way)")
                )
            continue
        if rk in ("classmethod", "staticmethod") and ok == "method":
            diffs.append(
                Difference(
                    mpath, f"is an instance method in ours, a {rk} in theirs (cannot be called on the class)"
                )
            )
            continue
        diffs.extend(compare_signatures(mpath, r.get("signature"), o.get("signature")))
        if not r.get("async") and o.get("async"):
            diffs.append(Difference(mpath, "is async in ours, sync in theirs"))
    return diffs


def _compare_attributes(path: str, ref: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    """Data attributes: dataclass fields, declared annotations, properties and class attributes."""
    diffs: list[Difference] = []
    fields = [f["name"] for f in ref.get("dataclass_fields") or [] if not f["name"].startswith("_")]
    names: list[str] = []
    for name in fields + list(ref.get("annotations", [])):
        if name not in names:
            names.append(name)
    for name, r in sorted(ref.get("members", {}).items()):
        if r["kind"] in ("attribute", "property") and name not in names:
            names.append(name)
    ours_members = ours.get("members", {})
    for name in names:
        apath = f"{path}.{name}"
        o = ours_members.get(name)
        r = ref.get("members", {}).get(name, {"kind": "attribute"})
        if o is not None and o["kind"] in CALLABLE_MEMBERS:
            diffs.append(Difference(apath, f"is a {o['kind']} in ours, a plain attribute in theirs"))
        elif (
            o is not None
            and r["kind"] == "property"
            and r.get("settable")
            and o["kind"] == "property"
            and not o.get("settable")
        ):
            diffs.append(Difference(apath, "property is read-only in ours, settable in theirs"))
        elif o is None and not _has_attribute(ours, name):
            what = (
                "dataclass field"
                if name in fields
                else ("property" if r["kind"] == "property" else "attribute")
            )
            diffs.append(
                Difference(
                    apath, f"{what} missing (no field, annotation, property or class attribute in ours)"
                )
            )
    for proto in ref.get("protocols", []):
        if proto not in ours.get("protocols", []):
            diffs.append(Difference(path, f"does not implement {proto}"))
    return diffs


def _compare_class(path: str, ref: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    diffs: list[Difference] = []
    if ref["kind"] == "enum":
        ours_members = ours.get("enum_members", {})
        for member, value in ref.get("enum_members", {}).items():
            if member not in ours_members:
                diffs.append(Difference(f"{path}.{member}", "enum member missing"))
            elif value is not None and ours_members[member] is not None and value != ours_members[member]:
                diffs.append(
                    Difference(
                        f"{path}.{member}", f"enum value differs: theirs {value}, ours {ours_members[member]}"
                    )
                )
        return diffs
    if ref.get("is_exception") and not ours.get("is_exception"):
        diffs.append(Difference(path, "is an exception in theirs, not in ours"))
    diffs.extend(compare_signatures(f"{path}()", ref.get("signature"), ours.get("signature")))
    if ref.get("dataclass_fields") is not None and ours.get("dataclass_fields") is None:
        diffs.append(
            Difference(path, "is a dataclass in theirs, not in ours (dataclasses.fields/asdict/replace fail)")
        )
    diffs.extend(_compare_attributes(path, ref, ours))
    diffs.extend(_compare_methods(path, ref, ours))
    return diffs


def compare_names(path: str, ref: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    rk, ok = ref["kind"], ours["kind"]
    if ok == "unresolvable":
        return [Difference(path, f"listed but not resolvable in ours ({ours.get('error')})")]
    if rk != ok:
        # A class called like a function, or a function returning instances, both remain callable.
        if {rk, ok} <= {"class", "function"}:
            if rk == "class":
                return [
                    Difference(path, "is a class in theirs, a function in ours (isinstance/subclassing fail)")
                ]
            return compare_signatures(path, ref.get("signature"), ours.get("signature"))
        if rk == "alias" and ok in ("class", "alias", "enum"):
            return []
        return [Difference(path, f"kind differs: {rk} in theirs, {ok} in ours")]
    if rk in ("class", "enum"):
        return _compare_class(path, ref, ours)
    if rk == "function":
        diffs = compare_signatures(path, ref.get("signature"), ours.get("signature"))
        if not ref.get("async") and ours.get("async"):
            diffs.append(Difference(path, "is async in ours, sync in theirs"))
        return diffs
    if (
        rk == "constant"
        and ref.get("value") is not None
        and ours.get("value") is not None
        and ref["value"] != ours["value"]
    ):
        return [Difference(path, f"value differs: theirs {ref['value']}, ours {ours['value']}")]
    if rk == "alias" and ref.get("target") != ours.get("target"):
        return [
            Difference(path, f"alias target differs: theirs {ref.get('target')}, ours {ours.get('target')}")
        ]
    return []


def compare(reference: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    """Every module, name, parameter, field or member of ``reference`` that ``ours`` lacks or breaks."""
    diffs: list[Difference] = []
    ours_modules = ours.get("modules", {})
    for modname, rmod in sorted(reference.get("modules", {}).items()):
        omod = ours_modules.get(modname)
        if omod is None:
            diffs.append(Difference(modname, "missing module"))
            continue
        if omod.get("import_error"):
            diffs.append(Difference(modname, f"module does not import in ours: {omod['import_error']}"))
            continue
        if rmod.get("skipped") or rmod.get("import_error"):
            continue
        if rmod.get("is_package") and omod.get("is_package") is False:
            diffs.append(
                Difference(
                    modname, "is a package in theirs, a plain module in ours (its submodules cannot exist)"
                )
            )
        for name, rinfo in sorted(rmod.get("names", {}).items()):
            oinfo = omod.get("names", {}).get(name)
            path = f"{modname}.{name}"
            if oinfo is None:
                diffs.append(Difference(path, f"missing name ({rinfo['kind']})"))
                continue
            diffs.extend(compare_names(path, rinfo, oinfo))
    return diffs


def summarize(reference: dict[str, Any], diffs: list[Difference]) -> dict[str, Any]:
    """Per reference module: how many of its public names have no difference at all."""
    summary: dict[str, Any] = {}
    for modname, rmod in sorted(reference.get("modules", {}).items()):
        names = rmod.get("names", {})
        module_diffs = [
            d for d in diffs if _belongs(d.path, modname, names) is not None or _is_module_level(d, modname)
        ]
        broken = {_belongs(d.path, modname, names) for d in module_diffs} - {None}
        missing = any(
            _is_module_level(d, modname) and not d.reason.startswith("is a package") for d in module_diffs
        )
        summary[modname] = {
            "names": len(names),
            "compatible": 0 if missing else len(names) - len(broken),
            "differences": len(module_diffs),
            "module_missing_or_broken": missing,
        }
    return summary


def _is_module_level(d: Difference, modname: str) -> bool:
    return d.path == modname and not d.reason.startswith("missing name")


def _belongs(path: str, modname: str, names: dict[str, Any]) -> str | None:
    prefix = modname + "."
    if not path.startswith(prefix):
        return None
    head = path[len(prefix) :].split(".", 1)[0]
    if head.endswith("()"):
        head = head[:-2]
    return head if head in names else None


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "dump":
        json.dump(dump(argv[1]), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        with open(argv[1]) as f:
            reference = json.load(f)
        with open(argv[2]) as f:
            ours = json.load(f)
        diffs = compare(reference, ours)
        for d in diffs:
            print(d)
        summary = summarize(reference, diffs)
        total = sum(m["names"] for m in summary.values())
        good = sum(m["compatible"] for m in summary.values())
        for modname, m in summary.items():
            if m["differences"]:
                print(
                    f"  {modname}: {m['differences']} difference(s), {m['compatible']}/{m['names']} names compatible",
                    file=sys.stderr,
                )
        print(f"{len(diffs)} difference(s); {good} of {total} public names compatible", file=sys.stderr)
        return 1 if diffs else 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    print("usage: surface.py dump PACKAGE | surface.py compare REFERENCE.json OURS.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
