"""The operating layer: the `unitscope` CLI, the Ray runtime, job submission, images and configs."""
