"""The demo's wall time comes from one place: `MINUTES`, which the help prints, the README repeats, and
docs/benchmarks.md's newest quiet measurement supports."""

from __future__ import annotations

import re

from unitscope.infra.cli import build_parser
from unitscope.infra.commands.demo import MINUTES

from tests.helpers import ROOT

TABLE_TITLE = "## `unitscope demo` wall time"


def test_the_help_gives_minutes():
    helptext = " ".join(build_parser().format_help().split())
    assert re.findall(r"about (\d+) minutes on 2 quiet cores", helptext) == [str(MINUTES)]


def test_the_readme_gives_minutes():
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert re.findall(r"`unitscope demo` \(about (\d+) minutes", readme) == [str(MINUTES)]


def demo_times(text: str) -> list[dict[str, str]]:
    """The rows of docs/benchmarks.md's demo wall-time table, oldest first, as {column: cell}."""
    section = text.split(TABLE_TITLE, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]
    ]


def test_the_newest_quiet_measurement_supports_minutes():
    rows = demo_times((ROOT / "docs" / "benchmarks.md").read_text())
    quiet = [r for r in rows if r["quiet"] == "yes"]
    assert quiet, "docs/benchmarks.md: no quiet `unitscope demo` wall time"
    newest = float(quiet[-1]["wall (s)"].replace(",", "")) / 60
    assert 0.5 * MINUTES <= newest <= 1.5 * MINUTES, (
        f"the newest quiet demo took {newest:.1f} minutes; MINUTES in infra/commands/demo.py says {MINUTES}"
    )
    dates = [r["date"] for r in rows]
    assert dates == sorted(dates), "rows oldest first"


def test_the_table_reader_takes_the_newest_quiet_row():
    doc = f"""{TABLE_TITLE}
| date | quiet | wall (s) |
| --- | --- | ---: |
| 2026-01-01 | yes | 100 |
| 2026-01-02 | yes | 1,300 |
| 2026-01-03 | no | 9 |

## Next
| date | quiet | wall (s) |
"""
    rows = demo_times(doc)
    assert [r["wall (s)"] for r in rows if r["quiet"] == "yes"][-1] == "1,300" and len(rows) == 3
