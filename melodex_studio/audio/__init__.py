"""Playback transport, mixer, take swapping, export and loudness. No Qt, no torch."""
