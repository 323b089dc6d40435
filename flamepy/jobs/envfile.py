"""Environment variables as users write them: ``-e NAME=VALUE`` / ``-e NAME`` and ``--env-file``.

Env-file syntax (the dotenv/docker subset people use): one ``NAME=VALUE`` per line, optionally
prefixed by ``export``; blank lines and lines starting with ``#`` are skipped; a value in double
quotes may span no lines but understands ``\\n``, ``\\t``, ``\\"`` and ``\\\\``; single quotes are
literal; an unquoted value ends at `` #`` (an inline comment) and is stripped. A bare ``NAME``
copies the caller's value, like ``-e NAME``; when the caller has none, it is skipped with a
warning. Errors name the file and line.

Pure functions: the caller passes its environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flamepy.jobs.values import JobSpecError, check_env_name

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_assignment(item: str, environ: Mapping[str, str], where: str) -> tuple[str, str | None]:
    """``NAME=VALUE`` → ``(NAME, VALUE)``; ``NAME`` → ``(NAME, caller's value or None)``."""
    name, sep, value = item.partition("=")
    name = name.strip()
    check_env_name(name, where)
    if sep:
        return name, value
    return name, environ.get(name)


def parse_env_options(
    items: Iterable[str], environ: Mapping[str, str], where: str = "-e"
) -> tuple[dict[str, str], list[str]]:
    """``-e`` values in order (a later one wins) → ``(env, warnings)``."""
    env: dict[str, str] = {}
    warnings: list[str] = []
    for item in items:
        name, value = parse_assignment(item, environ, f"{where} {item}")
        if value is None:
            warnings.append(f"{where} {name}: {name} is not set in your environment; not passed")
            continue
        env[name] = value
    return env, warnings


def _unquote_double(body: str, where: str) -> tuple[str, str]:
    """Read a double-quoted value from just after the opening quote: ``(value, rest)``."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
            continue
        if ch == '"':
            return "".join(out), body[i + 1 :]
        out.append(ch)
        i += 1
    raise JobSpecError(f"{where}: expected a closing double quote, got {body!r}")


def _parse_value(raw: str, where: str) -> str:
    text = raw.strip()
    if text.startswith('"'):
        value, rest = _unquote_double(text[1:], where)
    elif text.startswith("'"):
        end = text.find("'", 1)
        if end < 0:
            raise JobSpecError(f"{where}: expected a closing single quote, got {text!r}")
        value, rest = text[1:end], text[end + 1 :]
    else:
        hash_at = text.find(" #")
        return (text if hash_at < 0 else text[:hash_at]).strip()
    rest = rest.strip()
    if rest and not rest.startswith("#"):
        raise JobSpecError(f"{where}: expected nothing after the quoted value, got {rest!r}")
    return value


def parse_env_file(text: str, source: str, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The variables of an env file's ``text`` (``source`` names it in messages) →
    ``(env, warnings)``."""
    env: dict[str, str] = {}
    warnings: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{source}:{lineno}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export ") or stripped.startswith("export\t"):
            stripped = stripped[len("export") :].strip()
        name, sep, raw = stripped.partition("=")
        name = name.strip()
        check_env_name(name, where)
        if not sep:
            if name in environ:
                env[name] = environ[name]
            else:
                warnings.append(f"{where}: {name} is not set in your environment; not passed")
            continue
        env[name] = _parse_value(raw, where)
    return env, warnings
