"""What one unit wants and what it ignores: its optimal stimulus, its invariance curves, one page."""
