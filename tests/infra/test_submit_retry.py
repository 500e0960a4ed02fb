"""`unitscope submit` to a Ray head that is still starting: connection refused, then 503s or "No available
agent to submit job" while the job agent registers. Submit retries with backoff and a progress line, and the
job is submitted once; past --wait-for-cluster it gives up with one clear line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, cli_env
from tests.infra.local_cluster import LocalCluster


@pytest.mark.slow
def test_submit_at_once_to_a_starting_head_retries_until_it_is_submitted(tmp_path):
    cluster = LocalCluster()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "unitscope", "submit", "--address", cluster.dashboard_url,
             "--working-dir", str(tmp_path), "--no-wait", "--wait-for-cluster", "150",
             "--", "synth", "out", "--videos", "1"],
            env=cli_env(**cluster.client_env()), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        time.sleep(1.0)  # it has met a refused connection by now
        cluster.start_head(num_cpus=1, wait=False)
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        tries = re.findall(r"submit: cluster not ready \((.*)\); try (\d+) in", err)
        assert tries and "cannot reach the Ray dashboard" in tries[0][0], err
        assert "Traceback" not in err
        job_id = out.strip().splitlines()[-1]
        assert job_id.startswith("unitscope-synth-")
        jobs = json.loads(cluster._get("/api/jobs/") or b"[]")
        assert [j["submission_id"] for j in jobs] == [job_id]  # submitted once, retries included
    finally:
        cluster.stop()
