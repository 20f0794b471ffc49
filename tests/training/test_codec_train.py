"""Codec training: loss goes down, resume is bit-identical, checkpoints/exports are safetensors."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from melodex_studio.engine.codec import Codec, CodecConfig
from melodex_studio.engine.networks.plan_adapter import PlanAdapterConfig
from melodex_studio.engine.weights import merge_component_config, save_tensors_atomic
from melodex_studio.training.codec_data import load_audio_pool, sample_segments
from melodex_studio.training.codec_export import (
    export_codec,
    parse_vocoder_settings,
    retune_vocoder,
)
from melodex_studio.training.codec_runs import (
    combine_runs,
    load_codec_from_run,
    start_run_from_model,
)
from melodex_studio.training.codec_train import CodecTrainSettings, train_codec

FAST = CodecTrainSettings(learning_rate=3e-3, warmup_steps=0, ae_segment_frames=32,
                          vocoder_segment_frames=16, period_discriminator_width=4,
                          resolution_discriminator_width=4)


def clips(count: int = 4, seconds: float = 1.5) -> list[np.ndarray]:
    """Decaying chords: enough structure for a tiny codec to learn something in a few steps."""
    out = []
    t = np.arange(int(seconds * 24000)) / 24000
    for i in range(count):
        rng = np.random.default_rng(i)
        freqs = 110 * 2 ** (rng.integers(0, 24, 3) / 12)
        tone = sum(0.2 * np.sin(2 * math.pi * f * t) for f in freqs)
        out.append((tone * np.exp(-4 * (t % 0.375))).astype(np.float32))
    return out


def _losses(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


def _train(run: Path, steps: int, stage: str, **kwargs) -> None:
    train_codec(run, clips(), steps=steps, batch_size=2, seed=3, stage=stage,
                config=CodecConfig.tiny(), settings=FAST, progress=False, **kwargs)


@pytest.mark.parametrize(
    ("stage", "ratios"),
    [("ae", {"ae_mel_l1": 0.8}), ("vocoder", {"voc_mel_l1": 0.9, "voc_mrstft": 0.95})],
)
def test_a_few_steps_reduce_the_loss(tmp_path: Path, stage: str, ratios: dict) -> None:
    _train(tmp_path, 40, stage)
    rows = _losses(tmp_path)
    assert len(rows) == 40
    for key, ratio in ratios.items():
        values = [row[key] for row in rows]
        assert np.mean(values[-5:]) < ratio * np.mean(values[:5]), key


@pytest.mark.parametrize(("stage", "files"), [
    ("both", ("autoencoder", "vocoder", "optim_vocoder")),
    ("gan", ("vocoder", "discriminator", "optim_discriminator")),
])
def test_resume_continues_bit_identically(tmp_path: Path, stage: str, files: tuple) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train(straight, 6, stage)
    _train(resumed, 3, stage)
    _train(resumed, 6, stage)
    assert _losses(resumed) == _losses(straight)
    for name in files:
        a = load_file(str(straight / "checkpoint" / f"{name}.safetensors"))
        b = load_file(str(resumed / "checkpoint" / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = json.loads((resumed / "training_log.json").read_text())
    assert [(s["start_step"], s["end_step"]) for s in log["sessions"]] == [(0, 3), (3, 6)]
    assert log["sessions"][0]["device"] == "cpu" and log["sessions"][0]["seconds"] > 0


def test_resume_false_starts_over_and_stages_keep_their_counters(tmp_path: Path) -> None:
    _train(tmp_path, 2, "ae")
    _train(tmp_path, 2, "vocoder")
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["steps"] == {"ae": 2, "vocoder": 2, "both": 0, "decoder": 0, "gan": 0}
    _train(tmp_path, 1, "ae", resume=False)
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["steps"]["ae"] == 1 and state["steps"]["vocoder"] == 0
    assert sorted(p.name for p in (tmp_path / "checkpoint").iterdir()) == [
        "autoencoder.safetensors", "optim_autoencoder.safetensors", "optim_vocoder.safetensors",
        "state.json", "vocoder.safetensors"]


def test_combine_runs_trained_side_by_side(tmp_path: Path) -> None:
    _train(tmp_path / "ae", 3, "ae")
    _train(tmp_path / "voc", 2, "vocoder")
    combine_runs(tmp_path / "ae", tmp_path / "voc", tmp_path / "both")
    combined = load_codec_from_run(tmp_path / "both")
    for module, source in ((combined.autoencoder, "ae"), (combined.vocoder, "voc")):
        other = getattr(load_codec_from_run(tmp_path / source), "autoencoder" if source == "ae"
                        else "vocoder")
        assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(),
                                                     other.state_dict().values(), strict=True))
    _train(tmp_path / "both", 2, "both")
    state = json.loads((tmp_path / "both" / "checkpoint" / "state.json").read_text())
    assert state["steps"] == {"ae": 3, "vocoder": 2, "both": 2, "decoder": 0, "gan": 0}
    log = json.loads((tmp_path / "both" / "training_log.json").read_text())
    assert [s["stage"] for s in log["sessions"]] == ["ae", "vocoder", "both"]
    with pytest.raises(FileExistsError):
        combine_runs(tmp_path / "ae", tmp_path / "voc", tmp_path / "both")


def test_decoder_stage_keeps_the_latent_space(tmp_path: Path) -> None:
    _train(tmp_path / "run", 3, "ae")
    before = load_codec_from_run(tmp_path / "run")
    _train(tmp_path / "run", 3, "decoder")
    after = load_codec_from_run(tmp_path / "run")
    encoder = zip(before.autoencoder.encoder.state_dict().values(),
                  after.autoencoder.encoder.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in encoder)
    decoder = zip(before.autoencoder.decoder.state_dict().values(),
                  after.autoencoder.decoder.state_dict().values(), strict=True)
    assert not all(torch.equal(a, b) for a, b in decoder)
    assert torch.equal(before.vocoder.head.weight, after.vocoder.head.weight)
    assert [r["stage"] for r in _losses(tmp_path / "run")][-3:] == ["decoder"] * 3


def test_pitch_weight_adds_the_slope_term_to_both_autoencoder_stages(tmp_path: Path) -> None:
    settings = dataclasses.replace(FAST, ae_pitch_weight=1.0, ae_pitch_max_hz=1500.0)
    for stage in ("ae", "decoder"):
        train_codec(tmp_path, clips(), steps=30, batch_size=2, seed=3, stage=stage,
                    config=CodecConfig.tiny(), settings=settings, progress=False)
    rows = _losses(tmp_path)
    assert [r["stage"] for r in rows] == ["ae"] * 30 + ["decoder"] * 30
    pitch = [r["ae_pitch"] for r in rows[:30]]
    assert all(p > 0 for p in pitch)
    assert np.mean(pitch[-5:]) < 0.9 * np.mean(pitch[:5])
    assert "ae_pitch" in rows[-1]
    _train(tmp_path / "plain", 1, "ae")
    assert "ae_pitch" not in _losses(tmp_path / "plain")[0]


def test_export_keeping_the_latent_space(tmp_path: Path) -> None:
    run, model = tmp_path / "run", tmp_path / "model"
    _train(run, 2, "ae")
    export_codec(run, model, clips(), max_clips=2)
    shipped = json.loads((model / "config.json").read_text())["codec"]
    _train(run, 2, "decoder")
    export_codec(run, model, clips()[:1], max_clips=1, keep_latent_space=True)
    kept = json.loads((model / "config.json").read_text())["codec"]
    for key in ("latent_mean", "latent_std", "latent_statistics"):
        assert kept[key] == shipped[key]
    assert kept["files"]["codec_ae.safetensors"] != shipped["files"]["codec_ae.safetensors"]
    # A changed encoder means another latent space: refused, and nothing is written.
    _train(run, 4, "ae")
    with pytest.raises(ValueError, match="encoder"):
        export_codec(run, model, clips(), max_clips=2, keep_latent_space=True)
    assert json.loads((model / "config.json").read_text())["codec"] == kept


def test_snapshots_and_export_to_a_model_dir(tmp_path: Path) -> None:
    run, model = tmp_path / "run", tmp_path / "models" / "melodex-tiny"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"renderer": {"x": 1}}))
    _train(run, 4, "ae", snapshot_every=2)
    assert (run / "snapshots" / "ae_0000002" / "state.json").exists()
    fragment = export_codec(run, model, clips(), max_clips=4,
                            vocoder_settings={"refine_iterations": 2})
    config = json.loads((model / "config.json").read_text())
    assert config["codec"]["vocoder"]["refine_iterations"] == 2
    assert config["renderer"] == {"x": 1} and config["codec"]["files"] == fragment["files"]
    assert config["codec"]["training"]["steps"] == {"ae": 4}
    shipped = Codec.from_pretrained(model)
    trained = load_codec_from_run(run)
    audio = torch.from_numpy(clips()[0])
    assert torch.equal(shipped.encode(audio, normalize=False),
                       trained.encode(audio, normalize=False))
    # Normalised latents of the measuring clips have zero mean and unit std per channel.
    latents = torch.cat([shipped.encode(torch.from_numpy(c))[0] for c in clips()], dim=-1)
    assert torch.allclose(latents.mean(-1), torch.zeros(16), atol=1e-4)
    assert torch.allclose(latents.std(-1), torch.ones(16), atol=1e-3)


def test_retune_changes_inference_settings_only(tmp_path: Path) -> None:
    run, model = tmp_path / "run", tmp_path / "model"
    _train(run, 2, "ae")
    export_codec(run, model, clips(), max_clips=2)
    before = json.loads((model / "config.json").read_text())
    changes = parse_vocoder_settings(["phase_init=network", "refine_iterations=3"])
    assert changes == {"phase_init": "network", "refine_iterations": 3}
    retune_vocoder(model, changes, note="why")
    after = json.loads((model / "config.json").read_text())
    assert after["codec"]["vocoder"] == {**before["codec"]["vocoder"], **changes}
    assert after["codec"]["inference_note"] == "why"
    for key in ("files", "latent_mean", "latent_std", "autoencoder"):
        assert after["codec"][key] == before["codec"][key]
    loaded = Codec.from_pretrained(model)
    assert loaded.vocoder.config.phase_init == "network"
    assert loaded.vocoder.config.refine_iterations == 3
    # A setting the vocoder cannot take fails before anything is written.
    with pytest.raises(ValueError, match="phase_init"):
        retune_vocoder(model, {"phase_init": "guess"})
    with pytest.raises(ValueError, match="not inference settings"):
        retune_vocoder(model, {"dim": 8})
    assert json.loads((model / "config.json").read_text()) == after
    for bad in (["refine_iterations=many"], ["dim=8"], ["phase_init"]):
        with pytest.raises(ValueError):
            parse_vocoder_settings(bad)


def test_data_pool_reads_folders_and_iterables(tmp_path: Path) -> None:
    soundfile = pytest.importorskip("soundfile")
    stereo = np.stack([clips(1)[0], clips(1)[0]], axis=1)
    soundfile.write(tmp_path / "a.wav", stereo, 24000, subtype="FLOAT")
    soundfile.write(tmp_path / "b.wav", clips(1)[0][:12000], 12000, subtype="FLOAT")
    pool = load_audio_pool(tmp_path, 24000)
    assert [c.numel() for c in pool] == [36000, 24000]
    assert torch.allclose(pool[0], torch.from_numpy(clips(1)[0]))
    pool = load_audio_pool([{"audio": clips(1)[0]}, (clips(1)[0], {"bpm": 90})], 24000)
    assert len(pool) == 2
    gen_a, gen_b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    batch = sample_segments(pool, 4096, 3, gen_a, (-6.0, 0.0))
    assert batch.shape == (3, 4096) and torch.equal(batch, sample_segments(pool, 4096, 3, gen_b,
                                                                             (-6.0, 0.0)))
    with pytest.raises(ValueError, match="no audio"):
        load_audio_pool([], 24000)


def test_data_pool_reads_one_split_of_a_corpus_folder(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    (tmp_path / "corpus.json").write_text(json.dumps({"format": 1, "seed": 0}))
    for index, held_out in enumerate([False, True, False]):
        audio = np.full(2048, 0.1 * (index + 1), dtype=np.float32)
        np.save(examples / f"{index:08d}.npy", audio, allow_pickle=False)
        np.save(examples / f"{index:08d}.stems.npy", np.zeros((2048, 3), np.float32),
                allow_pickle=False)
        document = {"audio": f"{index:08d}.npy", "held_out": held_out,
                    "stems": f"{index:08d}.stems.npy"}
        (examples / f"{index:08d}.json").write_text(json.dumps(document))
    train = load_audio_pool(tmp_path, 24000)
    assert [float(c[0]) for c in train] == pytest.approx([0.1, 0.3])
    held = load_audio_pool(tmp_path, 24000, held_out=True)
    assert [float(c[0]) for c in held] == pytest.approx([0.2])


def test_learning_rate_schedule_is_a_function_of_the_step(tmp_path: Path) -> None:
    from melodex_studio.training.codec_train import CodecTrainer

    settings = CodecTrainSettings(learning_rate=1.0, warmup_steps=10, cooldown_start=20,
                                  cooldown_steps=10)
    trainer = CodecTrainer(tmp_path, CodecConfig.tiny(), settings, 0, torch.device("cpu"))
    rates = [trainer._learning_rate(step) for step in (0, 9, 15, 20, 25, 30, 100)]
    assert rates == pytest.approx([0.1, 1.0, 1.0, 1.0, 0.55, 0.1, 0.1])


def _weights(run: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoint" / f"{name}.safetensors"))


def test_gan_stage_trains_vocoder_and_discriminators(tmp_path: Path) -> None:
    _train(tmp_path, 2, "vocoder")
    vocoder_before = _weights(tmp_path, "vocoder")
    _train(tmp_path, 4, "gan")
    rows = [row for row in _losses(tmp_path) if row["stage"] == "gan"]
    assert len(rows) == 4
    for row in rows:
        assert {"voc_mel_l1", "disc_hinge", "gen_hinge", "gen_feature"} <= row.keys()
        assert all(math.isfinite(v) for k, v in row.items() if k != "stage")
    files = sorted(p.name for p in (tmp_path / "checkpoint").iterdir())
    assert "discriminator.safetensors" in files and "optim_discriminator.safetensors" in files
    after = _weights(tmp_path, "vocoder")
    assert any(not torch.equal(vocoder_before[k], after[k]) for k in after)
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["steps"]["gan"] == 4 and state["steps"]["vocoder"] == 2


def test_discriminators_learn_alone_during_their_warmup(tmp_path: Path) -> None:
    settings = dataclasses.replace(FAST, discriminator_warmup_steps=2)
    train_codec(tmp_path, clips(), steps=3, batch_size=2, seed=3, stage="gan",
                config=CodecConfig.tiny(), settings=settings, progress=False)
    rows = _losses(tmp_path)
    assert ["gen_hinge" in row for row in rows] == [False, False, True]
    assert all("disc_hinge" in row and "voc_mel_l1" in row for row in rows)


def test_a_run_started_from_a_model_fine_tunes_its_codec(tmp_path: Path) -> None:
    config = dataclasses.replace(CodecConfig.tiny(), plan_adapter=PlanAdapterConfig(width=8))
    shipped = Codec(config)
    model, run = tmp_path / "model", tmp_path / "run"
    shipped.save_pretrained(model, extra={"latent_statistics": {"clips": 0},
                                          "plan_adapter_training": {"steps": 5}})
    # Shipped adapters are stored as float16.
    adapter_file = model / "plan_adapter.safetensors"
    half = {k: v.half() for k, v in load_file(str(adapter_file)).items()}
    section = json.loads((model / "config.json").read_text())["codec"]
    sha = save_tensors_atomic(adapter_file, half)
    section["files"]["plan_adapter.safetensors"] = {"sha256": sha,
                                                    "bytes": adapter_file.stat().st_size}
    merge_component_config(model, "codec", section)
    shipped = Codec.from_pretrained(model)
    start_run_from_model(model, run, seed=3)
    started = load_codec_from_run(run)
    for name in ("autoencoder", "vocoder"):
        ours, theirs = getattr(started, name).state_dict(), getattr(shipped, name).state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    with pytest.raises(FileExistsError):
        start_run_from_model(model, run)
    train_codec(run, clips(), steps=2, batch_size=2, stage="gan", settings=FAST, progress=False)
    # A new vocoder under the shipped decoder keeps the shipped plan adapter on export.
    export_codec(run, model, clips(), max_clips=1, keep_latent_space=True)
    exported = Codec.from_pretrained(model)
    kept = load_file(str(adapter_file))
    assert all(kept[k].dtype == torch.float16 and torch.equal(kept[k], half[k]) for k in half)
    section = json.loads((model / "config.json").read_text())["codec"]
    assert section["plan_adapter_training"] == {"steps": 5}
    assert section["files"]["plan_adapter.safetensors"]["sha256"] == sha
    assert exported.plan_adapter is not None and shipped.plan_adapter is not None
    adapter = exported.plan_adapter.state_dict()
    assert all(torch.equal(adapter[k], v) for k, v in shipped.plan_adapter.state_dict().items())
    assert not torch.equal(exported.vocoder.head.weight, shipped.vocoder.head.weight)
