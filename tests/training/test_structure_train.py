"""Structure transformer training on a tiny config: the data is exactly what the plan pipeline
builds at inference, the loss falls, runs are seeded and resume exactly, exports load."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from melodex_studio.engine.networks.structure_transformer import (
    StructureConfig,
    StructureTransformer,
)
from melodex_studio.engine.pipelines.plan import plan_section
from melodex_studio.engine.plan_tokens import encode_plan
from melodex_studio.engine.text_encoder import MiniLMTextEncoder
from melodex_studio.engine.weights import file_sha256
from melodex_studio.music.plan import Plan
from melodex_studio.training.corpus import is_held_out
from melodex_studio.training.corpus.styles import STYLES
from melodex_studio.training.structure_data import (
    draw_example,
    example_indices,
    prompt_text,
)
from melodex_studio.training.structure_eval import generation_checks, plan_checks
from melodex_studio.training.structure_pool import build_pool
from melodex_studio.training.structure_train import (
    StructureTrainer,
    StructureTrainSettings,
    export_structure,
    run_model,
    train_structure,
)

CONFIG = replace(StructureConfig.tiny(), styles=tuple(STYLES))
FAST = StructureTrainSettings(learning_rate=3e-3, warmup_steps=2, pool_size=24,
                              held_out_size=6, bucket_batches=2)


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def encoder() -> MiniLMTextEncoder:
    return MiniLMTextEncoder()


def train(run: Path, encoder: MiniLMTextEncoder, steps: int, **options) -> StructureTrainer:
    return train_structure(run, steps, batch_size=4, seed=options.pop("seed", 3), device="cpu",
                           progress=False, config=CONFIG, settings=FAST, text_encoder=encoder,
                           **options)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_examples_never_come_from_the_held_out_split() -> None:
    train_indices = example_indices(0, 300, held_out=False)
    held = example_indices(0, 10, held_out=True)
    assert not any(is_held_out(i, 0) for i in train_indices)
    assert all(is_held_out(i, 0) for i in held)
    assert not set(train_indices) & set(held)


@pytest.mark.parametrize("steps_per_group", [1, 2])
def test_loss_falls_on_a_fixed_batch(tmp_path: Path, encoder: MiniLMTextEncoder,
                                     steps_per_group: int) -> None:
    config = replace(CONFIG, steps_per_group=steps_per_group)
    pool = build_pool(tmp_path / "pool.safetensors", config, encoder, 0, 6, progress=False)
    assert pool.tokens.shape[1] == 4 * steps_per_group
    trainer = StructureTrainer(tmp_path, config, FAST, seed=0, total_steps=30,
                               device=torch.device("cpu"))
    rows = np.arange(6)
    losses = [trainer.train_step(pool, rows)[0] for _ in range(30)]
    assert losses[-1] < 0.6 * losses[0], losses


def test_same_seed_gives_identical_weights(tmp_path: Path, encoder: MiniLMTextEncoder) -> None:
    first = weights(train(tmp_path / "a", encoder, 5).model)
    again = weights(train(tmp_path / "b", encoder, 5).model)
    other = weights(train(tmp_path / "c", encoder, 5, seed=4).model)
    assert same_weights(first, again)
    assert not same_weights(first, other)


def test_a_resumed_run_equals_the_uninterrupted_run(tmp_path: Path,
                                                    encoder: MiniLMTextEncoder) -> None:
    # 24 examples in batches of 4: the 8 steps cross an epoch boundary.
    whole = train(tmp_path / "whole", encoder, 8)
    interrupted = train(tmp_path / "parts", encoder, 8, stop_at=5)
    assert interrupted.step == 5
    resumed = train(tmp_path / "parts", encoder, 8)
    assert resumed.step == 8
    assert same_weights(weights(whole.model), weights(resumed.model))
    assert logged(tmp_path / "whole") == logged(tmp_path / "parts")
    log = json.loads((tmp_path / "parts" / "training_log.json").read_text())
    assert [(s["from_step"], s["to_step"]) for s in log["sessions"]] == [(0, 5), (5, 8)]
    assert set(json.loads((tmp_path / "parts" / "held_out.json").read_text())) >= {
        "loss", "token_accuracy", "chord_accuracy"}


def logged(run: Path) -> list[tuple[int, float, float]]:
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    return [(row["step"], row["loss"], row["accuracy"]) for row in rows]


def _varied_examples() -> list[int]:
    """Training indices covering context / no context, named style / free tag / no style,
    and the "custom" kind."""
    wanted = {"context": None, "plain": None, "named": None, "free": None, "custom": None}
    for index in example_indices(0, 200, held_out=False):
        request = draw_example(index).request
        traits = {"context" if request.previous_plan is not None else "plain"}
        if request.style in STYLES:
            traits.add("named")
        elif request.style:
            traits.add("free")
        if request.section_kind == "custom":
            traits.add("custom")
        for trait in traits:
            if wanted[trait] is None:
                wanted[trait] = index
        if all(v is not None for v in wanted.values()):
            break
    assert all(v is not None for v in wanted.values()), wanted
    return sorted(set(wanted.values()))  # type: ignore[arg-type]


def test_training_conditioning_is_what_the_plan_pipeline_builds(
    tmp_path: Path, encoder: MiniLMTextEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    indices = _varied_examples()
    pool = build_pool(tmp_path / "pool.safetensors", CONFIG, encoder, 0, max(indices) + 1,
                      progress=False)
    model = StructureTransformer(CONFIG)
    for index in indices:
        row = int(np.flatnonzero(pool.indices.numpy() == index)[0])
        example = draw_example(index)
        request = example.request
        seen: dict = {}
        answer = encode_plan(example.section.plan, request.key)

        def spy(cond, steps_per_bar, n_bars, generator, n_samples, sampling, context=None,
                seen=seen, answer=answer, **_):
            seen.update(cond=cond, context=context, steps=steps_per_bar, bars=n_bars)
            return [answer] * n_samples

        monkeypatch.setattr(model, "generate_many", spy)
        plan = plan_section(model, encoder.encode([request.text])[0], request.key,
                            request.meter, request.bpm, request.section_kind, request.energy,
                            request.n_bars, style=request.style,
                            previous_plan=request.previous_plan)
        assert isinstance(plan, Plan) and plan.n_bars == request.n_bars == seen["bars"]
        cond, target, context = pool.batch(np.array([row]))
        for name, value in seen["cond"].__dict__.items():
            assert torch.equal(getattr(cond, name), value), (index, name)
        flat_target = target.tokens[0].reshape(-1).tolist()
        expected = [t for t in encode_plan(example.section.plan, request.key) if t != 1]
        assert flat_target == expected  # the BAR marker is implied by each header group
        if seen["context"] is None:
            assert context is None
        else:
            assert context is not None
            for name in ("tokens", "kinds", "bars"):
                assert torch.equal(getattr(context, name)[0],
                                   torch.as_tensor(getattr(seen["context"], name)))


def test_prompt_text_is_what_the_worker_embeds() -> None:
    from melodex_studio.worker.server.models import LoadedModels

    worker = SimpleNamespace(text=SimpleNamespace(embed=lambda text, cancelled: text))
    for prompt, style in (("dusty keys", None), ("dusty keys", "lofi"), ("", "jazz"), ("", None)):
        assert LoadedModels.embed(worker, prompt, style) == prompt_text(prompt, style)


def test_export_round_trip(tmp_path: Path, encoder: MiniLMTextEncoder) -> None:
    train(tmp_path / "run", encoder, 3)
    fragment = export_structure(tmp_path / "run", tmp_path / "model")
    path = tmp_path / "model" / "structure.safetensors"
    assert fragment["files"]["structure.safetensors"]["sha256"] == file_sha256(path)
    assert fragment["training"]["steps"] == 3 and "loss" in fragment["held_out"]
    loaded = StructureTransformer.from_pretrained(tmp_path / "model")
    assert loaded.config == CONFIG
    assert same_weights(weights(loaded), weights(run_model(tmp_path / "run")))


def test_generation_checks_score_plans_of_the_asked_shape(encoder: MiniLMTextEncoder) -> None:
    examples = [draw_example(i) for i in example_indices(0, 2, held_out=True)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = StructureTransformer(CONFIG).eval()
    scores = generation_checks(model, examples, encoder, progress=False)
    assert scores["generated"]["length_ok"] == 1.0
    assert scores["composer"]["length_ok"] == 1.0
    request = examples[0].request
    bars = examples[0].section.plan.bars
    tritone = (request.key.tonic + 6) % 12  # never a scale tone of a major or minor key
    from melodex_studio.music.chord import Chord

    off_key = Plan(steps_per_bar=bars[0].drums.__len__(), bars=tuple(
        bar.model_copy(update={"chord": Chord(tritone, "maj").symbol}) for bar in bars))
    assert plan_checks(off_key, request)["chords_in_key"] == 0.0
