"""Plan adapter training: targets line up with the latent cache, batches are deterministic,
the plan is dropped where asked, runs learn, resume exactly and export into a model folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from melodex_studio.engine.codec import PLAN_ADAPTER_FILE, Codec
from melodex_studio.engine.networks.plan_adapter import PlanAdapterConfig
from melodex_studio.engine.text_encoder import MiniLMTextEncoder
from melodex_studio.training.corpus import train_corpus_main
from melodex_studio.training.plan_adapter_train import (
    CHECKPOINT,
    FIRST_PLAN_CHANNEL,
    PlanAdapterTrainSettings,
    adapter_batch,
    build_mel_targets,
    export_plan_adapter,
    train_plan_adapter,
)
from melodex_studio.training.renderer_data import build_latent_cache

SMALL = PlanAdapterConfig(width=8, kernel_size=3)
FAST = PlanAdapterTrainSettings(learning_rate=3e-3, warmup_steps=0, crop_frames=16)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("adapter")
    corpus = root / "corpus"
    train_corpus_main(n=5, out_dir=corpus, seed=0, workers=1, seconds_max=4.0)
    codec = Codec.tiny_random()
    cache = build_latent_cache(corpus, codec, MiniLMTextEncoder(), root / "latents.safetensors",
                               progress=False)
    mels = build_mel_targets(corpus, cache, codec, root / "mels.safetensors", progress=False)
    return root, corpus, codec, cache, mels


def test_targets_are_the_log_mels_of_the_cached_examples(data) -> None:
    root, corpus, codec, cache, mels = data
    assert mels.shape == (codec.config.mel.n_mels, 4 * cache.latents.shape[-1])
    # Decoding an example's cached latents lands near its own target, not near another's.
    first, second = (slice(int(cache.starts[i]), int(cache.starts[i] + 16)) for i in (0, 1))
    decoded = codec.decode_to_mel(cache.latents[:, first])[0]
    own = (decoded - mels[:, 4 * first.start : 4 * first.stop]).abs().mean()
    other = (decoded - mels[:, 4 * second.start : 4 * second.stop]).abs().mean()
    assert own < other
    # A second call reads the file instead of decoding the corpus again.
    stamp = (root / "mels.safetensors").stat().st_mtime_ns
    again = build_mel_targets(corpus, cache, codec, root / "mels.safetensors", progress=False)
    assert torch.equal(again, mels) and (root / "mels.safetensors").stat().st_mtime_ns == stamp


def test_batches_depend_on_seed_and_step_and_drop_the_plan_as_asked(data) -> None:
    _, _, _, cache, mels = data
    one = adapter_batch(cache, mels, 0, 5, 4, 16, 0.0)
    same = adapter_batch(cache, mels, 0, 5, 4, 16, 0.0)
    other = adapter_batch(cache, mels, 0, 6, 4, 16, 0.0)
    assert torch.equal(one.latents, same.latents) and torch.equal(one.noise, same.noise)
    assert not torch.equal(one.latents, other.latents)
    assert one.mels.shape[-1] == 4 * one.latents.shape[-1] == 64
    assert one.control[:, FIRST_PLAN_CHANNEL:].abs().sum() > 0
    dropped = adapter_batch(cache, mels, 0, 5, 4, 16, 1.0)
    assert torch.equal(dropped.latents, one.latents)
    assert dropped.control[:, FIRST_PLAN_CHANNEL:].abs().sum() == 0
    assert torch.equal(dropped.control[:, :FIRST_PLAN_CHANNEL], one.control[:, :FIRST_PLAN_CHANNEL])


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["l1"] for line in (run / "losses.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_leaves_the_codec_alone(tmp_path: Path, data) -> None:
    _, _, codec, cache, mels = data
    before = {k: v.clone() for k, v in codec.state_dict().items()}
    train_plan_adapter(tmp_path, codec, cache, mels, steps=40, batch_size=4, device="cpu",
                       settings=FAST, config=SMALL, progress=False)
    losses = _losses(tmp_path)
    assert len(losses) == 40
    assert sum(losses[-8:]) / 8 < sum(losses[:8]) / 8
    assert all(torch.equal(v, before[k]) for k, v in codec.state_dict().items())
    assert all(p.requires_grad is False for p in codec.parameters())
    for p in codec.parameters():
        p.requires_grad_(True)


def test_a_resumed_run_equals_the_uninterrupted_one(tmp_path: Path, data) -> None:
    _, _, codec, cache, mels = data
    args = dict(steps=6, batch_size=4, device="cpu", settings=FAST, config=SMALL,
                progress=False)
    train_plan_adapter(tmp_path / "whole", codec, cache, mels, **args)
    train_plan_adapter(tmp_path / "split", codec, cache, mels, stop_at=3, **args)
    train_plan_adapter(tmp_path / "split", codec, cache, mels, **args)
    whole = (tmp_path / "whole" / CHECKPOINT / "adapter.safetensors").read_bytes()
    assert whole == (tmp_path / "split" / CHECKPOINT / "adapter.safetensors").read_bytes()
    assert _losses(tmp_path / "whole") == _losses(tmp_path / "split")
    # Running a finished run again (as `melodex train adapter --export` does) trains and logs
    # nothing more.
    train_plan_adapter(tmp_path / "split", codec, cache, mels, **args)
    sessions = json.loads((tmp_path / "split" / "training_log.json").read_text())["sessions"]
    assert [(s["from_step"], s["to_step"]) for s in sessions] == [(0, 3), (3, 6)]


def test_export_adds_the_adapter_to_the_codec_it_was_trained_on(tmp_path: Path, data) -> None:
    _, _, codec, cache, mels = data
    model = tmp_path / "model"
    codec.save_pretrained(model)
    train_plan_adapter(tmp_path / "run", codec, cache, mels, steps=3, batch_size=2,
                       device="cpu", settings=FAST, config=SMALL, progress=False)
    export_plan_adapter(tmp_path / "run", model)
    loaded = Codec.from_pretrained(model)
    assert loaded.plan_adapter is not None and (model / PLAN_ADAPTER_FILE).is_file()
    # Stored as float16 (the model's byte budget), computed in float32 after loading.
    stored = load_file(str(model / PLAN_ADAPTER_FILE))
    assert {t.dtype for t in stored.values()} == {torch.float16}
    assert all(p.dtype == torch.float32 for p in loaded.plan_adapter.parameters())
    weight = next(iter(stored))
    assert torch.equal(loaded.plan_adapter.state_dict()[weight], stored[weight].float())
    z = cache.latents[:, :16]
    control = cache.control[:, :16]
    assert not torch.equal(loaded.decode_to_mel(z, control=control), loaded.decode_to_mel(z))
    other = tmp_path / "other"
    Codec.tiny_random(seed=9).save_pretrained(other)
    with pytest.raises(ValueError, match="another codec"):
        export_plan_adapter(tmp_path / "run", other)
