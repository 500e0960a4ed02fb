"""The damage a stage met while reading a dataset: frames it could not use, per shard, and the rule that
turns it into a warning or a failure (`--max-bad-frames`, a fraction of the frames read)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from unitscope.core.errors import DamageError

log = logging.getLogger(__name__)
DEFAULT_MAX_BAD = 0.001  # 0.1% of frames: one in a thousand may be skipped with a warning
# The `max_bad_frames` setting of every stage that reads shards.
MaxBadFrames = Annotated[
    float,
    Field(
        ge=0,
        le=1,
        description="share of the frames that may be unreadable (damaged shards) with a warning; above it "
        "the stage fails",
    ),
]


@dataclass
class Damage:
    """Bad frames and damaged shards (URL -> why) of one stage's read of `total` frames."""

    stage: str
    total: int
    bad: int = 0
    shards: dict[str, str] = field(default_factory=dict)

    def add(self, url: str, why: str, bad: int) -> None:
        """A damaged shard. It counts at least one bad frame: when its checksum differs but every frame
        parsed, which frames changed is unknown."""
        self.shards[url] = why
        self.bad += max(bad, 1)

    def line(self) -> str:
        """`14 of 120 frames unreadable, 1 damaged shard (frames-000002.tar: size 95232 bytes, ...)`."""
        if not self.shards:
            return f"0 of {self.total} frames unreadable"
        url, why = next(iter(self.shards.items()))
        more = f" and {len(self.shards) - 1} more" if len(self.shards) > 1 else ""
        return (
            f"{self.bad} of {self.total} frames unreadable, {len(self.shards)} damaged shard(s) "
            f"({url.rsplit('/', 1)[-1]}: {why}{more})"
        )

    def enforce(self, max_bad: float, repair: str) -> str | None:
        """Raise DamageError above `max_bad` (a fraction of the frames); below it, log and return a
        warning line with the repair; None without damage."""
        if not self.shards:
            return None
        share = self.bad / max(self.total, 1)
        if share > max_bad:
            raise DamageError(
                f"{self.stage}: {self.line()}: {share:.2%} > --max-bad-frames {max_bad:g}; {repair}, "
                "then run this command again"
            )
        warning = f"{self.stage}: warning: {self.line()}; {repair}"
        log.warning(warning)
        return warning
