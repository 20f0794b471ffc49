"""The procedural composer and sample-based renderer that make training data."""
