"""Diffusion policies: DDPM, DDIM and flow matching over action chunks (``agent=diffusion``)."""

from agents.diffusion.config import DiffusionConfig

__all__ = ["DiffusionConfig"]
