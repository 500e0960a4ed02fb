"""unitscope: unsupervised feature learning on video and the search for the concept units that emerge in it.

The stages install as subpackages of this one (`unitscope.pipeline`, `unitscope.train`, `unitscope.probe`,
`unitscope.infra`) from the repository's top-level folders, so a user's own `pipeline.py` or `train.py`
never shadows them, even in a Ray worker that puts the user's folder first on `sys.path`.
"""


def __getattr__(name: str) -> str:
    if name == "__version__":  # looked up when asked: importlib.metadata costs every command ~0.1 s
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("unitscope")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(name)
