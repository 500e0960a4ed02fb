"""The approximate frame index of a large run: FAISS IVF over compressed codes, re-ranked exactly.

An exact search scans every vector (23 ms of CPU a query at a million frames x 256 dimensions); above
`IVF_FROM` frames the probe adds an IVF index next to the exact flat file. It is built from the flat file
(trained on a random sample of its rows, then filled a block at a time) into FAISS on-disk inverted
lists, which the query server maps from the file instead of loading. A search probes `nprobe` lists for
`refine` x k candidates by their codes, reads those candidates' exact vectors from the flat file and
re-ranks them by inner product, so the top k is exact among the candidates found.

Files (local run directories only, as the lists are memory-mapped):

    probe/frames.ivf        faiss.write_index of the IVF index (quantizer, codebooks, list offsets)
    probe/frames.ivfdata    its inverted lists (codes and row numbers), mapped on load
    probe/frames.ivf.json   parameters, sizes and SHA-256 of both files; written last

Loading checks both files' sizes and digests (a flipped byte in the lists would otherwise cost recall
silently); every answer is re-scored from the flat file, and rows past its end are dropped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from dataclasses import asdict, dataclass

import faiss
import numpy as np
from unitscope.probe.frame_index import FlatFile, check_digest

from unitscope.core import storage

FRAME_IVF = "probe/frames.ivf"
FRAME_IVF_DATA = "probe/frames.ivfdata"
FRAME_IVF_META = "probe/frames.ivf.json"
IVF_FROM = 200_000  # frames from which `auto` builds an IVF index: below, an exact scan takes < 5 ms
CODES = ("pq32", "sq8")
ADD_ROWS = 65_536  # vectors added at a time (16 MB at 256 dimensions)


@dataclass
class IvfParams:
    nlist: int  # inverted lists (k-means centroids)
    codes: str  # "pq32": 32 bytes a vector (product quantizer); "sq8": a byte a dimension
    nprobe: int  # lists searched per query by default (a query-time setting)
    refine: int  # candidates re-ranked exactly per result asked for
    train_rows: int  # sample the quantizers are trained on


def choose(n: int, codes: str = "pq32") -> IvfParams:
    """Parameters for `n` frames: about 4 sqrt(n) lists (a power of two, at most 4,096, so that training
    stays a minute on two cores), 40 training vectors a list (FAISS's minimum is 39; at least 10,000 for the
    PQ codebooks), and 1/256 of the lists probed (at least 8): on clustered data recall@10 was the same from
    nprobe 4 to 64 at 100k-10M frames while the search time grew with it (tests/bench/frame_index.py)."""
    if codes not in CODES:
        raise ValueError(f"unknown IVF codes {codes!r}: one of {', '.join(CODES)}")
    nlist = int(min(4096, max(64, 2 ** round(math.log2(4 * math.sqrt(max(n, 1)))))))
    return IvfParams(nlist, codes, max(8, nlist // 256), 10, min(n, max(40 * nlist, 10_000)))


def is_local(run_url: str) -> bool:
    return storage.is_local(storage.url_to_fs(run_url)[0])


def remove(run_url: str) -> None:
    """Delete a run's IVF files (a re-run of the probe that builds an exact index only)."""
    fs, root = storage.url_to_fs(run_url.rstrip("/"))
    for name in (FRAME_IVF_META, FRAME_IVF, FRAME_IVF_DATA):  # the commit mark first
        if fs.exists(f"{root}/{name}"):
            fs.rm(f"{root}/{name}")


def build(run_url: str, params: IvfParams, seed: int = 0) -> dict:
    """Build the IVF index of the run's flat file (already written); returns what probe.json records."""
    run_url = run_url.rstrip("/")
    root = storage.url_to_fs(run_url)[1]
    remove(run_url)
    flat = FlatFile(run_url)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(flat.ntotal, min(params.train_rows, flat.ntotal), replace=False))
    spec = f"IVF{params.nlist},{'PQ32' if params.codes == 'pq32' else 'SQ8'}"
    index = faiss.index_factory(flat.d, spec, faiss.METRIC_L2)  # L2 on unit vectors ranks as cosine
    if params.codes == "pq32":  # the factory's default polysemous training takes minutes and only
        faiss.downcast_index(index).do_polysemous_training = False  # speeds Hamming pre-filters
    index.train(flat.rows(sample))
    tmp = f"{root}/probe/.frames-ivf-tmp"
    os.makedirs(tmp, exist_ok=True)
    growing = faiss.OnDiskInvertedLists(params.nlist, index.code_size, f"{tmp}/growing.ivfdata")
    index.replace_invlists(growing, False)  # Python owns the lists and frees them after the index
    with _stdout_to_stderr():  # the on-disk lists print each resize of their file
        for start, block in flat.blocks(ADD_ROWS):
            index.add_with_ids(block, np.arange(start, start + len(block), dtype=np.int64))
        # Growing lists double their room (up to 5x the codes at 100k frames): copy them into lists
        # of their exact sizes.
        lists = faiss.OnDiskInvertedLists(params.nlist, index.code_size, f"{tmp}/frames.ivfdata")
        parts = faiss.InvertedListsPtrVector()
        parts.push_back(growing)
        lists.merge_from_multiple(parts.data(), parts.size(), False, False)
        index.replace_invlists(lists, False)
        faiss.write_index(index, f"{tmp}/frames.ivf")
    del index
    del growing, parts, lists
    os.remove(f"{tmp}/growing.ivfdata")
    for name in (FRAME_IVF_DATA, FRAME_IVF):
        os.replace(f"{tmp}/{name.rsplit('/', 1)[-1]}", f"{root}/{name}")
    os.rmdir(tmp)
    info = {
        "kind": "ivf",
        **asdict(params),
        "frames": flat.ntotal,
        "dim": flat.d,
        "bytes": {n: os.path.getsize(f"{root}/{n}") for n in (FRAME_IVF, FRAME_IVF_DATA)},
        "sha256": storage.file_sha256(f"{root}/{FRAME_IVF}"),
        "sha256_data": storage.file_sha256(f"{root}/{FRAME_IVF_DATA}"),
    }
    storage.write_bytes(f"{run_url}/{FRAME_IVF_META}", json.dumps(info, indent=1).encode())
    return info


def load(run_url: str, nprobe: int | None = None) -> FlatFile | IvfFile:
    """The run's frame index, checked as it loads (sizes, and the digests the probe recorded): its IVF
    index where the probe built one, else the exact flat file. FileNotFoundError, or ValueError (or
    KeyError / TypeError from a damaged record) naming the file."""
    meta = read_meta(run_url)
    flat = FlatFile(run_url)
    check_digest(run_url)
    return IvfFile(run_url, meta, flat, nprobe) if meta else flat


def read_meta(run_url: str) -> dict | None:
    """The IVF index's record, or None when the run has none (an exact index only)."""
    try:
        return json.loads(storage.read_bytes(f"{run_url.rstrip('/')}/{FRAME_IVF_META}"))
    except FileNotFoundError:
        return None


class IvfFile:
    """A run's IVF index with its lists mapped from disk, re-ranked from the flat file's exact vectors."""

    def __init__(self, run_url: str, meta: dict, flat: FlatFile, nprobe: int | None = None):
        root = storage.url_to_fs(run_url.rstrip("/"))[1]
        self.flat, self.meta = flat, meta
        self.d, self.ntotal = flat.d, flat.ntotal
        for name, want in meta["bytes"].items():
            try:
                have = os.path.getsize(f"{root}/{name}")
            except OSError:
                have = -1
            if have != want:  # a short list file would be mapped and fault (SIGBUS) when read
                raise ValueError(f"{name} holds {max(have, 0)} bytes, not the {want} its record says")
        digests = {FRAME_IVF: meta["sha256"], FRAME_IVF_DATA: meta.get("sha256_data")}  # data: newer runs
        for name, want in digests.items():
            if want and storage.file_sha256(f"{root}/{name}") != want:  # once per load, a MiB at a time
                raise ValueError(f"{name} is not the file that was built (its SHA-256 differs)")
        if meta["frames"] != flat.ntotal or meta["dim"] != flat.d:
            raise ValueError(f"{FRAME_IVF} was built for another flat index ({meta['frames']} frames)")
        try:
            with _stdout_to_stderr():  # FAISS says where it found the lists file
                flags = faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY
                index = faiss.read_index(f"{root}/{FRAME_IVF}", flags)
            self.index = faiss.extract_index_ivf(index)
        except RuntimeError as exc:
            raise ValueError(f"{FRAME_IVF} cannot be read by FAISS ({str(exc).splitlines()[0]})") from None
        self._owner = index
        if self.index.ntotal != flat.ntotal or self.index.nlist != meta["nlist"]:
            raise ValueError(f"{FRAME_IVF} holds {self.index.ntotal} vectors, not {flat.ntotal}")
        self.nprobe = min(nprobe or meta["nprobe"], self.index.nlist)
        self.refine = meta["refine"]

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows (each (N, k), best first; -1 past the candidates found) of the `k` nearest
        vectors among `refine` x k candidates of the IVF search, re-ranked by exact inner product."""
        q = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.d).copy()
        faiss.normalize_L2(q)
        params = faiss.SearchParametersIVF(nprobe=self.nprobe)
        _, cand = self.index.search(q, min(self.ntotal, k * self.refine), params=params)
        cand[cand >= self.ntotal] = -1  # damaged lists may hold rows past the flat file: never read them
        wanted = np.unique(cand[cand >= 0])
        vecs = self.flat.rows(wanted)
        scores = np.full((len(q), k), -np.inf, np.float32)
        rows = np.full((len(q), k), -1, np.int64)
        for i, c in enumerate(cand):
            c = c[c >= 0]
            s = vecs[np.searchsorted(wanted, c)] @ q[i]
            best = np.argsort(-s, kind="stable")[:k]
            scores[i, : len(best)], rows[i, : len(best)] = s[best], c[best]
        return scores, rows

    def reconstruct(self, row: int) -> np.ndarray:
        return self.flat.reconstruct(row)


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what C++ code prints to standard output to standard error (the CLI's output is its answer)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
