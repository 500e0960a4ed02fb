"""Checking a run directory: the encoder loads (`weights_only`), every checkpoint loads, and the probe's
outputs are readable and agree with each other (catalogue units exist in the units table, the frame index
holds one vector per key, every activation chunk one row per key). Findings are `pipeline.audit.Problem`s
naming the file and the command that rebuilds it."""

from __future__ import annotations

import io
import json

import numpy as np
import torch
from unitscope.pipeline.audit import Audit, Problem
from unitscope.probe import ivf_index
from unitscope.probe.catalog import (
    CATALOG_TABLE,
    FRAME_INDEX,
    FRAME_INDEX_KEYS,
    PROBE_JSON,
    UNITS_TABLE,
    read_table,
)
from unitscope.probe.store import ActivationStore
from unitscope.train import checkpoint
from unitscope.train.model_io import ENCODER_SPEC, ENCODER_WEIGHTS, load_encoder

from unitscope.core import storage


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else "") or type(exc).__name__


class _RunAudit:
    def __init__(self, run_url: str):
        self.url = run_url.rstrip("/")
        self.audit = Audit(self.url, "run")
        self.fs, self.root = storage.url_to_fs(self.url)

    def count(self, what: str) -> None:
        self.audit.checked[what] = self.audit.checked.get(what, 0) + 1

    def bad(self, rel: str, what: str, fix: str) -> None:
        self.audit.problems.append(Problem(storage.join(self.url, rel), what, fix))

    def _json(self, rel: str) -> dict | None:
        try:
            return json.loads(self.fs.cat_file(storage.join(self.root, rel)))
        except (OSError, ValueError, UnicodeDecodeError):
            return None

    def encoder(self) -> None:
        cfg = self._json("config.json") or {}
        train = f"train it again: `unitscope train {cfg.get('dataset', 'DATASET')} NEW_RUN`"
        if not self.fs.exists(storage.join(self.root, ENCODER_SPEC)):
            return  # not trained to the end: nothing to check yet
        self.count("encoder")
        try:
            load_encoder(self.url)
        except Exception as exc:  # torch, pydantic, JSON: any way a damaged file fails to load
            self.bad(ENCODER_WEIGHTS, f"does not load ({_first_line(exc)})", train)

    def checkpoints(self) -> None:
        cfg = self._json("config.json") or {}
        fix = (
            f"delete it and point {checkpoint.DIR}/{checkpoint.LATEST} at the step before, then "
            f"`unitscope train {cfg.get('dataset', 'DATASET')} {self.url} --resume`"
        )
        latest = self._json(f"{checkpoint.DIR}/{checkpoint.LATEST}") or {}
        names = sorted(
            p.rsplit("/", 1)[-1] for p in self.fs.glob(storage.join(self.root, checkpoint.DIR, "step-*.pt"))
        )
        for name in names:
            self.count("checkpoints")
            rel = f"{checkpoint.DIR}/{name}"
            try:
                data = self.fs.cat_file(storage.join(self.root, rel))
                digest = checkpoint.recorded_digest(self.url, name, latest)
                storage.check_digest(rel, data, digest, fix)
                torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            except Exception as exc:
                self.bad(rel, f"does not load ({_first_line(exc)})", fix)
        latest = f"{checkpoint.DIR}/{checkpoint.LATEST}"
        if names or self.fs.exists(storage.join(self.root, latest)):
            doc = self._json(latest)
            if not doc or doc.get("file") not in names:
                self.bad(latest, "does not name a checkpoint of the run", f"point it at one of {names[-1:]}")

    def probe(self) -> None:
        if not self.fs.exists(storage.join(self.root, "probe")):
            return
        info = self._json(PROBE_JSON)
        fix = f"run `unitscope probe {self.url} {(info or {}).get('dataset', 'DATASET')}` again"
        self.count("probe files")
        if info is None:
            self.bad(PROBE_JSON, "missing or not JSON", fix)
        tables = {}
        for rel in (UNITS_TABLE, CATALOG_TABLE):
            self.count("probe files")
            try:
                tables[rel] = read_table(storage.join(self.url, rel))
            except Exception as exc:
                self.bad(rel, f"unreadable ({_first_line(exc)})", fix)
        if len(tables) == 2:
            units = set(tables[UNITS_TABLE].column("unit").to_pylist())
            missing = set(tables[CATALOG_TABLE].column("unit").to_pylist()) - units
            if missing:
                self.bad(CATALOG_TABLE, f"names units the units table lacks ({sorted(missing)[:3]})", fix)
        self.frame_index(fix)
        self.activations(fix)

    def frame_index(self, fix: str) -> None:
        """The frame index as the query side loads it (`ivf_index.load`: sizes and recorded digests of the
        flat file and any IVF files), and one key a vector."""
        self.count("probe files")
        kind = "ivf" if self.fs.exists(storage.join(self.root, ivf_index.FRAME_IVF_META)) else "exact"
        try:
            index = ivf_index.load(self.url)
            keys = read_table(storage.join(self.url, FRAME_INDEX_KEYS)).num_rows
            if keys != index.ntotal:
                self.bad(FRAME_INDEX_KEYS, f"{keys} keys for {index.ntotal} vectors", fix)
        except Exception as exc:
            text = str(exc)
            names = (ivf_index.FRAME_IVF_DATA, ivf_index.FRAME_IVF_META, ivf_index.FRAME_IVF)
            rel = next((n for n in names if n in text), FRAME_INDEX)
            self.bad(
                rel,
                f"unreadable ({_first_line(exc)})",
                fix.replace("` again", f" --frame-index {kind}` again"),
            )

    def activations(self, fix: str) -> None:
        store = ActivationStore(self.url)
        meta = store.read_meta()
        width = sum(meta.channels) if meta else None
        for shard in store.shards():
            self.count("activation chunks")
            try:
                n = len(store.keys(shard))
                for kind in ("trained", "random", "embeddings"):
                    if not store.fs.exists(store.path(kind, shard).split("://", 1)[-1]) and kind == "random":
                        continue
                    arr = store.chunk(kind, shard)
                    if arr.shape[0] != n or (kind != "embeddings" and width and arr.shape[1] != width):
                        raise ValueError(f"{kind} holds {arr.shape}, {n} keys")
                    if not np.isfinite(arr).all():
                        raise ValueError(f"{kind} holds values that are not finite")
            except Exception as exc:
                self.bad(f"probe/activations/*/shard-{shard:06d}", f"unreadable ({_first_line(exc)})", fix)


def audit_run(run_url: str) -> Audit:
    """Check a run directory: encoder, checkpoints, probe outputs."""
    a = _RunAudit(run_url)
    a.encoder()
    a.checkpoints()
    a.probe()
    return a.audit
