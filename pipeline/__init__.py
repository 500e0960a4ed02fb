"""Ingest: videos on any fsspec storage → WebDataset tar shards + Parquet manifest, on Ray."""
