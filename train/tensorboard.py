"""TensorBoard events of a training run, written by PyTorch's own SummaryWriter from the same rows as
metrics.jsonl (and loss.png): loss, learning rate, images/s and the share of each step spent waiting for
the loader. Rank 0 writes them, to RUN/tb unless `--tensorboard DIR` says elsewhere."""

from __future__ import annotations

import logging

from unitscope.core import storage

log = logging.getLogger(__name__)
DIR = "tb"
# metrics.jsonl field -> TensorBoard tag; the loader's share is derived from data_s / step_s.
TAGS = {"loss": "train/loss", "lr": "train/lr", "images_per_s": "speed/images_per_s"}
LOADER_SHARE = "speed/loader_share"


def events_dir(run_url: str, tensorboard: str | None) -> str:
    return tensorboard or storage.join(run_url, DIR)


class TensorBoardLog:
    """Scalars per metrics row. A resumed run purges the events after its checkpoint's step, as
    metrics.jsonl drops its rows. Event files need a local folder: for a run on an object store, point
    `--tensorboard` at a local one (until then none is written, and the log says so once)."""

    def __init__(self, folder: str, start: int):
        self.folder, self.start, self.writer, self.off = folder, start, None, False

    def _open(self) -> bool:
        """The writer, made at the first rows (a log that writes none leaves no event file)."""
        if self.writer is None and not self.off:
            fs, path = storage.url_to_fs(self.folder)
            if not storage.is_local(fs):
                log.warning("TensorBoard: %s is not a local folder; pass --tensorboard DIR", self.folder)
                self.off = True
                return False
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(path, purge_step=self.start + 1 if self.start else None)
        return self.writer is not None

    def write(self, rows: list[dict]) -> None:
        if not rows or not self._open():
            return
        for r in rows:
            for field, tag in TAGS.items():
                if field in r:
                    self.writer.add_scalar(tag, r[field], r["step"])
            if r.get("step_s") and "data_s" in r:
                self.writer.add_scalar(LOADER_SHARE, r["data_s"] / r["step_s"], r["step"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
