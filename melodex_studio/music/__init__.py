"""Time and theory: the tempo grid, keys, scales, chords, meters and plan tokens. Pure Python."""
