"""The melodex command line."""
