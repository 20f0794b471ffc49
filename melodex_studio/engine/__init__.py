"""Inference with torch only: networks, pipelines, samplers, backends; no project files."""
