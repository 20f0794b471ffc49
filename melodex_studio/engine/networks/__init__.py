"""One network architecture per module."""
