"""MusicGen speed: our token loop (`engine.backends.musicgen`) against transformers' own
`generate` on the same network, and the EnCodec decode, for a few seconds of audio.

With `--folder` it loads a MusicGen folder you have on disk; without, it builds the
musicgen-small architecture (T5-base text encoder, a 24-layer 1024-wide decoder over 4
codebooks of 2048 codes, EnCodec at 32 kHz) with random weights in memory. Nothing is
downloaded. Random weights write noise, but every position costs what the real model's does,
so the timings are the real model's. Both loops sample (top-k 250) with guidance 3, so both
run the conditional and the unconditional rows. Peak memory is the process's resident set.

    .venv/bin/python benchmarks/bench_musicgen.py [--folder DIR] [--seconds 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from melodex_studio.engine.backends.musicgen import MusicGen

PROMPT = "dusty lo-fi keys, lazy swing drums, warm tape, 120 BPM, A minor"


def small_architecture() -> MusicGen:
    """musicgen-small's shapes with random weights, and a byte-level tokenizer (T5's
    sentencepiece vocabulary is a file; the prompt's length is what costs)."""
    from transformers import (
        ByT5Tokenizer,
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    text = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12,
                    num_heads=12)
    codec = EncodecConfig(sampling_rate=32000, audio_channels=1, num_filters=64,
                          upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, hidden_size=128,
                          num_lstm_layers=2, target_bandwidths=[2.2], use_causal_conv=False,
                          norm_type="weight_norm", pad_mode="reflect", compress=2,
                          residual_kernel_size=3, last_kernel_size=7, kernel_size=7)
    decoder = MusicgenDecoderConfig(vocab_size=2048, num_codebooks=4, hidden_size=1024,
                                    num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096,
                                    max_position_embeddings=2048, pad_token_id=2048,
                                    decoder_start_token_id=2048, bos_token_id=2048)
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict()))
    generation = model.generation_config
    generation.do_sample, generation.top_k, generation.guidance_scale = True, 250, 3.0
    generation.max_length = 1500
    return MusicGen(model, ByT5Tokenizer(model_max_length=256))


def timed(fn):
    began = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=None, help="a MusicGen folder on disk")
    parser.add_argument("--seconds", type=float, default=4.0, help="audio to write")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, load_s = timed(lambda: MusicGen.from_folder(args.folder, args.device)
                          if args.folder else small_architecture())
    what = str(args.folder) if args.folder else "musicgen-small architecture, random weights"
    frames = round(args.seconds * model.frame_rate)
    parameters = sum(p.numel() for p in model.model.decoder.parameters()) / 1e6
    with torch.inference_mode():
        cond, text_s = timed(lambda: model.condition(PROMPT))
        result, ours_s = timed(lambda: model.render(cond, frames, seed=0, steps=16))
        audio, decode_s = timed(lambda: model.decode(result.final_latent))
        inputs = model.tokenizer([PROMPT], return_tensors="pt").to(model.device)
        _, stock_s = timed(lambda: model.model.generate(
            **inputs, do_sample=True, top_k=model.top_k or 250, guidance_scale=3.0,
            max_new_tokens=frames + max(model.delays)))
    seconds = frames / model.frame_rate
    print(f"\nMusicGen benchmark: {what}; decoder {parameters:.0f} M parameters, "
          f"{model.codebooks} codebooks; {seconds:.1f} s of audio ({frames} frames, "
          f"{frames + max(model.delays)} decoder positions, guidance 3: two rows each), "
          f"{args.threads} threads, {args.device}; loaded in {load_s:.1f} s")
    print(f"{'stage':<34}{'s':>8}{'s per audio s':>15}{'ms per position':>17}")
    rows = [("prompt (T5)", text_s, None),
            ("tokens: our loop (16 checkpoints)", ours_s, frames + max(model.delays)),
            ("tokens: transformers' generate", stock_s, frames + max(model.delays)),
            ("decode (EnCodec)", decode_s, None)]
    for name, took, positions in rows:
        per = f"{took / positions * 1000:.1f}" if positions else "-"
        print(f"{name:<34}{took:>8.2f}{took / seconds:>15.2f}{per:>17}")
    total = text_s + ours_s + decode_s
    print(f"{'total with our loop':<34}{total:>8.2f}{total / seconds:>15.2f}")
    print(f"audio {tuple(audio.shape)}; process peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
