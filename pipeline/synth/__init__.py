"""The planted-concept corpus: procedural clips with cluttered moving backgrounds, planted concepts and
distractors, and per-frame label sidecars (`unitscope synth`)."""

from pipeline.synth.config import SynthConfig
from pipeline.synth.corpus import SynthResult, run

__all__ = ["SynthConfig", "SynthResult", "run"]
