"""metrics.jsonl (one JSON object per step) and the progress line printed while training runs."""

from __future__ import annotations

import json
import sys
import time

from train import storage

FILE = "metrics.jsonl"


class MetricsLog:
    """Rows in memory, flushed to RUN/metrics.jsonl: appended on local disks, rewritten whole on object
    stores (which cannot append). On resume, rows after the checkpoint's step are dropped."""

    def __init__(self, run_url: str, keep_until: int | None = None):
        self.url = storage.join(run_url, FILE)
        self.local = storage.is_local(run_url)
        self.rows: list[dict] = []
        if keep_until is not None and storage.exists(self.url):
            text = storage.read_bytes(self.url).decode()
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            self.rows = [r for r in rows if r["step"] <= keep_until]
        storage.write_text(self.url, "".join(json.dumps(r) + "\n" for r in self.rows))
        self.flushed = len(self.rows)

    def add(self, row: dict) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        if self.flushed == len(self.rows):
            return
        if self.local:
            fs, path = storage.fs_of(self.url)
            with fs.open(path, "a") as f:
                f.writelines(json.dumps(r) + "\n" for r in self.rows[self.flushed :])
        else:
            storage.write_text(self.url, "".join(json.dumps(r) + "\n" for r in self.rows))
        self.flushed = len(self.rows)


def read(run_url: str) -> list[dict]:
    text = storage.read_bytes(storage.join(run_url, FILE)).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Progress:
    """A one-line status every few steps: step, loss, images/s, lr, ETA."""

    def __init__(self, total: int, start: int):
        self.total, self.start, self.t0 = total, start, time.monotonic()

    def line(self, row: dict) -> str:
        done = row["step"] - self.start
        elapsed = time.monotonic() - self.t0
        eta = elapsed / max(done, 1) * (self.total - row["step"])
        return (
            f"train step {row['step']}/{self.total}  loss {row['loss']:.4f}  "
            f"{row['images_per_s']:.0f} img/s  lr {row['lr']:.2e}  eta {int(eta) // 60}m{int(eta) % 60:02d}s"
        )

    def show(self, row: dict) -> None:
        print(self.line(row), file=sys.stderr, flush=True)
