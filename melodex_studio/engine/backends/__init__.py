"""Model backends: the built-in model and large open models from local folders
(`stable_audio`: Stable Audio Open through diffusers' components)."""
