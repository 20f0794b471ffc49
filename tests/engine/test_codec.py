"""Codec geometry, determinism, windowed decoding and the log-mel front end (tiny weights)."""

from __future__ import annotations

import math
import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch

from melodex_studio.engine.codec import Codec, CodecConfig
from melodex_studio.engine.mel import LogMel, MelConfig, mel_filterbank

SPF = 1024  # samples per latent frame: hop 256 x 4


def chord(seconds: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * 24000)) / 24000
    freqs = 110 * 2 ** (torch.randint(0, 24, (3,), generator=gen) / 12)
    return sum(0.2 * torch.sin(2 * math.pi * f * t) for f in freqs) * torch.exp(-3 * (t % 0.5))


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec.tiny_random(seed=1)


def test_mel_frames_follow_hop_convention() -> None:
    frontend = LogMel(MelConfig(n_mels=40))
    for n in (256, 1000, 5000, 24000):
        mel = frontend(torch.zeros(n) + 0.01 * torch.randn(n))
        assert mel.shape == (1, 40, math.ceil(n / 256))
        assert mel.dtype == torch.float32
    batch = frontend(torch.randn(3, 4096))
    assert batch.shape == (3, 40, 16)
    # Silence hits the log floor exactly, not -inf.
    assert torch.allclose(frontend(torch.zeros(2048)), torch.full((1, 40, 8), math.log(1e-5)))


def test_mel_is_deterministic_and_batch_independent() -> None:
    frontend = LogMel()
    audio = torch.randn(2, 8192)
    together = frontend(audio)
    assert torch.equal(together, frontend(audio))
    assert torch.allclose(together[1], frontend(audio[1])[0], atol=1e-5)


def test_filterbank_matches_librosa_slaney() -> None:
    librosa = pytest.importorskip("librosa")
    config = MelConfig()
    expected = librosa.filters.mel(sr=24000, n_fft=1024, n_mels=100, fmin=0.0, fmax=12000.0,
                                   htk=False, norm="slaney", dtype=np.float64)
    np.testing.assert_allclose(mel_filterbank(config), expected, rtol=1e-6, atol=1e-10)


def test_mel_peak_lands_in_the_right_band() -> None:
    frontend = LogMel()
    filters = mel_filterbank(frontend.config)
    tone = torch.sin(2 * math.pi * 2000.0 * torch.arange(24000) / 24000)
    peak_bin = int(frontend(tone)[0, :, 20].argmax())
    # 2 kHz falls between two overlapping filters: the peak is one of them, never far away.
    assert abs(peak_bin - int(filters[:, round(2000 / (24000 / 1024))].argmax())) <= 1


def test_encode_decode_shapes_and_lengths(codec: Codec) -> None:
    for n in (1024, 5000, 3 * 24000):
        frames = math.ceil(n / SPF)
        latents = codec.encode(chord(n / 24000)[:n])
        assert latents.shape == (1, 16, frames)
        assert latents.dtype == torch.float32
        audio = codec.decode(latents)
        assert audio.shape == (1, frames * SPF)
        assert audio.dtype == torch.float32
        assert torch.isfinite(audio).all()
    batch = codec.encode(torch.stack([chord(1.0, 0), chord(1.0, 1)]))
    assert batch.shape == (2, 16, 24)
    assert codec.decode(batch).shape == (2, 24 * SPF)
    assert codec.decode_to_mel(batch).shape == (2, 32, 96)
    assert codec.decode_mel(codec.mel(chord(1.0))).shape == (1, 94 * 256)
    assert codec.samples_per_latent_frame == SPF
    assert codec.config.latent_frame_rate == pytest.approx(23.4375)


def test_encode_pads_with_zeros_to_whole_frames(codec: Codec) -> None:
    audio = chord(1.0)[:5000]
    padded = torch.nn.functional.pad(audio, (0, 5 * SPF - 5000))
    assert torch.equal(codec.encode(audio), codec.encode(padded))


def test_rejects_wrong_shapes(codec: Codec) -> None:
    with pytest.raises(ValueError, match="latents"):
        codec.decode(torch.zeros(1, 8, 4))
    with pytest.raises(ValueError, match="mono"):
        codec.encode(torch.zeros(1, 2, 2048))
    with pytest.raises(ValueError, match="window"):
        codec.decode_window(torch.zeros(1, 16, 4), 3, 6)


def test_same_seed_same_weights_and_outputs() -> None:
    a, b, c = Codec.tiny_random(7), Codec.tiny_random(7), Codec.tiny_random(8)
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(ta, tb), name
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                      c.state_dict().values(), strict=True))
    audio = chord(1.0)
    assert torch.equal(a.encode(audio), b.encode(audio))
    latents = a.encode(audio)
    assert torch.equal(a.decode(latents), b.decode(latents))
    # Building a codec must not disturb the global RNG stream.
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    Codec.tiny_random(5)
    assert torch.equal(torch.rand(3), expected)


def test_latent_normalisation_round_trips(codec: Codec) -> None:
    codec = Codec.tiny_random(1)
    audio = chord(2.0)
    raw = codec.encode(audio, normalize=False)
    mean, std = torch.linspace(-1, 1, 16), torch.linspace(0.5, 2.0, 16)
    codec.set_latent_statistics(mean, std)
    normalised = codec.encode(audio)
    assert torch.allclose(normalised, (raw - mean[:, None]) / std[:, None], atol=1e-6)
    # (Mel, not audio: the vocoder's peak-locked phase turns 1e-6 input rounding into 1e-4.)
    unnormalised = codec.decode_to_mel(raw, normalize=False)
    assert torch.allclose(codec.decode_to_mel(normalised), unnormalised, atol=1e-5)
    with pytest.raises(ValueError):
        codec.set_latent_statistics(mean, -std)


def test_decode_window_stitches_to_full_decode(codec: Codec) -> None:
    gen = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 16, 40, generator=gen)
    full = codec.decode(latents)
    edges = [0, 7, 15, 16, 29, 40]
    pieces = [codec.decode_window(latents, a, b) for a, b in pairwise(edges)]
    stitched = torch.cat(pieces, dim=-1)
    assert stitched.shape == full.shape
    assert (stitched - full).abs().max() < 1e-4 * full.abs().max()
    # Without context the seams differ: the overlap is what makes windows exact.
    bare = torch.cat([codec.decode_window(latents, a, b, overlap_frames=0)
                      for a, b in pairwise(edges)], dim=-1)
    assert (bare - full).abs().max() > 1e-3 * full.abs().max()


def test_context_frames_bound_the_receptive_field(codec: Codec) -> None:
    gen = torch.Generator().manual_seed(2)
    latents = torch.randn(1, 16, 80, generator=gen)
    nudged = latents.clone()
    nudged[..., 40] += 1.0
    diff = (codec.decode(nudged) - codec.decode(latents)).abs()[0]
    changed = torch.nonzero(diff > 1e-6).flatten()
    assert changed.numel() > 0
    reach = codec.context_frames * SPF
    assert changed.min() >= 40 * SPF - reach
    assert changed.max() < 41 * SPF + reach


def test_no_torch_load_in_the_package() -> None:
    root = Path(__file__).resolve().parents[2] / "melodex_studio"
    pattern = re.compile(
        r"torch\.load\s*\(|^\s*(import|from)\s+c?pickle\b|allow_pickle\s*=\s*True", re.MULTILINE
    )
    offenders = [str(p) for p in root.rglob("*.py") if pattern.search(p.read_text("utf-8"))]
    assert offenders == []


def test_full_size_config_fits_the_weight_budget() -> None:
    codec = Codec(CodecConfig())
    for module in (codec.autoencoder, codec.vocoder):
        assert sum(p.numel() for p in module.parameters()) * 4 < 16 * 1024 * 1024
    assert codec.config.autoencoder.latent_channels == 16
    assert codec.samples_per_latent_frame == SPF


def test_mel_match_rounds_pull_the_output_towards_the_input_mel() -> None:
    import dataclasses

    from melodex_studio.engine.networks.vocoder import Vocoder

    config = CodecConfig.tiny()
    frontend = LogMel(config.mel)
    mel = frontend(chord(1.0))
    errors = []
    for rounds in (0, 3):
        torch.manual_seed(0)
        vocoder = Vocoder(dataclasses.replace(config.vocoder, mel_match_rounds=rounds), config.mel)
        with torch.no_grad():
            errors.append(float((frontend(vocoder(mel)) - mel).abs().mean()))
    assert errors[1] < 0.8 * errors[0]


def test_a_preview_decode_is_the_short_refinement_without_mel_matching() -> None:
    import dataclasses

    from melodex_studio.engine.networks.vocoder import PREVIEW_REFINE_ITERATIONS, Vocoder

    config = CodecConfig.tiny()
    mel = LogMel(config.mel)(chord(1.0))

    def vocoder(**changes: int) -> Vocoder:
        torch.manual_seed(0)
        return Vocoder(dataclasses.replace(config.vocoder, **changes), config.mel)

    full = vocoder(refine_iterations=6, mel_match_rounds=2)
    short = vocoder(refine_iterations=PREVIEW_REFINE_ITERATIONS, mel_match_rounds=0)
    with torch.no_grad():
        preview = full(mel, preview=True)
        assert torch.equal(preview, short(mel))
        assert (preview - full(mel)).abs().max() > 1e-3 * preview.abs().max()
        # A vocoder that refines less than a preview would is not refined more for one.
        light = vocoder(refine_iterations=1, mel_match_rounds=0)
        assert torch.equal(light(mel, preview=True), light(mel))


@pytest.mark.parametrize("frames", [1, 3, 4, 5, 37, 400])
def test_centred_istft_matches_torch_istft_and_its_gradient(frames: int) -> None:
    """Our overlap-add inverse STFT is torch.istft(center=True, length=F * hop), values and
    gradients (the vocoder trains through it)."""
    from melodex_studio.engine.mel import centred_istft

    config = MelConfig()
    window = torch.hann_window(config.n_fft, periodic=True)
    gen = torch.Generator().manual_seed(frames)
    real = torch.randn(2, config.n_fft // 2 + 1, frames, generator=gen, requires_grad=True)
    imag = torch.randn(2, config.n_fft // 2 + 1, frames, generator=gen, requires_grad=True)
    weights = torch.randn(2, frames * config.hop, generator=gen)

    def run(inverse):
        spec = torch.complex(real, imag)
        audio = inverse(spec)
        (grad_real, grad_imag) = torch.autograd.grad((audio * weights).sum(), (real, imag))
        return audio.detach(), grad_real, grad_imag

    ours = run(lambda spec: centred_istft(spec, config, window))
    reference = run(lambda spec: torch.istft(spec, n_fft=config.n_fft, hop_length=config.hop,
                                             window=window, center=True,
                                             length=frames * config.hop))
    assert ours[0].shape == (2, frames * config.hop)
    for mine, theirs in zip(ours, reference, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)


def test_vocoder_envelope_made_under_inference_mode_still_trains(codec: Codec) -> None:
    """The cached overlap-add normalisation is a plain tensor even when the first decode ran
    under inference_mode, so a training step through the same window length still works."""
    vocoder = codec.vocoder
    mel = torch.randn(1, vocoder.mel_config.n_mels, 24)
    with torch.inference_mode():
        vocoder(mel)
    out = vocoder(mel.requires_grad_())
    out.square().mean().backward()
    assert mel.grad is not None and torch.isfinite(mel.grad).all()


def test_a_decode_on_a_cpu_takes_the_sparse_mel_gain_with_the_dense_result() -> None:
    """Without gradients the mel gain runs as sparse products, bins first; it must give the
    dense products' gain (float rounding apart) for both layouts it is called with."""
    from melodex_studio.engine.networks.vocoder import Vocoder

    config = CodecConfig.tiny()
    vocoder = Vocoder(config.vocoder, config.mel)
    generator = torch.Generator().manual_seed(3)
    magnitude = torch.rand(2, 40, vocoder.num_bins, generator=generator) ** 4
    energy = torch.rand(2, 40, config.mel.n_mels, generator=generator) + 0.1
    calls = []
    sparse = vocoder._sparse_projection_matrices  # asked for on the sparse path only
    def counted(*args: object) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(1)
        return sparse(*args)  # type: ignore[arg-type]

    vocoder._sparse_projection_matrices = counted  # type: ignore[method-assign]
    for frames_first in (magnitude, magnitude.mT.contiguous().mT):  # contiguous, transposed
        with torch.enable_grad():
            dense = vocoder._frame_mel_gain(frames_first, energy)
        assert not calls
        with torch.no_grad():
            result = vocoder._frame_mel_gain(frames_first, energy)
        assert len(calls) == 1
        calls.clear()
        assert result.shape == dense.shape == magnitude.shape
        torch.testing.assert_close(result, dense, rtol=2e-5, atol=1e-7)
        assert not torch.equal(result, torch.ones_like(result))  # the gain does something
