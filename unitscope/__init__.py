"""unitscope: unsupervised feature learning on video and the search for the concept units that emerge in it.

The stages install as subpackages of this one (`unitscope.pipeline`, `unitscope.train`, `unitscope.probe`,
`unitscope.infra`) from the repository's top-level folders, so a user's own `pipeline.py` or `train.py`
never shadows them, even in a Ray worker that puts the user's folder first on `sys.path`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unitscope")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
