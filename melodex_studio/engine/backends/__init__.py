"""Model backends: the built-in model and large open models from local folders."""
