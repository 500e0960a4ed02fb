#!/usr/bin/env bash
# The GPU check of the "emergence" issue, as one command for the lent GPU machine (no Ray, PyAV, FAISS or
# pydantic there; see ../shared/gpu/README.md). It trains `--profile gpu` (temporal conv4, width 128,
# batch 256, 12k steps, 14 loader workers) on the 128-clip planted corpus, scores the best unit (chosen on
# one half of the held-out videos, scored on the other, both ways), the same architecture with random
# weights and the linear probe (tests/bench/train_quality.py), prints that JSON and leaves under $OUT:
# result.json, metrics.jsonl and a bf16 copy of the encoder (float32 at width 128 is ~19 MB, over the
# 16 MiB a returned file may hold).
#
# Here, once:   python tests/bench/train_quality.py --out /tmp/tq --train-videos 128 --steps 1  (builds both
#               corpora), then ../shared/gpu/make-bundle.sh /tmp/tq/train128-ds /tmp/tq/test32x10-ds
# There:        <the line make-bundle.sh prints> bash tests/bench/gpu_emergence.sh
# CPU smoke:    DATA=/tmp/tq TRAIN_VIDEOS=32 STEPS=4 EXTRA="--set width=8 --set batch_size=8
#               --set loader_workers=1" OUT=/tmp/gpu-out bash tests/bench/gpu_emergence.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${DATA:-.gpu/data}
out=${OUT:?set OUT to the folder for the results}
mkdir -p "$out"
# 12k steps at 47-69k images/s is 1.5-2.5 min; the time box leaves room for start-up and scoring
# (the whole call must fit in 8 minutes of device time).
timeout "${TRAIN_TIMEOUT:-420}" python3 tests/bench/train_quality.py --out "$data" \
  --train-videos "${TRAIN_VIDEOS:-128}" --steps "${STEPS:-12000}" --random-seeds 2 --tag gpu-profile \
  --set profile=gpu ${EXTRA:-} | tee "$out/result.json"
run=$(ls -d "$data"/run-gpu-profile*/ | head -n 1)
cp "$run/metrics.jsonl" "$run/encoder.json" "$out/"
python3 - "$run" "$out" <<'PY'
import sys, torch
state = torch.load(f"{sys.argv[1]}/encoder.pt", map_location="cpu", weights_only=True)
torch.save({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()},
           f"{sys.argv[2]}/encoder-bf16.pt")
PY
