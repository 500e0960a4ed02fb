"""README's usage lines against the argparse parsers: every flag, its value and choices, every positional.

Generic on purpose: a flag added to a parser and to the README's usage line keeps this passing; one added
to only one of them fails it, naming the command and the flag."""

from __future__ import annotations

import argparse
import re

import pytest
from unitscope.infra.cli import build_parser

from tests.helpers import ROOT

SKIP_WORDS = {"|", "--", "..."}


def readme_usage() -> tuple[dict[str, str], dict[str, set[str]]]:
    """{command: its usage text} from the README's Commands block, and {flag: commands} from the block's
    lines that list flags shared by several commands (`--config FILE  (demo, synth, ...)  what it does`)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Commands\s+```\n(.*?)```", text, re.S).group(1)
    usage: dict[str, str] = {}
    shared: dict[str, set[str]] = {}
    command = None
    for line in block.splitlines():
        if m := re.match(r"unitscope (\w+)\s+(.*)", line):
            command = m.group(1)
            usage[command] = re.split(r"\s{3,}", m.group(2).strip())[0]  # drop a trailing description
        elif m := re.match(r"(--[\w-]+)[^(]*\(([\w, ]+)\)", line):
            shared[m.group(1)] = {c.strip() for c in m.group(2).split(",")}
            command = None
        elif line.startswith(" ") and command:
            usage[command] += " " + line.strip()
    return usage, shared


def _groups(text: str) -> list[tuple[bool, str]]:
    """Top-level pieces of a usage line: (bracketed, content); brackets may nest (`NAME[=VALUE]`)."""
    out, depth, cur = [], 0, ""
    for ch in text + " ":
        if ch == "[":
            if depth == 0 and cur.strip():
                out += [(False, w) for w in cur.split()]
                cur = ""
            elif depth:
                cur += ch
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                out.append((True, cur.strip()))
                cur = ""
            else:
                cur += ch
        else:
            cur += ch
    return out + [(False, w) for w in cur.split()]


def parse_usage(text: str) -> tuple[dict[str, str | None], set[str]]:
    """({flag: its value as written, or None}, positional words) of one README usage text."""
    flags: dict[str, str | None] = {}
    words: set[str] = set()
    pieces = _groups(text)
    i = 0
    while i < len(pieces):
        bracketed, content = pieces[i]
        tokens = content.split()
        if tokens and tokens[0].startswith("--") and tokens[0] != "--":
            if bracketed:
                flags[tokens[0]] = " ".join(tokens[1:]) or None
            else:  # an unbracketed flag takes the next word as its value, if one follows
                nxt = pieces[i + 1] if i + 1 < len(pieces) else (True, "")
                takes = not nxt[0] and not nxt[1].startswith("-") and nxt[1] not in SKIP_WORDS
                flags[tokens[0]] = nxt[1] if takes else None
                i += takes
        else:
            words |= {t for t in tokens if t not in SKIP_WORDS}
        i += 1
    return flags, words


def parser_usage(parser: argparse.ArgumentParser) -> tuple[dict[str, argparse.Action], set[str]]:
    """({flag: action}, positional words) of a subcommand, its own subcommands included."""
    flags: dict[str, argparse.Action] = {}
    words: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words.add(name)
                f, w = parser_usage(sub)
                flags.update(f)
                words |= w
        elif action.option_strings:
            flags.update({o: action for o in action.option_strings if o.startswith("--") and o != "--help"})
        else:
            metavar = action.metavar or action.dest.upper()
            words |= {t for t in metavar.split() if t not in SKIP_WORDS}
    return flags, words


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_readme_lists_every_command():
    assert set(readme_usage()[0]) == set(_subcommands())


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_a_readme_usage_line_offers_what_the_parser_does(command):
    usage, shared = readme_usage()
    flags, words = parse_usage(usage.get(command, ""))
    flags.update({f: "" for f, cmds in shared.items() if command in cmds})
    want_flags, want_words = parser_usage(_subcommands()[command])
    assert set(flags) == set(want_flags), (
        f"README `unitscope {command}` lacks {sorted(set(want_flags) - set(flags))}; "
        f"its parser lacks {sorted(set(flags) - set(want_flags))}"
    )
    assert words == want_words, f"README `unitscope {command}` positionals {words} vs its parser {want_words}"
    for flag, action in want_flags.items():
        value = flags[flag]
        if value == "":  # a shared flag: its line says what it takes
            continue
        assert (value is not None) == (action.nargs != 0), f"{command} {flag}: value in README vs parser"
        if action.choices:
            assert set(value.split("|")) == set(action.choices), f"{command} {flag}: choices"


def test_every_subcommand_says_what_it_does_in_its_help():
    missing = [name for name, parser in _subcommands().items() if not parser.description]
    assert not missing, f"`unitscope COMMAND --help` has no description for {missing}"
