"""Evaluate a codec on held-out audio against a Griffin-Lim baseline from the same log-mel.

Three reconstructions of every clip are scored against the original with log-mel L1 and the
multi-resolution STFT distance (64 ... 2048-sample windows):

* ``griffin_lim``: mel -> linear magnitude by non-negative least squares -> 32 iterations of fast
  Griffin-Lim (librosa, momentum 0.99, seeded);
* ``vocoder``: our vocoder from the same true log-mel;
* ``round_trip``: encode -> latent -> decode -> vocoder, the path the studio actually uses.

Targets of the issue: the vocoder beats Griffin-Lim by >= 30 % on both distances, the round trip
stays within 1.5x the vocoder alone, and decoding runs >= 100x real time on 2 CPU threads.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from melodex_studio.engine.codec import Codec
from melodex_studio.engine.mel import MelConfig
from melodex_studio.training.codec_data import audio_of, to_mono
from melodex_studio.training.codec_losses import STFT_RESOLUTIONS, multi_resolution_stft_distance

METHODS = ("griffin_lim", "vocoder", "round_trip")
GRIFFIN_LIM_ITERATIONS = 32


def griffin_lim_from_mel(log_mel: Tensor, mel: MelConfig, iterations: int = 32,
                         seed: int = 0) -> np.ndarray:
    """Audio [F * hop] from one log-mel [n_mels, F]: NNLS mel inversion + fast Griffin-Lim."""
    import librosa

    mel_energy = log_mel.exp().double().cpu().numpy()
    magnitude = librosa.feature.inverse.mel_to_stft(
        mel_energy, sr=mel.sample_rate, n_fft=mel.n_fft, power=1.0,
        fmin=mel.f_min, fmax=mel.f_max, htk=False, norm="slaney",
    )
    # Our F frames sit at sample f * hop; a centred STFT of F * hop samples has one frame more.
    magnitude = np.concatenate([magnitude, magnitude[:, -1:]], axis=1)
    audio = librosa.griffinlim(
        magnitude, n_iter=iterations, hop_length=mel.hop, n_fft=mel.n_fft, window="hann",
        center=True, length=log_mel.shape[-1] * mel.hop, momentum=0.99, random_state=seed,
    )
    return audio.astype(np.float32)


def _distances(codec: Codec, pred: Tensor, target: Tensor) -> dict[str, float]:
    length = min(pred.shape[-1], target.shape[-1])
    pred, target = pred[..., :length].reshape(1, -1), target[..., :length].reshape(1, -1)
    mel_l1 = (codec.mel(pred) - codec.mel(target)).abs().mean()
    total, per_res = multi_resolution_stft_distance(pred, target)
    row = {"mel_l1": float(mel_l1), "mrstft": float(total)}
    row.update({f"stft_{n}": float(v) for n, v in per_res.items()})
    return row


def real_time_factors(codec: Codec, seconds: float = 30.0, threads: int = 2,
                      repeats: int = 5) -> dict[str, float]:
    """How many times faster than real time encode and decode run (best of ``repeats``, after
    one untimed decode: the first builds the vocoder's cached tables and grows the heap, which
    a studio does once)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        audio = 0.1 * torch.randn(int(seconds * codec.sample_rate), generator=gen)
        latents = codec.encode(audio)
        codec.decode(latents)
        timings: dict[str, list[float]] = {"encode": [], "decode": []}
        for _ in range(repeats):
            start = time.perf_counter()
            codec.encode(audio)
            timings["encode"].append(time.perf_counter() - start)
            start = time.perf_counter()
            codec.decode(latents)
            timings["decode"].append(time.perf_counter() - start)
        return {f"{k}_x_real_time": seconds / min(v) for k, v in timings.items()}
    finally:
        torch.set_num_threads(previous)


def evaluate_codec(codec: Codec, examples: Iterable[Any], out_png_dir: Path | str | None,
                   griffin_lim_iterations: int = GRIFFIN_LIM_ITERATIONS,
                   speed_seconds: float = 30.0, print_table: bool = True) -> dict[str, Any]:
    """Score ``codec`` on ``examples`` (clips or dicts with ``audio``); write spectrogram PNGs."""
    codec = codec.eval()
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    first: dict[str, Tensor] = {}
    for index, item in enumerate(examples):
        audio = torch.from_numpy(to_mono(audio_of(item)))
        frames = codec.latent_frames_for(audio.numel())
        padded = torch.nn.functional.pad(audio, (0, frames * codec.samples_per_latent_frame
                                                 - audio.numel()))
        mel = codec.mel(padded)
        outputs = {
            "griffin_lim": torch.from_numpy(
                griffin_lim_from_mel(mel[0], codec.config.mel, griffin_lim_iterations, index)
            ),
            "vocoder": codec.decode_mel(mel)[0],
            "round_trip": codec.decode(codec.encode(padded))[0],
        }
        for method, output in outputs.items():
            rows[method].append(_distances(codec, output.cpu(), audio))
        if not first:
            first = {"original": audio, **outputs}
    if not first:
        raise ValueError("evaluate_codec needs at least one example")
    means = {m: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for m, rs in rows.items()}
    speed = real_time_factors(codec, seconds=speed_seconds)
    result = _summarise(means, speed, len(rows["vocoder"]))
    if out_png_dir is not None:
        result["pngs"] = _write_pngs(codec, first, Path(out_png_dir))
    if print_table:
        print(result["table"])
    return result


def _summarise(means: dict[str, dict[str, float]], speed: dict[str, float],
               count: int) -> dict[str, Any]:
    gl, voc, rt = means["griffin_lim"], means["vocoder"], means["round_trip"]
    gain = {k: 1.0 - voc[k] / gl[k] for k in ("mel_l1", "mrstft")}
    ratio = {k: rt[k] / voc[k] for k in ("mel_l1", "mrstft")}
    targets = {
        "vocoder_beats_griffin_lim_by_30pct": all(v >= 0.30 for v in gain.values()),
        "round_trip_within_1_5x_vocoder": all(v <= 1.5 for v in ratio.values()),
        "decode_100x_real_time_2_threads": speed["decode_x_real_time"] >= 100.0,
    }
    columns = ["mel_l1", "mrstft", *(f"stft_{n}" for n in STFT_RESOLUTIONS)]
    lines = [f"codec evaluation on {count} held-out clips (lower is better)",
             f"{'method':<12}" + "".join(f"{c:>10}" for c in columns)]
    for method in METHODS:
        lines.append(f"{method:<12}" + "".join(f"{means[method][c]:>10.4f}" for c in columns))
    lines.append(f"vocoder vs Griffin-Lim: mel_l1 {gain['mel_l1']:+.1%} better, "
                 f"mrstft {gain['mrstft']:+.1%} better (target >= 30%)")
    lines.append(f"round trip / vocoder: mel_l1 {ratio['mel_l1']:.2f}x, "
                 f"mrstft {ratio['mrstft']:.2f}x (target <= 1.5x)")
    lines.append(f"real time on 2 threads: encode {speed['encode_x_real_time']:.0f}x, "
                 f"decode {speed['decode_x_real_time']:.0f}x (target >= 100x)")
    lines.append("targets: " + ", ".join(f"{k}={'met' if v else 'NOT met'}"
                                         for k, v in targets.items()))
    return {"clips": count, "methods": means, "vocoder_gain_over_griffin_lim": gain,
            "round_trip_over_vocoder": ratio, "speed": speed, "targets": targets,
            "table": "\n".join(lines)}


def _write_pngs(codec: Codec, audios: dict[str, Tensor], out_dir: Path) -> list[str]:
    """Original / Griffin-Lim / round-trip log-mel images (low notes at the bottom), one scale."""
    out_dir.mkdir(parents=True, exist_ok=True)
    mels = {name: codec.mel(audios[name].reshape(1, -1))[0].numpy()[::-1]
            for name in ("original", "griffin_lim", "round_trip")}
    width = min(m.shape[1] for m in mels.values())
    mels = {name: m[:, :width] for name, m in mels.items()}
    low = float(np.percentile(mels["original"], 1))
    high = float(mels["original"].max())
    paths = []
    for name, mel in mels.items():
        path = write_spectrogram_png(out_dir / f"spectrogram_{name}.png", mel, low, high)
        paths.append(str(path))
    gap = np.full((3, width), np.nan)
    trio = np.concatenate([mels["original"], gap, mels["griffin_lim"], gap, mels["round_trip"]])
    paths.append(str(write_spectrogram_png(out_dir / "spectrogram_trio.png", trio, low, high)))
    return paths


# A perceptually ordered dark-to-bright ramp (close to matplotlib's "magma").
_RAMP = np.array([[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109],
                  [252, 253, 191]], dtype=np.float64)


def write_spectrogram_png(path: Path, image: np.ndarray, low: float, high: float) -> Path:
    """Write a [rows, cols] array (row 0 on top) as an RGB PNG; NaN rows become white gaps.

    Written with zlib and struct only, so evaluation needs no plotting package.
    """
    scaled = np.clip((image - low) / max(high - low, 1e-9), 0.0, 1.0)
    position = np.nan_to_num(scaled, nan=0.0) * (len(_RAMP) - 1)
    index = np.minimum(position.astype(int), len(_RAMP) - 2)
    frac = (position - index)[..., None]
    rgb = _RAMP[index] * (1 - frac) + _RAMP[index + 1] * frac
    rgb[np.isnan(image)] = 255.0
    rgb = np.repeat(rgb.astype(np.uint8), 2, axis=0)  # 2 px per mel bin: easier to read
    rows = b"".join(b"\x00" + row.tobytes() for row in rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", rgb.shape[1], rgb.shape[0], 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6))
    path.write_bytes(png + chunk(b"IEND", b""))
    return path
