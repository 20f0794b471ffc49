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
from safetensors.torch import load_file

from melodex_studio.engine.codec import PLAN_ADAPTER_FILE, Codec, CodecConfig
from melodex_studio.engine.weights import (
    merge_component_config,
    read_component_config,
    save_tensors_atomic,
)
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


#: Vocoder settings that change inference only (the weights do not depend on them).
INFERENCE_SETTINGS: dict[str, type] = {
    "refine_iterations": int,  # phase-refinement steps; each costs ~3 % of decode speed
    "mel_match_rounds": int,  # rounds that pull the output's mel bands to the input
    "phase_init": str,  # "network" or "peaks" (engine.peak_phase)
    "phase_anchor_frames": int,  # restart period of the peak-locked phase
}


def parse_vocoder_settings(items: Iterable[str]) -> dict[str, Any]:
    """``["refine_iterations=8", "phase_init=peaks"]`` -> typed overrides; unknown names and
    values of the wrong type raise ValueError."""
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        kind = INFERENCE_SETTINGS.get(name.strip())
        if not sep or kind is None:
            raise ValueError(f"{item!r}: expected NAME=VALUE with NAME one of "
                             f"{', '.join(INFERENCE_SETTINGS)}")
        try:
            changes[name.strip()] = kind(value.strip())
        except ValueError:
            raise ValueError(f"{item!r}: {name} takes a {kind.__name__}") from None
    return changes


def _check_inference_only(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(INFERENCE_SETTINGS)
    if unknown:
        raise ValueError(f"not inference settings of the vocoder: {sorted(unknown)}")


def _rebuilt(codec: Codec, config: CodecConfig, adapter_from: Codec | None = None) -> Codec:
    """`codec`'s autoencoder, vocoder and latent statistics under `config`, with the plan
    adapter of `adapter_from` where `config` has one."""
    rebuilt = Codec(config)
    rebuilt.autoencoder.load_state_dict(codec.autoencoder.state_dict())
    rebuilt.vocoder.load_state_dict(codec.vocoder.state_dict())
    if rebuilt.plan_adapter is not None and adapter_from is not None \
            and adapter_from.plan_adapter is not None:
        rebuilt.plan_adapter.load_state_dict(adapter_from.plan_adapter.state_dict())
    rebuilt.set_latent_statistics(codec.latent_mean.clone(), codec.latent_std.clone())
    return rebuilt


def with_vocoder_settings(codec: Codec, **changes: Any) -> Codec:
    """The same weights with other inference settings of the vocoder (`INFERENCE_SETTINGS`)."""
    _check_inference_only(changes)
    vocoder = dataclasses.replace(codec.config.vocoder, **changes)
    return _rebuilt(codec, CodecConfig(mel=codec.config.mel, autoencoder=codec.config.autoencoder,
                                       vocoder=vocoder))


def with_plan_adapter(codec: Codec, source: Codec) -> Codec:
    """`codec` with `source`'s plan adapter (which reads the decoder's features, so it fits
    `codec` only where the two decoders are the same)."""
    config = dataclasses.replace(codec.config, plan_adapter=source.config.plan_adapter)
    return _rebuilt(codec, config, adapter_from=source)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def export_codec(run_dir: Path | str, model_dir: Path | str, data: Path | str | Iterable[Any],
                 max_clips: int | None = 64, extra: dict[str, Any] | None = None,
                 checkpoint: Path | str | None = None,
                 vocoder_settings: dict[str, Any] | None = None,
                 keep_latent_space: bool = False) -> dict[str, Any]:
    """Write ``codec_ae.safetensors``, ``vocoder.safetensors`` and config.json["codec"].

    ``checkpoint`` picks a snapshot folder instead of the run's latest checkpoint;
    ``vocoder_settings`` override the vocoder's inference settings (`INFERENCE_SETTINGS`).
    ``keep_latent_space`` replaces a decoder or vocoder only: the run's encoder must equal the
    one shipped in ``model_dir`` (else ValueError, since the renderer was trained in its latent
    space), and the shipped latent statistics are kept as they are; where the run's decoder is
    also the shipped one (a vocoder fine-tune), the shipped plan adapter is kept too.
    """
    run_dir = Path(run_dir)
    codec = load_codec_from_run(checkpoint or run_dir)
    adapter: dict[str, torch.Tensor] | None = None  # the shipped plan adapter, kept as stored
    if vocoder_settings:
        codec = with_vocoder_settings(codec, **vocoder_settings)
    if keep_latent_space:
        shipped = Codec.from_pretrained(model_dir)
        if not _same_weights(shipped.autoencoder.encoder, codec.autoencoder.encoder):
            raise ValueError(f"the encoder of {run_dir} differs from the one in {model_dir}: "
                             "its latents would not be the renderer's")
        codec.set_latent_statistics(shipped.latent_mean.clone(), shipped.latent_std.clone())
        section = read_component_config(Path(model_dir), "codec")
        measured = section["latent_statistics"]
        if shipped.plan_adapter is not None and codec.plan_adapter is None and _same_weights(
                shipped.autoencoder.decoder, codec.autoencoder.decoder):
            # A new vocoder under the same decoder: the shipped plan adapter still fits it,
            # and is kept as it was stored (float16) with its training record.
            codec = with_plan_adapter(codec, shipped)
            adapter = load_file(str(Path(model_dir) / PLAN_ADAPTER_FILE))
            if "plan_adapter_training" in section:
                extra = {**(extra or {}),
                         "plan_adapter_training": section["plan_adapter_training"]}
    else:
        clips = load_audio_pool(data, codec.sample_rate, max_clips=max_clips)
        stats = latent_statistics(codec, clips)
        codec.set_latent_statistics(torch.tensor(stats["mean"]), torch.tensor(stats["std"]))
        measured = {"posterior_sigma": stats["posterior_sigma"], "clips": len(clips),
                    "frames": stats["frames"][0]}
    fragment = codec.save_pretrained(model_dir, extra={
        "latent_statistics": measured,
        "training": _training_summary(run_dir),
        **(extra or {}),
    })
    if adapter is not None:
        path = Path(model_dir) / PLAN_ADAPTER_FILE
        sha = save_tensors_atomic(path, adapter)
        fragment["files"][PLAN_ADAPTER_FILE] = {"sha256": sha, "bytes": path.stat().st_size}
        merge_component_config(Path(model_dir), "codec", fragment)
        Codec.from_pretrained(model_dir)  # fails loudly if what was written does not load
    for name, entry in fragment["files"].items():
        if entry["bytes"] > MAX_WEIGHTS_BYTES:
            raise ValueError(f"{name} is {entry['bytes']} bytes, over the 16 MB limit per file")
    return fragment


def retune_vocoder(model_dir: Path | str, changes: dict[str, Any],
                   note: str | None = None) -> dict[str, Any]:
    """Change only the vocoder's inference settings in a model folder's config.json: the
    weights, their sha256 and the latent statistics (which the renderer was trained against)
    stay as they are. The new settings are checked before anything is written."""
    model_dir = Path(model_dir)
    section = dict(read_component_config(model_dir, "codec"))
    _check_inference_only(changes)
    section["vocoder"] = {**section["vocoder"], **changes}
    if note is not None:
        section["inference_note"] = note
    Codec(CodecConfig.from_dict(section))  # raises on a setting the vocoder cannot take
    merge_component_config(model_dir, "codec", section)
    return section
