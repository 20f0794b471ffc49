"""The worker encodes an imported recording: the codec's latent of it, and the noise a render
of that length would draw from the seed (tiny random models)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from cadences import RATE, progression

from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.jobs import EncodeJob, EncodeOutput
from melodex_studio.worker.protocol import WorkerConfig
from melodex_studio.worker.runtime import StepReporter
from melodex_studio.worker.server.executor import EngineExecutor


@pytest.fixture(scope="module")
def executor() -> EngineExecutor:
    executor = EngineExecutor(WorkerConfig(model="tiny-random", device="cpu"))
    executor.load()
    return executor


def run(executor: EngineExecutor, audio: np.ndarray, seed: int, frames: int = 6):
    bag = BlobBag()
    job = EncodeJob(audio=bag.add_audio(audio), frames=frames, seed=seed)
    reporter = StepReporter("j", lambda _: None, threading.Event())
    output, blobs = executor.run(job, dict(bag), reporter)
    return output, BlobBag(blobs)


def test_an_encode_gives_the_codecs_latent_and_the_renders_noise(executor) -> None:
    codec = executor.models.codec
    audio = np.random.default_rng(0).standard_normal(5 * codec.samples_per_latent_frame + 7)
    audio = (0.1 * audio).astype(np.float32)
    output, bag = run(executor, audio, seed=42)
    assert isinstance(output, EncodeOutput)
    latent = bag.tensor(output.latent, "latent")
    assert latent.shape == (executor.models.info.latent_channels, 6)  # a partial frame counts
    expected = codec.encode(torch.from_numpy(audio))[0].numpy()
    np.testing.assert_array_equal(latent, expected)
    noise = bag.tensor(output.noise, "noise")
    generator = torch.Generator(device="cpu").manual_seed(42)
    np.testing.assert_array_equal(noise, torch.randn(latent.shape, generator=generator).numpy())
    again, _ = run(executor, audio, seed=42)
    assert (again.latent, again.noise) == (output.latent, output.noise)  # bit for bit
    # Fitted to the section's frames: cut, or the last frame repeated.
    short, short_bag = run(executor, audio, seed=42, frames=4)
    np.testing.assert_array_equal(short_bag.tensor(short.latent, "latent"), expected[:, :4])
    longer, long_bag = run(executor, audio, seed=42, frames=8)
    padded = long_bag.tensor(longer.latent, "latent")
    np.testing.assert_array_equal(padded[:, :6], expected)
    np.testing.assert_array_equal(padded[:, 6:], expected[:, 5:6].repeat(2, axis=1))


def test_empty_audio_is_refused_with_a_message(executor) -> None:
    with pytest.raises(ValueError, match="no audio to encode"):
        run(executor, np.zeros(0, dtype=np.float32), seed=1)


def test_the_recording_is_listened_to_for_its_key(executor) -> None:
    assert executor.models.codec.sample_rate == RATE
    output, _ = run(executor, progression(2, minor=True), seed=3)
    assert output.heard_key == "D minor"
    silent, _ = run(executor, np.zeros(RATE, dtype=np.float32), seed=3)
    assert silent.heard_key == ""  # no pitch: no key to name
