"""The per-rank K-means fit (`--objective kmeans`): read frames, cut patches, whiten, run Lloyd steps,
log, checkpoint, and (rank 0) write the encoder. Runs in-process (`workers=0`) and in Ray Train workers.

A step is one Lloyd iteration over the whole patch sample, so `--steps`, metrics.jsonl, checkpoints and
`--resume` mean what they mean for the gradient objectives. The sample is drawn from the frames of each
rank's own shards (seeded), read the way training reads them: key, video, time and JPEG, never labels.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch
from unitscope.train import augment, checkpoint, metrics, plot, shards
from unitscope.train.config import TrainConfig
from unitscope.train.distributed import Dist
from unitscope.train.encoder import EncoderSpec
from unitscope.train.model_io import save_encoder
from unitscope.train.models.patch import PatchDictionary
from unitscope.train.objectives import coherence, kmeans

from unitscope.core.errors import ConfigError, InputError
from unitscope.core.heartbeat import Heartbeat

log = logging.getLogger(__name__)
BATCH = 64  # frames cut into patches at once (bounds the unfolded pyramid's memory)


def dictionary_spec(config: TrainConfig) -> EncoderSpec:
    return EncoderSpec.create(config.arch, config.width, None, config.input_size, config.patch_size,
                              config.patch_stride, config.kmeans_group)  # fmt: skip


def sample_frames(
    config: TrainConfig, shard_urls: list[str], dist: Dist
) -> tuple[torch.Tensor, list[tuple[str, float]], int]:
    """(N, C, S, S) grey levels of up to kmeans_frames / world frames of this rank's shards, in reading
    order, with each frame's (video, seconds), and the number of frames that could not be decoded."""
    want = math.ceil(config.kmeans_frames / dist.world)
    parts = shards.plan_parts(shard_urls, dist.world)
    mine = shards.parts_for_slot(parts, 0, config.seed, dist.rank, dist.world)
    size, frames, stamps, bad = config.input_size, [], [], 0
    counters: dict[str, int] = {}
    beat = Heartbeat("train")
    for part in mine:
        for frame in shards.read_part(part, 0, counters):
            beat.tick(lambda: f"kmeans: read {len(frames)} of {want} sample frames")
            try:
                im = augment.decode(frame.jpg, size)
            except augment.BadImage:
                bad += 1
                continue
            if im.size != (size, size):
                im = im.resize((size, size))
            frames.append(np.asarray(im))
            stamps.append((frame.video, frame.pts))
            if len(frames) >= want:
                break
        if len(frames) >= want:
            break
    if not frames:
        raise InputError(
            f"rank {dist.rank} read no usable frames from its {len(mine)} shard part(s) of {config.dataset}: "
            "ingest more video or train with fewer --workers"
        )
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    return (
        (x.mean(dim=1, keepdim=True) if not config.patch_colour else x),
        stamps,
        bad + sum(counters.values()),
    )


def kmeans_worker(config: TrainConfig, shard_urls: list[str], dist: Dist) -> dict:
    t0 = time.perf_counter()
    spec = dictionary_spec(config)
    pixels, stamps, skipped = sample_frames(config, shard_urls, dist)
    pairs = coherence.pair_index(
        stamps, config.pair_max_gap_s, math.ceil(config.group_frames / 2 / dist.world)
    )
    if spec.group > 1 and not sum(dist.gather(len(pairs))):
        raise InputError(
            f"kmeans_group {spec.group} groups units by what follows from one frame to the next, but no two "
            f"sampled frames of one video are within pair_max_gap_s ({config.pair_max_gap_s} s): ingest at a "
            "higher --fps, raise pair_max_gap_s, or train with kmeans_group 1"
        )
    gen = torch.Generator().manual_seed(config.seed * 1000 + dist.rank)
    beat, cut = Heartbeat("train"), []
    for i in range(0, len(pixels), BATCH):
        beat.tick(lambda i=i: f"kmeans: cut patches from {i} of {len(pixels)} frames")
        cut.append(kmeans.normalised_patches(pixels[i : i + BATCH], spec, config.patches_per_scale, gen))
    patches = torch.cat(cut)
    del cut
    count, total, outer = map(sum, zip(*dist.gather(kmeans.moment_sums(patches)), strict=True))
    whiten, mean = kmeans.zca(count, total, outer, config.whiten_eps)
    points = kmeans.whitened(patches, whiten, mean).to(dist.device)
    del patches
    # Initial centroids and spare points (for emptied clusters): random sample points from every rank.
    share = math.ceil(2 * config.width / dist.world)
    pool = torch.cat(dist.gather(points[torch.randperm(len(points), generator=gen)[:share]].cpu()))
    centroids, spare = pool[: config.width].to(dist.device), pool[config.width :].to(dist.device)
    if len(centroids) < config.width:
        raise ConfigError(
            f"{len(points)} patches cannot seed {config.width} centroids: lower --width or sample more "
            "frames (kmeans_frames, patches_per_scale)"
        )
    start = 0
    if config.resume:
        state = checkpoint.load_latest(config.run)
        if state["encoder_spec"] != spec.model_dump(mode="json"):
            raise ConfigError(
                f"--resume: the checkpoint in {config.run} was fitted with another dictionary (width, patch "
                "or input size); resume with the same settings or start a new RUN"
            )
        start, centroids = int(state["step"]), state["model"]["centroids"].to(dist.device)
    lead = dist.rank == 0
    log.info("kmeans: %d patches from %d frames on rank %d (%.1f s)", len(points), len(pixels), dist.rank,
             time.perf_counter() - t0)  # fmt: skip
    log_rows = (
        metrics.MetricsLog(config.run, keep_until=start, tensorboard=config.tensorboard) if lead else None
    )
    progress = metrics.Progress(config.steps, start)
    row: dict = {}
    for step in range(start + 1, config.steps + 1):
        t1 = time.perf_counter()
        sums, counts, score = kmeans.assignment_sums(points, centroids)
        parts = dist.gather((sums.cpu(), counts, score))
        sums, counts, score = (sum(p[i] for p in parts) for i in range(3))
        centroids, reseeded = kmeans.update(sums.to(dist.device), counts, centroids, spare)
        dt = time.perf_counter() - t1
        row = {"step": step, "loss": 1.0 - score / float(counts.sum()), "reseeded": reseeded,
               "images_per_s": len(pixels) * dist.world / dt, "step_s": dt, "skipped": skipped}  # fmt: skip
        last = step == config.steps
        if lead:
            log_rows.record(
                row, progress if config.workers == 0 else None, step % config.log_every == 0 or last
            )
            if step % config.checkpoint_every == 0 or last:
                state = {"step": step, "model": _encoder(spec, whiten, mean, centroids).state_dict(),
                         "config": config.model_dump(mode="json"), "encoder_spec": spec.model_dump(mode="json")}  # fmt: skip
                checkpoint.save(config.run, state, keep=config.keep_checkpoints)
    enc = _encoder(spec, whiten, mean, centroids)
    if spec.group > 1:
        enc.partners.copy_(coherent_partners(enc.to(dist.device), pixels, pairs, spec.group, dist).cpu())
    if lead:
        save_encoder(enc.cpu(), config.run)
        log_rows.flush()
        log_rows.tb.close()
        plot.loss_curve(log_rows.rows, config.run, f"kmeans / {config.width} units (1 - mean cosine)")
    return {"step": config.steps, "start_step": start, "loss": row.get("loss"), "skipped": skipped}


@torch.no_grad()
def coherent_partners(
    enc: PatchDictionary, pixels: torch.Tensor, pairs: torch.Tensor, group: int, dist: Dist
):
    """The `group1` partners of every unit from this rank's frame pairs and every other rank's."""
    t0 = time.perf_counter()
    frames = pairs.flatten().unique()
    beat, matched = Heartbeat("train"), []
    for i in range(0, len(frames), BATCH):
        beat.tick(lambda i=i: f"group1: matched {i} of {len(frames)} paired frames")
        matched.append(enc.match(pixels[frames[i : i + BATCH]].to(dist.device)).amax(dim=(2, 3)).cpu())
    best = torch.cat(matched)
    at = torch.searchsorted(frames, pairs)
    parts = dist.gather(coherence.lagged_sums(best[at[:, 0]], best[at[:, 1]]))
    out = coherence.partners(*(sum(p[i] for p in parts) for i in range(4)), group)
    log.info("group1: %d units grouped by %d frame pairs (%.1f s)", len(out), int(sum(p[0] for p in parts)),
             time.perf_counter() - t0)  # fmt: skip
    return out


def _encoder(spec: EncoderSpec, whiten, mean, centroids) -> PatchDictionary:
    enc = PatchDictionary(spec)
    enc.whiten.copy_(whiten.float())
    enc.patch_mean.copy_(mean.float())
    enc.centroids.copy_(centroids.float().cpu())
    return enc
