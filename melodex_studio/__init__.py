"""Melodex Studio: plan song sections with a structure transformer, render them with latent
diffusion, and keep every take with its full latent state."""

__version__ = "0.1.0"
