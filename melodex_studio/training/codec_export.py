"""Turn a codec training run into shipped weights: measure latent statistics, write models/<name>/.

The renderer trains on normalised latents, so the per-channel mean/std measured here on corpus audio
are part of the model: they go into config.json next to the sha256 of each weight file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from melodex_studio.engine.codec import Codec, CodecConfig
from melodex_studio.training.codec_data import load_audio_pool
from melodex_studio.training.codec_runs import load_codec_from_run

MAX_WEIGHTS_BYTES = 16 * 1024 * 1024


@torch.inference_mode()
def latent_statistics(codec: Codec, clips: list[torch.Tensor]) -> dict[str, list[float]]:
    """Per-channel mean/std of the raw posterior mean and the mean posterior sigma, over clips."""
    means, sigmas = [], []
    for clip in clips:
        frames = codec.latent_frames_for(clip.numel())
        padded = torch.nn.functional.pad(clip, (0, frames * codec.samples_per_latent_frame
                                                - clip.numel()))
        mean, logvar = codec.autoencoder.encoder(codec.mel(padded))
        means.append(mean[0])
        sigmas.append((0.5 * logvar[0]).exp())
    latent = torch.cat(means, dim=-1)
    sigma = torch.cat(sigmas, dim=-1)
    return {
        "mean": latent.mean(dim=-1).tolist(),
        "std": latent.std(dim=-1).clamp_min(1e-6).tolist(),
        "posterior_sigma": sigma.mean(dim=-1).tolist(),
        "frames": [int(latent.shape[-1])],
    }


def _training_summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "training_log.json"
    if not path.exists():
        return {}
    log = json.loads(path.read_text(encoding="utf-8"))
    sessions = log.get("sessions", [])
    steps: dict[str, int] = {}
    for session in sessions:
        steps[session["stage"]] = max(steps.get(session["stage"], 0), session["end_step"])
    devices = sorted({s["device"] for s in sessions})
    return {"steps": steps, "seconds_per_stage": log.get("seconds_per_stage", {}),
            "devices": devices, "sessions": len(sessions)}


def with_vocoder_settings(codec: Codec, **changes: int) -> Codec:
    """The same weights with other inference settings of the vocoder: ``refine_iterations``
    (phase-refinement steps) or ``mel_match_rounds`` (rounds that pull the output's mel bands
    to the input). Each step or round costs a few % of decode speed."""
    vocoder = dataclasses.replace(codec.config.vocoder, **changes)
    config = CodecConfig(mel=codec.config.mel, autoencoder=codec.config.autoencoder,
                         vocoder=vocoder)
    rebuilt = Codec(config)
    rebuilt.autoencoder.load_state_dict(codec.autoencoder.state_dict())
    rebuilt.vocoder.load_state_dict(codec.vocoder.state_dict())
    rebuilt.set_latent_statistics(codec.latent_mean.clone(), codec.latent_std.clone())
    return rebuilt


def export_codec(run_dir: Path | str, model_dir: Path | str, data: Path | str | Iterable[Any],
                 max_clips: int | None = 64, extra: dict[str, Any] | None = None,
                 checkpoint: Path | str | None = None,
                 refine_iterations: int | None = None,
                 mel_match_rounds: int | None = None) -> dict[str, Any]:
    """Write ``codec_ae.safetensors``, ``vocoder.safetensors`` and config.json["codec"].

    ``checkpoint`` picks a snapshot folder instead of the run's latest checkpoint;
    ``refine_iterations`` and ``mel_match_rounds`` override the vocoder's inference settings.
    """
    run_dir = Path(run_dir)
    codec = load_codec_from_run(checkpoint or run_dir)
    if refine_iterations is not None:
        codec = with_vocoder_settings(codec, refine_iterations=refine_iterations)
    if mel_match_rounds is not None:
        codec = with_vocoder_settings(codec, mel_match_rounds=mel_match_rounds)
    clips = load_audio_pool(data, codec.sample_rate, max_clips=max_clips)
    stats = latent_statistics(codec, clips)
    codec.set_latent_statistics(torch.tensor(stats["mean"]), torch.tensor(stats["std"]))
    fragment = codec.save_pretrained(model_dir, extra={
        "latent_statistics": {"posterior_sigma": stats["posterior_sigma"],
                              "clips": len(clips), "frames": stats["frames"][0]},
        "training": _training_summary(run_dir),
        **(extra or {}),
    })
    for name, entry in fragment["files"].items():
        if entry["bytes"] > MAX_WEIGHTS_BYTES:
            raise ValueError(f"{name} is {entry['bytes']} bytes, over the 16 MB limit per file")
    return fragment
