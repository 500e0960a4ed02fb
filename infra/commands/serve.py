"""`unitscope serve RUN`: the query API and gallery over HTTP (binds 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
import gc
import logging

from pydantic import BaseModel, ConfigDict, Field
from unitscope.infra.api_schema import MAX_UPLOAD_BYTES
from unitscope.infra.options import build_config

log = logging.getLogger(__name__)


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: str
    dataset: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_upload_bytes: int = Field(MAX_UPLOAD_BYTES, ge=1024)
    access_log: bool = True
    threads: int = Field(1, ge=1, description="torch / FAISS threads of each image-query stage")
    nprobe: int | None = Field(None, ge=1, description="IVF lists searched per query (default: the index's)")
    label: str | None = Field(None, min_length=1, max_length=200, description="the run's name in answers")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the query API and HTML gallery of a probed run",
        description="Serve the queries of `unitscope query` over HTTP (JSON API, schema at /openapi.json) "
        "with an HTML gallery at /; binds 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("run", metavar="RUN", help="run directory (fsspec URL) that `unitscope probe` wrote into")
    p.add_argument(
        "--host", default=None, help="address to bind (default 127.0.0.1; 0.0.0.0 = every interface)"
    )
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument(
        "--dataset", default=None, help="dataset URL, if it moved since the probe (default: probe.json)"
    )
    p.add_argument(
        "--config", default=None, metavar="FILE", help="YAML or JSON config; flags given override it"
    )
    p.add_argument(
        "--label", default=None,
        help="the name the server gives the run in its answers (default: the run directory's name); "
        "answers never say where the run is stored",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=int, default=None,
        help="threads of each image-query stage, encoder (torch) and index search (FAISS); default 1: "
        "the two stages run at once and already fill two cores",
    )  # fmt: skip
    p.add_argument(
        "--nprobe", type=int, default=None,
        help="lists an approximate (IVF) frame index searches per query: more is slower and finds more "
        "of the exact neighbours (default: the one the probe chose, see probe.json)",
    )  # fmt: skip
    p.add_argument(
        "--no-access-log", dest="access_log", action="store_const", const=False, default=None,
        help="do not log every request",
    )  # fmt: skip
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import torch
    import uvicorn
    from unitscope.infra.server import create_app

    cfg = build_config(ServeConfig, args)
    # Image queries go through a two-stage pipeline (encoder, then index search), one batch per stage
    # at a time: with one thread each the two stages already fill two cores (tests/bench/query_server.py).
    torch.set_num_threads(cfg.threads)
    app = create_app(
        cfg.run,
        cfg.dataset,
        max_upload_bytes=cfg.max_upload_bytes,
        threads=cfg.threads,
        label=cfg.label,
        nprobe=cfg.nprobe,
    )
    # The run's tables and indexes live as long as the server: keep them out of every garbage collection
    # (which otherwise walks them over and over while requests allocate; ~10% of the CPU under load).
    gc.freeze()
    log.info("serving %s on http://%s:%d (docs at /docs)", cfg.run, cfg.host, cfg.port)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="info", access_log=cfg.access_log)
    return 0
