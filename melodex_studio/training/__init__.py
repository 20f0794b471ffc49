"""Corpus generation, datasets, training loops and evaluation that write models/."""
