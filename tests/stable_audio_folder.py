"""A Stable Audio Open folder laid out as diffusers writes one, with tiny random networks and
a byte-level tokenizer: what the backend and worker tests load instead of the real weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def write_tiny_stable_audio(path: Path, sample_rate: int = 16,
                            downsampling: tuple[int, ...] = (1, 2)) -> Path:
    """Write the folder at `path` (made if missing) and return it. The VAE's hop is the
    product of `downsampling`."""
    from diffusers import AutoencoderOobleck, StableAudioDiTModel
    from diffusers.pipelines.stable_audio import StableAudioProjectionModel
    from transformers import ByT5Tokenizer, T5Config, T5EncoderModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        parts = {
            "transformer": StableAudioDiTModel(
                sample_size=4, in_channels=3, num_layers=2, attention_head_dim=4,
                num_key_value_attention_heads=2, out_channels=3, cross_attention_dim=4,
                time_proj_dim=8, global_states_input_dim=8, cross_attention_input_dim=4),
            "vae": AutoencoderOobleck(
                encoder_hidden_size=6, downsampling_ratios=list(downsampling),
                decoder_channels=3, decoder_input_channels=3, audio_channels=2,
                channel_multiples=[2 * (i + 1) for i in range(len(downsampling))],
                sampling_rate=sample_rate),
            "text_encoder": T5EncoderModel(T5Config(vocab_size=384, d_model=8, d_kv=4, d_ff=16,
                                                    num_layers=1, num_heads=2)),
            "projection_model": StableAudioProjectionModel(
                text_encoder_dim=8, conditioning_dim=4, min_value=0, max_value=64),
            "tokenizer": ByT5Tokenizer(model_max_length=32),
        }
    path.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part.save_pretrained(path / name)
    (path / "scheduler").mkdir(exist_ok=True)
    (path / "scheduler" / "scheduler_config.json").write_text(json.dumps({
        "_class_name": "CosineDPMSolverMultistepScheduler", "sigma_min": 0.3,
        "sigma_max": 500.0, "sigma_data": 1.0, "sigma_schedule": "exponential",
        "prediction_type": "v_prediction", "solver_order": 2}))
    (path / "model_index.json").write_text(json.dumps({"_class_name": "StableAudioPipeline"}))
    return path
