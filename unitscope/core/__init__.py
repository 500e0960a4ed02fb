"""Plumbing every stage shares: errors, storage writes, Ray start-up and memory tuning."""
