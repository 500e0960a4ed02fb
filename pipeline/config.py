"""The ingest stage's typed configuration (flags < config file < defaults, validated with fix-it messages)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class IngestConfig(BaseModel):
    """What `unitscope ingest SRC OUT` does; every field is also a `--flag` or a config-file key."""

    model_config = ConfigDict(extra="forbid")

    src: str = Field(description="folder (recursive), glob, or text file of video URIs; any fsspec URL")
    out: str = Field(description="dataset directory to write; any fsspec URL")
    fps: float = Field(1.0, ge=0, description="frames kept per second of video; 0 keeps every frame")
    size: int = Field(
        128, ge=8, le=4096, description="output frames are size x size (short side, center crop)"
    )
    max_frames: int | None = Field(None, ge=1, description="at most this many frames per video")
    keyframes_only: bool = Field(False, description="decode keyframes only (fast; indices from timestamps)")
    shard_frames: int = Field(1000, ge=1, description="target frames per shard")
    shard_bytes: int = Field(256 * 2**20, ge=2**16, description="target bytes per shard")
    jpeg_quality: int = Field(3, ge=2, le=31, description="FFmpeg MJPEG qscale: 2 best .. 31 smallest")
    workers: int | None = Field(None, ge=0, description="Ray tasks at once (default: CPUs); 0 = in-process")
    threads: int = Field(
        0, ge=0, description="decoder threads (and CPUs reserved) per Ray task; 0 = 1, in-process all CPUs"
    )
    labels: str | None = Field(
        None,
        description="CSV of clip-level tags, columns video,tags (tags split by ';'); every frame of a "
        "tagged video carries its tags",
    )
    max_retries: int = Field(2, ge=0, description="retries of a shard task whose worker died")
    address: str | None = Field(None, description="Ray cluster address (default: $RAY_ADDRESS or local Ray)")
    progress: bool = Field(True, description="print progress to stderr while running")
    verify: bool = Field(
        False, description="also compare each committed shard's SHA-256 with the manifest (reads them all)"
    )

    @field_validator("src", "out")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty: give a local path or an fsspec URL such as s3://bucket/dir")
        return v.strip()

    def decode_settings(self) -> dict:
        """The settings that decide which frames and bytes a shard holds (a resumed job must match them)."""
        tags = {"labels": self.labels} if self.labels else {}  # absent without: older plans still match
        return tags | {
            "fps": self.fps,
            "size": self.size,
            "max_frames": self.max_frames,
            "keyframes_only": self.keyframes_only,
            "jpeg_quality": self.jpeg_quality,
            "shard_frames": self.shard_frames,
            "shard_bytes": self.shard_bytes,
        }
