"""metrics.jsonl (one JSON object per step) and the progress line printed while training runs."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from unitscope.train.tensorboard import TensorBoardLog, events_dir

from unitscope.core import storage

FILE = "metrics.jsonl"
RESTARTS = "restarts.jsonl"  # one row per restarted worker group: the checkpoint step it continued from


def restart_line(step: int) -> str:
    return f"train: the workers were restarted after a failure; continuing from the checkpoint at step {step}"


def note_restart(run_url: str, step: int) -> None:
    """Record (rank 0 of a restarted worker group) that training continues from checkpoint `step`: the
    driver's Follower prints it, since a Ray Train worker's own output goes to Ray's log files."""
    url = storage.join(run_url, RESTARTS)
    old = storage.read_bytes(url).decode() if storage.exists(url) else ""
    storage.write_text(url, old + json.dumps({"step": step}) + "\n")


log = logging.getLogger(__name__)


class MetricsLog:
    """Rows in memory, flushed to RUN/metrics.jsonl: appended on local disks, rewritten whole on object
    stores (which cannot append). On resume, rows after the checkpoint's step are dropped."""

    def __init__(self, run_url: str, keep_until: int | None = None, tensorboard: str | None = None):
        self.url = storage.join(run_url, FILE)
        self.tb = TensorBoardLog(events_dir(run_url, tensorboard), keep_until or 0)
        self.local = storage.is_local(storage.url_to_fs(run_url)[0])
        self.rows: list[dict] = []
        if keep_until is not None and storage.exists(self.url):
            text = storage.read_bytes(self.url).decode()
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            self.rows = [r for r in rows if r["step"] <= keep_until]
        storage.write_text(self.url, "".join(json.dumps(r) + "\n" for r in self.rows))
        self.flushed = len(self.rows)

    def add(self, row: dict) -> None:
        self.rows.append(row)

    def record(self, row: dict, progress: Progress | None, logging_step: bool) -> None:
        """Add a step's row; at a logging step flush, and print the progress line where `progress` is
        given (in-process runs: under Ray Train the driver prints it, `Follower`)."""
        self.add(row)
        if logging_step:
            if progress is not None:
                progress.show(row)
            self.flush()

    def flush(self) -> None:
        if self.flushed == len(self.rows):
            return
        self.tb.write(self.rows[self.flushed :])
        if self.local:
            fs, path = storage.url_to_fs(self.url)
            with fs.open(path, "a") as f:
                f.writelines(json.dumps(r) + "\n" for r in self.rows[self.flushed :])
        else:
            storage.write_text(self.url, "".join(json.dumps(r) + "\n" for r in self.rows))
        self.flushed = len(self.rows)


def read(run_url: str) -> list[dict]:
    text = storage.read_bytes(storage.join(run_url, FILE)).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _complete_rows(run_url: str) -> list[dict]:
    """The rows of metrics.jsonl whose line is complete (an append may be under way)."""
    text = storage.read_bytes(storage.join(run_url, FILE)).decode()
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


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
            f"{row['images_per_s']:.0f} img/s  "
            + (f"lr {row['lr']:.2e}  " if "lr" in row else "")
            + f"eta {int(eta) // 60}m{int(eta) % 60:02d}s"
        )

    def show(self, row: dict) -> None:
        print(self.line(row), file=sys.stderr, flush=True)


class Follower:
    """The driver's progress line under Ray Train: rank 0 writes RUN/metrics.jsonl, this thread prints its
    rows as they arrive. The workers print nothing themselves: Ray Train turns a worker's `print` into a
    log record and echoes it too, so each line would come twice, between Ray's own messages."""

    def __init__(self, run_url: str, total: int, start: int, log_every: int, every_s: float = 1.0):
        self.run_url, self.total, self.log_every, self.every_s = run_url, total, log_every, every_s
        self.progress = Progress(total, start)
        self.shown = start
        self.restarts = len(
            self._restart_rows()
        )  # rows of RUN/restarts.jsonl already printed (a resumed run's)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="unitscope-train-progress", daemon=True)

    def __enter__(self) -> Follower:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.poll()
        self.poll()

    def poll(self) -> None:
        try:
            rows = _complete_rows(self.run_url)
        except (OSError, ValueError) as exc:  # not written yet, or a rewrite under way on object storage
            log.debug("metrics not readable yet: %s", exc)
            return
        self._restarts()
        fresh = [r for r in rows if r["step"] > self.shown]
        if fresh and self.shown == self.progress.start:  # time the ETA from the first step, not Ray's start
            self.progress.t0 = time.monotonic() - sum(r.get("step_s", 0.0) for r in fresh)
        for row in fresh:
            if row["step"] % self.log_every == 0 or row["step"] == self.total:
                self.progress.show(row)
                self.shown = row["step"]

    def _restart_rows(self) -> list[dict]:
        url = storage.join(self.run_url, RESTARTS)
        if not storage.exists(url):
            return []
        lines = storage.read_bytes(url).decode().splitlines(keepends=True)
        return [json.loads(line) for line in lines if line.endswith("\n")]

    def _restarts(self) -> None:
        rows = self._restart_rows()
        for row in rows[self.restarts :]:
            print(restart_line(row["step"]), file=sys.stderr, flush=True)
            self.shown = min(self.shown, int(row["step"]))
        self.restarts = max(self.restarts, len(rows))
