"""A MusicGen folder laid out as transformers saves one, with tiny random networks and a
byte-level tokenizer: what the backend and worker tests load instead of the real weights."""

from __future__ import annotations

from pathlib import Path

import torch


def write_tiny_musicgen(path: Path, codebooks: int = 4, stereo: bool = False,
                        sample_rate: int = 8000, codebook_size: int = 16,
                        do_sample: bool = True) -> Path:
    """Write the folder at `path` (made if missing) and return it: EnCodec at `sample_rate`
    with a hop of 80 samples (100 frames a second), `codebooks` codebooks of `codebook_size`
    codes (interleaved left/right when `stereo`)."""
    from transformers import (
        ByT5Tokenizer,
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    per_channel = codebooks // 2 if stereo else codebooks
    frame_rate = sample_rate // 80
    bits = codebook_size.bit_length() - 1
    text = T5Config(vocab_size=384, d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2)
    codec = EncodecConfig(
        sampling_rate=sample_rate, audio_channels=1, num_filters=4, num_residual_layers=1,
        upsampling_ratios=[10, 8], codebook_size=codebook_size, codebook_dim=8, hidden_size=8,
        num_lstm_layers=1, target_bandwidths=[per_channel * bits * frame_rate / 1000],
        use_causal_conv=False, norm_type="weight_norm")
    decoder = MusicgenDecoderConfig(
        vocab_size=codebook_size, num_codebooks=codebooks, hidden_size=16, num_hidden_layers=2,
        num_attention_heads=2, ffn_dim=32, max_position_embeddings=1024,
        audio_channels=2 if stereo else 1, initializer_factor=0.3, pad_token_id=codebook_size,
        decoder_start_token_id=codebook_size, bos_token_id=codebook_size)
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(),
                            decoder=decoder.to_dict())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = MusicgenForConditionalGeneration(config).eval()
        for layer in model.audio_encoder.quantizer.layers:  # trained codebooks, not zeros
            layer.codebook.embed.normal_()
    generation = model.generation_config
    generation.do_sample, generation.guidance_scale, generation.max_length = do_sample, 3.0, 500
    generation.top_k = 8 if do_sample else None
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    ByT5Tokenizer(model_max_length=64).save_pretrained(path)
    return path
