"""Inference with torch only: networks, pipelines, samplers, backends. Never touches project files."""
