"""``flmctl completion bash|zsh|fish``: a shell completion script, derived from the parser.

The script completes the commands and each command's options (and the choices of an option or
positional that has them); job ids are not completed. Install with, e.g.,
``flmctl completion bash > ~/.local/share/bash-completion/completions/flmctl``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from flamepy.cli.context import CliContext

SHELLS = ("bash", "zsh", "fish")
Words = dict[str, list[str]]


def add_parser(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    root: Callable[[], argparse.ArgumentParser],
) -> None:
    p = sub.add_parser(
        "completion",
        parents=[common],
        help="print a shell completion script",
        description="Print a completion script for bash, zsh or fish.",
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(handler=lambda ctx: run(ctx, root()))


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_words(parser: argparse.ArgumentParser) -> Words:
    """Command → the words that may follow it: its options and choices (``""``: the top level)."""
    words: Words = {"": sorted(_subparsers(parser))}
    for name, sub in _subparsers(parser).items():
        found: list[str] = []
        for action in sub._actions:
            found.extend(action.option_strings)
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                found.extend(str(c) for c in action.choices)
        if name == "completion":
            found.extend(SHELLS)
        words[name] = sorted(set(found))
    return words


def bash_script(words: Words) -> str:
    cases = "\n".join(f'        {cmd}) opts="{" ".join(ws)}" ;;' for cmd, ws in sorted(words.items()) if cmd)
    return f"""# bash completion for flmctl
_flmctl() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" w
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$w" in -*) ;; *) cmd="$w"; break ;; esac
    done
    local opts="{" ".join(words[""])}"
    case "$cmd" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F _flmctl flmctl
"""


def zsh_script(words: Words) -> str:
    return "#compdef flmctl\nautoload -U bashcompinit && bashcompinit\n" + bash_script(words)


def fish_script(words: Words) -> str:
    commands = " ".join(words[""])
    lines = [
        "# fish completion for flmctl",
        f'complete -c flmctl -f -n "not __fish_seen_subcommand_from {commands}" -a "{commands}"',
    ]
    for cmd, ws in sorted(words.items()):
        if not cmd:
            continue
        longs = [w[2:] for w in ws if w.startswith("--")]
        shorts = [w[1:] for w in ws if w.startswith("-") and not w.startswith("--") and len(w) == 2]
        plain = [w for w in ws if not w.startswith("-")]
        cond = f'-n "__fish_seen_subcommand_from {cmd}"'
        lines.extend(f"complete -c flmctl {cond} -l {o}" for o in longs)
        lines.extend(f"complete -c flmctl {cond} -s {o}" for o in shorts)
        if plain:
            lines.append(f'complete -c flmctl {cond} -a "{" ".join(plain)}"')
    return "\n".join(lines) + "\n"


def run(ctx: CliContext, parser: argparse.ArgumentParser) -> int:
    shell = ctx.args.shell
    words = command_words(parser)
    render = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[shell]
    ctx.stdout.write(render(words))
    return 0
