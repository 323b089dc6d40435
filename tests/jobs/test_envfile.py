"""-e NAME[=VALUE] and --env-file parsing."""

from __future__ import annotations

import pytest

from flamepy.jobs import JobSpecError
from flamepy.jobs.envfile import parse_assignment, parse_env_file, parse_env_options

CALLER = {"HOME": "/home/u", "TOKEN": "s3cret", "EMPTY": ""}


def test_assignments() -> None:
    assert parse_assignment("A=1", CALLER, "-e") == ("A", "1")
    assert parse_assignment("A=", CALLER, "-e") == ("A", "")
    assert parse_assignment("A=b=c", CALLER, "-e") == ("A", "b=c")
    assert parse_assignment("HOME", CALLER, "-e") == ("HOME", "/home/u")
    assert parse_assignment("MISSING", CALLER, "-e") == ("MISSING", None)


@pytest.mark.parametrize("item", ["=x", "1A=x", "A B=c", ""])
def test_bad_assignments(item: str) -> None:
    with pytest.raises(JobSpecError, match="environment variable name"):
        parse_env_options([item], CALLER)


def test_options_copy_set_and_warn() -> None:
    env, warnings = parse_env_options(["HOME", "A=1", "A=2", "EMPTY", "MISSING"], CALLER)
    assert env == {"HOME": "/home/u", "A": "2", "EMPTY": ""}
    assert warnings == ["-e MISSING: MISSING is not set in your environment; not passed"]


ENV_FILE = """\
# a comment
   # an indented comment

A=1
export B=two words
C="quoted # not a comment"
D='single $HOME \\n literal'
E="esc\\n\\t\\"q\\" \\\\ \\$"
F=value # trailing comment
G=value#not-a-comment
H=
I = spaced
TOKEN
NOT_SET
J="x" # comment after quotes
"""


def test_env_file() -> None:
    env, warnings = parse_env_file(ENV_FILE, ".env", CALLER)
    assert env == {
        "A": "1",
        "B": "two words",
        "C": "quoted # not a comment",
        "D": "single $HOME \\n literal",
        "E": 'esc\n\t"q" \\ $',
        "F": "value",
        "G": "value#not-a-comment",
        "H": "",
        "I": "spaced",
        "TOKEN": "s3cret",
        "J": "x",
    }
    assert warnings == [".env:14: NOT_SET is not set in your environment; not passed"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("A=1\nthis is junk\n", r"^INVALID_ARGUMENT: \.env:2: expected an environment variable name"),
        ('A="open\n', r"\.env:1: expected a closing double quote"),
        ("A='open\n", r"\.env:1: expected a closing single quote"),
        ('A="x" y\n', r"\.env:1: expected nothing after the quoted value"),
        ("1A=x\n", r"\.env:1: expected an environment variable name"),
        ("=x\n", r"\.env:1"),
    ],
)
def test_bad_env_files(text: str, match: str) -> None:
    with pytest.raises(JobSpecError, match=match):
        parse_env_file(text, ".env", CALLER)


def test_empty_env_file() -> None:
    assert parse_env_file("", ".env", CALLER) == ({}, [])
