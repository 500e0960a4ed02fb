"""The planted-concept corpus: procedural clips with cluttered moving backgrounds, planted concepts and
distractors, and per-frame label sidecars (`unitscope synth`)."""

from unitscope.pipeline.synth.config import SynthConfig
from unitscope.pipeline.synth.corpus import SynthResult, run

__all__ = ["SynthConfig", "SynthResult", "run"]
