"""Probe: unit activations, FAISS unit search against concepts, controls, catalogue and report."""
