"""A tiny codec with a plan adapter, and a plan to draw its raster from (engine and worker
tests)."""

from __future__ import annotations

import dataclasses

import torch

from melodex_studio.engine.codec import Codec, CodecConfig
from melodex_studio.engine.control_raster import control_raster
from melodex_studio.engine.networks.plan_adapter import PlanAdapterConfig
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DrumVoice, Plan, PlanBar, PlanNote
from melodex_studio.music.tempo import TempoGrid


def adapted_codec(seed: int = 3, trained: bool = True) -> Codec:
    """A tiny codec with an adapter; `trained` replaces the zero-initialised output layers
    with random ones, as training would, so the adapter actually changes the decode."""
    config = dataclasses.replace(CodecConfig.tiny(),
                                 plan_adapter=PlanAdapterConfig(width=8, kernel_size=9))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codec = Codec(config)
        assert codec.plan_adapter is not None
        if trained:
            for layer in (*codec.plan_adapter.inject, codec.plan_adapter.head[-1]):
                torch.nn.init.normal_(layer.weight, std=0.3)
    return codec


def raster_plan() -> Plan:
    """Four bars of C - Am - F - G in C major with kick, snare, bass and melody."""
    def bar(chord: str, root: int) -> PlanBar:
        return PlanBar(chord=chord, energy=0.7, density=0.5,
                       drums=(int(DrumVoice.KICK),) + (0,) * 7 + (int(DrumVoice.SNARE),) + (0,) * 7,
                       bass=(PlanNote(step=0, length=8, degree=root),),
                       melody=(PlanNote(step=4, length=4, degree=root + 2),))

    return Plan(steps_per_bar=16, bars=(bar("C", 0), bar("Am", 5), bar("F", 3), bar("G", 4)))


def raster(frames: int) -> torch.Tensor:
    """`raster_plan` at 120 BPM over `frames` latent frames."""
    grid = TempoGrid(120.0, Meter.parse("4/4"), 24000)
    return control_raster(raster_plan(), Key.parse("C major"), grid, frames, 24000 / 1024)
