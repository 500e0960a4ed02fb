"""Train: a distributed unsupervised encoder (Ray Train + PyTorch) that streams the dataset's shards."""
