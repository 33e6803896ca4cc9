"""The argument parser of `damer-core`: no abbreviations (`--epoch` is not taken for `--epochs`),
and an unknown option is reported by the command it was given to, with its usage and the nearest
option it knows."""

from __future__ import annotations

import argparse
import difflib


class Parser(argparse.ArgumentParser):
    """:class:`argparse.ArgumentParser` without abbreviations; its subcommands' parsers are Parsers too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_command(self, argv: list[str] | None = None) -> argparse.Namespace:
        """:meth:`parse_args`, but arguments the chosen command does not know end in that
        command's usage and a suggestion, not the top-level usage."""
        args, extra = self.parse_known_args(argv)
        if extra:
            command = self.commands().get(getattr(args, "command", None) or "", self)
            command.error(unknown_arguments(command, extra))
        return args

    def commands(self) -> dict[str, argparse.ArgumentParser]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}


def unknown_arguments(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """'unrecognized arguments: --datset x (did you mean --dataset?)'."""
    known = [s for action in parser._actions for s in action.option_strings]
    hints = []
    for arg in extra:
        if arg.startswith("-"):
            close = difflib.get_close_matches(arg.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                hints.append(f"did you mean {close[0]}?")
    return f"unrecognized arguments: {' '.join(extra)}" + (f" ({'; '.join(hints)})" if hints else "")
