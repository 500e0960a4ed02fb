"""`run(SynthConfig) -> SynthResult`: render, encode and write the clips of a planted-concept corpus.

Each clip is one unit of work, `make_clip(config_json, index)`, run in this process or as a Ray task
(the config travels as JSON; the scene is built inside the worker). Clip i depends only on (seed, i),
so any executor and any worker count give the same files (`workers=0`: in this process). A clip that fails is recorded in the result
and in corpus.json; the others are still written.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from unitscope.pipeline.synth import labels
from unitscope.pipeline.synth.concepts import CONCEPT_KINDS
from unitscope.pipeline.synth.config import DISTRACTORS, RANGES, SynthConfig
from unitscope.pipeline.synth.encode import ClipEncoder
from unitscope.pipeline.synth.scene import Scene
from unitscope.pipeline.synth.stats import ClipStats, summarize

from unitscope.core import storage, task_loop
from unitscope.core.ray_runtime import ensure_ray

log = logging.getLogger(__name__)
CORPUS_JSON = "corpus.json"


@dataclass
class ClipResult:
    """What one clip task did: its files, frame count, time split, label statistics or error."""

    index: int
    name: str
    frames: int = 0
    render_s: float = 0.0
    encode_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the whole task (all threads of its process)
    stats: dict = field(default_factory=dict)
    error: str | None = None


@dataclass
class SynthResult:
    out: str
    clips: list[ClipResult]
    seconds: float
    stats: dict
    preview: str | None = None
    reused: bool = False  # OUT already held this corpus: nothing was rendered

    @property
    def frames(self) -> int:
        return sum(c.frames for c in self.clips if c.error is None)

    @property
    def failed(self) -> list[ClipResult]:
        return [c for c in self.clips if c.error is not None]


def make_clip(config_json: str, index: int) -> ClipResult:
    """Render clip `index`, encode it and write `<name>.mp4` and its label sidecar under the corpus OUT."""
    cfg = SynthConfig.model_validate_json(config_json)
    name = cfg.clip_name(index)
    result = ClipResult(index=index, name=name)
    cpu0 = time.process_time()
    fs, root = storage.url_to_fs(cfg.out)
    try:
        scene, stats, entries = Scene(cfg, index), ClipStats(cfg), []
        # the mp4 appears only once complete (staged locally, then renamed or uploaded in one piece)
        with (
            storage.staged_writer(fs, storage.join(root, name + ".mp4"), root) as f,
            ClipEncoder(f, cfg.width, cfg.height, cfg.fps, cfg.preset, cfg.crf) as enc,
        ):
            for i in range(cfg.frames):
                t0 = time.perf_counter()
                rgb, observations = scene.render(i)
                t1 = time.perf_counter()
                enc.write(rgb)
                result.render_s += t1 - t0
                result.encode_s += time.perf_counter() - t1
                entries.append(labels.frame_entry(i, observations))
                stats.add(observations)
            t0 = time.perf_counter()
            enc.close()
            result.encode_s += time.perf_counter() - t0
        sidecar = labels.sidecar_bytes(cfg.concepts, entries)
        storage.write_staged(fs, storage.join(root, labels.sidecar_name(name + ".mp4")), root, sidecar)
        result.frames, result.stats = cfg.frames, stats.as_dict()
        result.cpu_s = time.process_time() - cpu0
    except Exception as exc:  # recorded per clip; the corpus run goes on with the other clips
        log.exception("clip %s failed", name)
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def _run_local(cfg: SynthConfig, spec: str) -> list[ClipResult]:
    return [make_clip(spec, i) for i in range(cfg.videos)]


def _run_ray(cfg: SynthConfig, spec: str) -> list[ClipResult]:
    import ray

    started = ensure_ray(None)  # the caller's Ray (the CLI attaches to --address), else a fresh local one
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(make_clip)
        limit = cfg.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        results = []
        for index, ref in task_loop.bounded(lambda i: task.remote(spec, i), range(cfg.videos), limit):
            try:
                results.append(ray.get(ref))
            except Exception as exc:  # the task died (e.g. out of memory) after its retries
                results.append(ClipResult(index, cfg.clip_name(index), error=f"{type(exc).__name__}: {exc}"))
            log.info("synth: %d/%d clips", len(results), cfg.videos)
        return sorted(results, key=lambda r: r.index)
    finally:
        if started:
            ray.shutdown()


def corpus_doc(cfg: SynthConfig, clips: list[ClipResult], stats: dict) -> dict:
    """The content of corpus.json: parameters, concepts, the visibility rule, promised and measured ranges."""
    return {
        "version": 1,
        "generator": "unitscope synth",
        "config": cfg.model_dump(exclude={"preview"}),
        "width": cfg.width,
        "height": cfg.height,
        "frames_per_clip": cfg.frames,
        "concepts": list(cfg.concepts),
        "all_concepts": list(CONCEPT_KINDS),
        "distractors": list(DISTRACTORS),
        "visible_min": labels.schema.VISIBLE_MIN,
        "visibility_rule": labels.VISIBILITY_RULE,
        "ranges": RANGES,
        "measured": stats,
        "clips": [
            {
                "name": c.name,
                "video": f"{c.name}.mp4",
                "labels": labels.sidecar_name(c.name + ".mp4"),
                "frames": c.frames,
                "error": c.error,
            }
            for c in clips
        ],
    }


def _settings(config: dict) -> dict:
    """The settings that decide a corpus' bytes: not where the work ran, nor the preview."""
    return {k: v for k, v in config.items() if k not in ("workers", "preview")}


def _earlier(fs, root: str) -> dict | None:
    """The corpus.json of the corpus OUT holds, if any."""
    path = storage.join(root, CORPUS_JSON)
    try:
        return json.loads(fs.cat_file(path)) if fs.exists(path) else None
    except ValueError:  # damaged: the corpus is made again
        return None


def holds(cfg: SynthConfig) -> bool:
    """Whether cfg.out already holds the finished corpus these settings make (every clip written, none
    failed): clip i depends only on (seed, i), so rendering it again would give the same files."""
    cfg = cfg.model_copy(update={"out": storage.absolute(cfg.out)})
    fs, root = storage.url_to_fs(cfg.out)
    doc = _earlier(fs, root)
    if doc is None or _settings(doc.get("config", {})) != _settings(cfg.model_dump(mode="json")):
        return False
    names = {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)}
    return all(c["error"] is None and {c["video"], c["labels"]} <= names for c in doc["clips"])


def _kept(cfg: SynthConfig, doc: dict) -> SynthResult:
    clips = [ClipResult(i, c["name"], frames=c["frames"]) for i, c in enumerate(doc["clips"])]
    return SynthResult(cfg.out, clips, 0.0, doc["measured"], reused=True)


def _remove_earlier(fs, root: str, doc: dict) -> None:
    """Delete the clips of the other corpus OUT held, so none of them is taken as part of this one."""
    for c in doc.get("clips", []):
        for name in (c["video"], c["labels"]):
            if fs.exists(path := storage.join(root, name)):
                fs.rm(path)
    fs.rm(storage.join(root, CORPUS_JSON))


def run(cfg: SynthConfig) -> SynthResult:
    """Write the corpus described by `cfg` (clips, sidecars, corpus.json, optional preview). OUT holding
    this corpus already is kept as it is; OUT holding a corpus made with other settings loses its clips."""
    cfg = cfg.model_copy(update={"out": storage.absolute(cfg.out)})  # before Ray's workers see it
    fs, root = storage.url_to_fs(cfg.out)
    fs.makedirs(root, exist_ok=True)
    earlier = _earlier(fs, root)
    if earlier is not None and holds(cfg):
        log.info("synth: %s already holds this corpus: kept", cfg.out)
        result = _kept(cfg, earlier)
    else:
        if earlier is not None:
            _remove_earlier(fs, root, earlier)
        result = _render(cfg, fs, root)
    if cfg.preview:
        from unitscope.pipeline.synth.preview import write_preview

        result.preview = write_preview(cfg, cfg.preview)
    return result


def _render(cfg: SynthConfig, fs, root: str) -> SynthResult:
    spec = cfg.model_dump_json()
    t0 = time.perf_counter()
    clips = _run_local(cfg, spec) if cfg.workers == 0 else _run_ray(cfg, spec)
    seconds = time.perf_counter() - t0
    stats = summarize([c.stats for c in clips if c.error is None])
    doc = json.dumps(corpus_doc(cfg, clips, stats), indent=2, sort_keys=True).encode()
    storage.write_staged(fs, storage.join(root, CORPUS_JSON), root, doc)
    storage.clear_staging(fs, root)
    return SynthResult(cfg.out, clips, seconds, stats)
