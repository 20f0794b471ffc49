"""Renderer training: the latent cache matches the pipeline's conditioning, masks cover the
three tasks, batches and runs are deterministic and resumable, and exports load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from melodex_studio.engine.codec import Codec
from melodex_studio.engine.control_raster import control_raster
from melodex_studio.engine.networks.dit import DiT, DiTConfig
from melodex_studio.engine.plan_tokens import meter_id
from melodex_studio.engine.text_encoder import MiniLMTextEncoder
from melodex_studio.engine.weights import file_sha256
from melodex_studio.training.corpus import train_corpus_main
from melodex_studio.training.corpus.render import RenderLabels
from melodex_studio.training.renderer_data import (
    LatentCache,
    MaskMix,
    build_latent_cache,
    corpus_documents,
    region_for,
    sample_batch,
)
from melodex_studio.training.renderer_train import (
    RendererTrainSettings,
    ema_model,
    export_renderer,
    train_renderer,
)

FAST = RendererTrainSettings(learning_rate=2e-3, warmup_steps=0, crop_frames=32)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LatentCache, Codec]:
    root = tmp_path_factory.mktemp("renderer")
    corpus = root / "corpus"
    train_corpus_main(n=6, out_dir=corpus, seed=0, workers=1, seconds_max=4.0)
    codec = Codec.tiny_random()
    built = build_latent_cache(corpus, codec, MiniLMTextEncoder(), root / "latents.safetensors",
                               progress=False)
    return corpus, built, codec


def test_the_cache_holds_the_pipeline_conditioning_of_every_training_example(cache) -> None:
    corpus, built, codec = cache
    documents = corpus_documents(corpus, held_out=False)
    assert built.n_examples == len(documents) > 0
    assert not any(d["held_out"] for d in documents)
    frame_rate = codec.sample_rate / codec.samples_per_latent_frame
    for i, document in enumerate(documents):
        section = RenderLabels.model_validate(document["labels"]).section
        start, length = int(built.starts[i]), int(built.lengths[i])
        expected = control_raster(section.plan, section.key_value, section.grid(24_000), length,
                                  frame_rate, 0, 0)
        assert torch.equal(built.control[:, start:start + length], expected)
        assert int(built.key[i]) == section.key_value.index
        assert int(built.meter[i]) == meter_id(section.meter_value)
        assert float(built.bpm[i]) == pytest.approx(section.bpm)
    # Reopening reads the same tensors instead of encoding again.
    again = LatentCache.load(corpus.parent / "latents.safetensors")
    assert torch.equal(again.latents, built.latents)


def test_a_cache_is_reused_by_its_codec_only(cache, tmp_path: Path) -> None:
    corpus, built, codec = cache
    path = corpus.parent / "latents.safetensors"
    assert LatentCache.latent_space_of(path) == codec.latent_space_id()
    stamp = path.stat().st_mtime_ns
    reused = build_latent_cache(corpus, codec, MiniLMTextEncoder(), path, progress=False)
    assert path.stat().st_mtime_ns == stamp and torch.equal(reused.latents, built.latents)
    # Another codec's cache is encoded again, not trained on in the wrong latent space.
    copy = tmp_path / "latents.safetensors"
    copy.write_bytes(path.read_bytes())
    other = Codec.tiny_random(7)
    rebuilt = build_latent_cache(corpus, other, MiniLMTextEncoder(), copy, progress=False)
    assert LatentCache.latent_space_of(copy) == other.latent_space_id()
    assert not torch.equal(rebuilt.latents, built.latents)


def test_region_masks_cover_generate_repaint_and_extend() -> None:
    mix = MaskMix()
    rng = np.random.default_rng(0)
    kinds = {"all": 0, "inner": 0, "suffix": 0, "prefix": 0}
    for _ in range(400):
        mask = region_for(rng, 64, 50, mix)
        assert not mask[50:].any(), "padding is never part of the region"
        assert mask.any()
        inside = np.flatnonzero(mask)
        assert np.all(np.diff(inside) == 1), "one contiguous span"
        if mask[:50].all():
            kinds["all"] += 1
        elif inside[0] == 0:
            kinds["prefix"] += 1
        elif inside[-1] == 49:
            kinds["suffix"] += 1
        else:
            kinds["inner"] += 1
    assert kinds["all"] > 150 and kinds["inner"] > 60
    assert kinds["prefix"] > 15 and kinds["suffix"] > 15


def test_batches_depend_only_on_the_seed_and_step(cache) -> None:
    _, built, _ = cache
    a = sample_batch(built, np.random.default_rng(5), 4, 32, MaskMix())
    b = sample_batch(built, np.random.default_rng(5), 4, 32, MaskMix())
    c = sample_batch(built, np.random.default_rng(6), 4, 32, MaskMix())
    assert torch.equal(a.x0, b.x0) and torch.equal(a.cond.region_mask, b.cond.region_mask)
    assert not torch.equal(a.x0, c.x0)
    # The loss only counts region frames that hold real audio.
    assert torch.all(a.loss_mask <= a.cond.region_mask.float())


def _train(run: Path, built: LatentCache, steps: int, stop_at: int | None = None) -> None:
    train_renderer(run, built, steps=steps, batch_size=4, seed=1, device="cpu",
                   config=DiTConfig.tiny(), settings=FAST, progress=False, stop_at=stop_at)


def test_training_reduces_the_loss(tmp_path: Path, cache) -> None:
    _, built, _ = cache
    _train(tmp_path, built, 60)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "losses.jsonl").open()]
    assert len(losses) == 60
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])


def test_a_resumed_run_equals_the_uninterrupted_one(tmp_path: Path, cache) -> None:
    _, built, _ = cache
    _train(tmp_path / "straight", built, 8)
    _train(tmp_path / "resumed", built, 8, stop_at=4)
    _train(tmp_path / "resumed", built, 8)
    straight, resumed = ema_model(tmp_path / "straight"), ema_model(tmp_path / "resumed")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    sessions = json.loads((tmp_path / "resumed" / "training_log.json").read_text())["sessions"]
    assert [(s["from_step"], s["to_step"]) for s in sessions] == [(0, 4), (4, 8)]
    assert sessions[0]["device"] == "cpu"


def test_export_writes_float16_weights_that_load_and_verify(tmp_path: Path, cache) -> None:
    _, built, _ = cache
    _train(tmp_path / "run", built, 3)
    export_renderer(tmp_path / "run", tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())["renderer"]
    weights = tmp_path / "model" / "renderer.safetensors"
    assert config["files"]["renderer.safetensors"]["sha256"] == file_sha256(weights)
    assert config["storage_dtype"] == "float16" and config["training"]["steps"] == 3
    loaded = DiT.from_pretrained(tmp_path / "model")
    reference = ema_model(tmp_path / "run")
    for (name, a), (_, b) in zip(loaded.state_dict().items(), reference.state_dict().items(),
                                 strict=True):
        assert a.dtype == torch.float32
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name
