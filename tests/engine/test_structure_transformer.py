"""Plan tokens (vocabulary, grammar, round trips) and the structure transformer (KV cache,
determinism, constrained and teacher-forced sampling) on a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.engine import plan_tokens as pt
from melodex_studio.engine.networks.layers import KVCache, StaticKVCache
from melodex_studio.engine.networks.structure_transformer import (
    GroupBatch,
    StructureConditioning,
    StructureTransformer,
    TokenSampling,
    sampling_rotation,
)
from melodex_studio.music.chord import QUALITIES, Chord
from melodex_studio.music.key import Key
from melodex_studio.music.plan import DRUM_MASK_LIMIT, Plan, PlanBar, PlanNote
from tests.token_sequences import random_valid_tokens

KEYS = [Key.parse(name) for name in ("C", "Am", "F#", "Ebm", "Bb")]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy shared CPU a second thread makes
    every small op wait for a descheduled partner (milliseconds each)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- strategies -----------------------------------------------------------------------------------


@st.composite
def part_notes(draw: st.DrawFn, n_bars: int, steps: int) -> list[list[PlanNote]]:
    """Non-overlapping notes laid out left to right over the whole plan, split by onset bar."""
    total = n_bars * steps
    bars: list[list[PlanNote]] = [[] for _ in range(n_bars)]
    position = draw(st.integers(0, steps))
    while position < total:
        length = draw(st.integers(1, min(pt.MAX_NOTE_STEPS, total - position)))
        degree = draw(st.integers(pt.NOTE_DEGREE_MIN, pt.NOTE_DEGREE_MAX))
        bar, step = divmod(position, steps)
        bars[bar].append(PlanNote(step=step, length=length, degree=degree))
        position += length + draw(st.integers(0, steps))
    return bars


@st.composite
def vocabulary_plans(draw: st.DrawFn, max_bars: int = 3) -> Plan:
    steps = draw(st.sampled_from((16, 12, 14, 20, 6)))
    n_bars = draw(st.integers(1, max_bars))
    bass = draw(part_notes(n_bars, steps))
    melody = draw(part_notes(n_bars, steps))
    bars = []
    for index in range(n_bars):
        chord = None
        if draw(st.booleans()):
            root = draw(st.integers(0, 11))
            bass_pc = draw(st.none() | st.integers(0, 11))
            chord = Chord(root, draw(st.sampled_from(QUALITIES)), bass_pc).symbol
        bars.append(
            PlanBar(
                chord=chord,
                energy=draw(st.integers(0, 10)) / 10,
                density=draw(st.integers(0, 10)) / 10,
                drums=tuple(
                    draw(st.lists(st.integers(0, DRUM_MASK_LIMIT), min_size=steps, max_size=steps))
                ),
                bass=tuple(bass[index]),
                melody=tuple(melody[index]),
            )
        )
    return Plan(steps_per_bar=steps, bars=tuple(bars))


# --- tokens -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(plan=vocabulary_plans(), key=st.sampled_from(KEYS))
def test_plan_token_round_trip_is_exact(plan: Plan, key: Key) -> None:
    tokens = pt.encode_plan(plan, key)
    assert len(tokens) == plan.n_bars * pt.tokens_per_bar(plan.steps_per_bar)
    assert pt.decode_plan(tokens, key, plan.steps_per_bar) == plan


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.sampled_from((16, 12, 7 * 2)), bars=st.integers(1, 3))
def test_any_grammar_valid_sequence_decodes_and_encodes_back(
    seed: int, steps: int, bars: int
) -> None:
    key = KEYS[seed % len(KEYS)]
    tokens = random_valid_tokens(seed, steps, bars)
    plan = pt.decode_plan(tokens, key, steps)
    assert pt.encode_plan(plan, key) == tokens


def test_tokens_are_relative_to_the_key() -> None:
    bar = PlanBar(chord="Am7/G", drums=(0,) * 16, bass=(PlanNote(step=0, length=4, degree=0),))
    plan = Plan(steps_per_bar=16, bars=(bar,))
    moved = Plan(steps_per_bar=16, bars=(bar.model_copy(update={"chord": "Bm7/A"}),))
    assert pt.encode_plan(plan, Key.parse("C")) == pt.encode_plan(moved, Key.parse("D"))


def test_out_of_vocabulary_plans_quantise_to_valid_plans() -> None:
    bar = PlanBar(
        chord="C",
        energy=0.37,
        drums=(1,) * 16,
        melody=(PlanNote(step=0, length=8, degree=20), PlanNote(step=4, length=2, degree=-10)),
    )
    plan = Plan(steps_per_bar=16, bars=(bar,))
    quantised = pt.quantize_plan(plan, Key.parse("C"))
    assert quantised.bars[0].energy == pytest.approx(0.4)
    assert [(n.step, n.length, n.degree) for n in quantised.bars[0].melody] == [
        (0, 4, 13),
        (4, 2, -3),
    ]
    assert pt.quantize_plan(quantised, Key.parse("C")) == quantised


def test_grammar_rejects_invalid_tokens() -> None:
    grammar = pt.PlanGrammar(16)
    with pytest.raises(ValueError, match="expected BAR"):
        grammar.feed(pt.token_id(pt.TokenType.CHORD, 0))
    for token in (pt.BAR_ID, pt.token_id(pt.TokenType.CHORD, 0)):
        grammar.feed(token)
    # no chord -> no slash bass
    with pytest.raises(ValueError):
        grammar.feed(pt.token_id(pt.TokenType.CHORD_BASS, 3))
    for token in (
        pt.token_id(pt.TokenType.CHORD_BASS, 0),
        pt.token_id(pt.TokenType.ENERGY, 5),
        pt.token_id(pt.TokenType.DENSITY, 5),
        pt.token_id(pt.TokenType.DRUM_A, 1),
        pt.token_id(pt.TokenType.DRUM_B, 0),
    ):
        grammar.feed(token)
    with pytest.raises(ValueError):  # HOLD with no note sounding
        grammar.feed(pt.token_id(pt.TokenType.BASS, pt.NOTE_HOLD))


# --- the model --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[1, 2], ids=["one-step-groups", "two-step-groups"])
def model(request: pytest.FixtureRequest) -> StructureTransformer:
    """Both layouts: a 16th step a position (the models before) and two (the shipped one)."""
    return StructureTransformer.tiny_random(seed=3, steps_per_group=request.param)


def groups_of(model: StructureTransformer, tokens: list[int], steps: int) -> pt.TokenGroups:
    return pt.to_groups(tokens, steps, model.config.steps_per_group)


def conditioning(n_bars: int) -> StructureConditioning:
    text = torch.nn.functional.normalize(
        torch.randn(384, generator=torch.Generator().manual_seed(5)), dim=0
    )
    return StructureConditioning.single(text, 1, Key.parse("Am").index, 0, 12, 4, 6, n_bars)


def test_sampling_is_deterministic_per_seed(model: StructureTransformer) -> None:
    cond = conditioning(3)
    runs = [
        model.generate(
            cond, 16, 3, torch.Generator().manual_seed(seed), TokenSampling(1.0, 50, 0.95)
        )
        for seed in (7, 7, 8)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    pt.decode_plan(runs[0], Key.parse("Am"), 16)  # always a valid plan


def test_candidates_drawn_side_by_side_are_valid_different_and_reproducible(
        model: StructureTransformer) -> None:
    cond = conditioning(2)
    batch = model.generate_many(cond, 16, 2, torch.Generator().manual_seed(3), 6)
    assert batch == model.generate_many(cond, 16, 2, torch.Generator().manual_seed(3), 6)
    assert len(batch) == 6 and len({tuple(row) for row in batch}) > 1
    for row in batch:
        pt.decode_plan(row, Key.parse("Am"), 16)
    single = model.generate(cond, 16, 2, torch.Generator().manual_seed(3))
    assert single == model.generate_many(cond, 16, 2, torch.Generator().manual_seed(3), 1)[0]
    with pytest.raises(ValueError, match="n_samples"):
        model.generate_many(cond, 16, 2, torch.Generator(), 0)


def test_each_candidate_is_computed_as_if_alone(model: StructureTransformer) -> None:
    """Greedy rows depend on nothing random, so every row of a batch must be the greedy
    sequence of a batch of one: the rows share weights and calls, never state."""
    cond = conditioning(2)
    context = groups_of(model, random_valid_tokens(2, 16, 1), 16)
    greedy = TokenSampling(temperature=0.0)
    alone = model.generate(cond, 16, 2, torch.Generator(), greedy, context=context)
    batch = model.generate_many(cond, 16, 2, torch.Generator(), 4, greedy, context=context)
    assert batch == [alone] * 4


def test_batched_sampling_follows_the_distribution_and_skips_forced_rows() -> None:
    from melodex_studio.engine.networks.structure_transformer import _sample_rows

    probs = np.array([0.2, 0.5, 0.0, 0.3])
    logits = torch.log(torch.tensor(probs + 1e-30)).repeat(20_000, 1)
    allowed = np.tile(probs > 0, (20_000, 1))
    wanted = [True] * 20_000
    wanted[7] = False  # a row whose token is forced
    generator = torch.Generator().manual_seed(0)
    picks = np.array(_sample_rows(logits, allowed, wanted, TokenSampling(), generator))
    assert picks[7] == -1 and set(picks[picks >= 0]) <= {0, 1, 3}
    frequencies = np.bincount(picks[picks >= 0], minlength=4) / 19_999
    np.testing.assert_allclose(frequencies, probs, atol=0.015)
    after = torch.rand((), generator=generator, dtype=torch.float64)
    generator.manual_seed(0)  # one number per wanted row, no more
    torch.rand(19_999, generator=generator, dtype=torch.float64)
    assert after == torch.rand((), generator=generator, dtype=torch.float64)
    nucleus = _sample_rows(logits[:500], allowed[:500], [True] * 500, TokenSampling(top_p=0.6),
                           torch.Generator().manual_seed(1))
    assert set(nucleus) == {1, 3}  # 0.5, then 0.3 crosses 0.6: the 0.2 is cut
    top1 = _sample_rows(logits[:50], allowed[:50], [True] * 50, TokenSampling(top_k=1),
                        torch.Generator().manual_seed(2))
    assert set(top1) == {1}


SOME_FORCED = [True, False, True, True, True, False, True, True]


@pytest.mark.parametrize(("sampling", "wanted", "expected", "next_random"), [
    (TokenSampling(), [True] * 8, [9, 2, 7, 4, 10, 11, 1, 7], 0.8772838115692139),
    (TokenSampling(), SOME_FORCED, [9, -1, 1, 8, 5, -1, 8, 11], 0.38160383701324463),
    (TokenSampling(0.7), SOME_FORCED, [9, -1, 2, 8, 6, -1, 8, 11], 0.38160383701324463),
    (TokenSampling(1.0, 3), [True] * 8, [3, 11, 10, 10, 8, 9, 11, 2], 0.8772838115692139),
    (TokenSampling(1.3, 0, 0.8), SOME_FORCED, [8, -1, 11, 7, 10, -1, 6, 9], 0.38160383701324463),
    (TokenSampling(0.0), SOME_FORCED, [0, -1, 11, 10, 11, -1, 11, 1], 0.47356849908828735),
], ids=["plain", "forced-rows", "temperature", "top-k", "top-p", "greedy"])
def test_the_sampler_keeps_its_draws(sampling: TokenSampling, wanted: list[bool],
                                     expected: list[int], next_random: float) -> None:
    """The same logits, masks and seed give the picks they gave when the sampler was written
    (a saved take's plan re-plans the same only if they do), and use the same random numbers."""
    from melodex_studio.engine.networks.structure_transformer import _sample_rows

    logits = torch.linspace(-2.0, 2.0, 8 * 12).reshape(8, 12).sin() * 3.0
    allowed = (torch.arange(8 * 12).reshape(8, 12) % 5 != 2).numpy()
    generator = torch.Generator().manual_seed(21)
    assert _sample_rows(logits, allowed, wanted, sampling, generator) == expected
    assert float(torch.rand(1, generator=generator)) == next_random


@pytest.mark.parametrize("steps", [12, 7])
def test_kv_cache_sampling_matches_teacher_forced_logits(model: StructureTransformer,
                                                          steps: int) -> None:
    """Greedy sampling with the KV cache picks, at every position, the grammar-masked argmax
    of the full (uncached) teacher-forced forward pass on its own output (7 steps a bar: a
    two-step model's last group of a bar is half PAD)."""
    bars = 2
    cond = conditioning(bars)
    context = groups_of(model, random_valid_tokens(1, 16, 1), 16)
    tokens = model.generate(
        cond, steps, bars, torch.Generator(), TokenSampling(temperature=0.0), context=context
    )
    groups = groups_of(model, tokens, steps)
    with torch.no_grad():
        logits = model(cond, GroupBatch.from_groups(groups), GroupBatch.from_groups(context))[0]
    real = torch.as_tensor(groups.tokens).reshape(-1) != pt.PAD_ID
    assert int(real.sum()) == len(tokens) - bars  # every token but the BAR markers
    grammar = pt.PlanGrammar(steps)
    flat = iter(logits.reshape(-1, pt.VOCAB_SIZE)[real])
    for token in tokens:
        allowed = torch.from_numpy(grammar.allowed().copy())
        if grammar.expected_type() is not pt.TokenType.BAR:
            row = next(flat).masked_fill(~allowed, float("-inf"))
            assert int(row.argmax()) == token
        grammar.feed(token)


def test_the_sampling_step_is_bit_identical_to_the_trunk(model: StructureTransformer) -> None:
    """`generate`'s inlined one-position step and head compute exactly what `trunk` and
    `head_logits` compute (same operations, same order), so sampling keeps its results."""
    d = model.config.d_model
    gen = torch.Generator().manual_seed(11)
    prefill, steps = torch.randn(3, 9, d, generator=gen), torch.randn(6, 3, 1, d, generator=gen)
    cos, sin = model.rope(torch.arange(9 + len(steps)))
    dynamic, static = KVCache(model.config.n_layers), StaticKVCache(model.config.n_layers, 15)
    with torch.inference_mode():
        assert torch.equal(model.trunk(prefill, (cos[:9], sin[:9]), dynamic),
                           model.trunk(prefill, (cos[:9], sin[:9]), static))
        step, head = model._sampling_step(static), model._sampling_head()
        rotation_cos, rotation_sin = sampling_rotation(cos, sin)
        for i, x in enumerate(steps, start=9):
            expected = model.trunk(x, (cos[i : i + 1], sin[i : i + 1]), dynamic)
            state = step(x, rotation_cos[i : i + 1], rotation_sin[i : i + 1])
            assert torch.equal(state, expected)
            for slot, (lo, hi) in enumerate([(0, pt.VOCAB_SIZE), (5, 40), (7, 8), (3, 30)]):
                assert torch.equal(head(state[:, -1], slot, lo, hi),
                                   model.head_logits(state[:, -1], slot, lo, hi))
    assert static.length == dynamic.length == 15


def test_the_sampling_embedding_is_bit_identical_to_embed_groups(
        model: StructureTransformer) -> None:
    """`generate`'s per-bar embedding of a new group adds what `embed_groups` adds, in the
    same order, for every kind, for bars past the section's end and past `max_bars`."""
    width = model.width
    gen = torch.Generator().manual_seed(2)
    with torch.inference_mode():
        for n_bars, bar in ((4, 0), (4, 3), (4, 6), (70, 65), (1, 0)):
            embed = model._sampling_embed(n_bars)(bar)
            for kind in range(len(pt.group_slot_counts(16, model.config.steps_per_group))):
                tokens = torch.randint(0, pt.VOCAB_SIZE, (3, 1, width), generator=gen)
                groups = GroupBatch(tokens, torch.full((3, 1), kind),
                                    torch.full((3, 1), bar, dtype=torch.long))
                expected = model.embed_groups(groups, 1, torch.tensor([n_bars]))
                assert torch.equal(embed(tokens, kind), expected), (n_bars, bar, kind)


def test_the_static_cache_refuses_more_positions_than_it_holds() -> None:
    cache = StaticKVCache(1, 4)
    k = torch.zeros(1, 2, 3, 8)
    cache.append(0, k, k)
    with pytest.raises(ValueError, match="holds 4 positions"):
        cache.append(0, k, k)


def padded(batches: list[pt.TokenGroups]) -> GroupBatch:
    """Right-pad token groups of different lengths into one batch (PAD rows, valid False)."""
    length = max(len(groups.kinds) for groups in batches)
    tokens = torch.full((len(batches), length, batches[0].tokens.shape[1]), pt.PAD_ID)
    kinds = torch.zeros(len(batches), length, dtype=torch.long)
    bars = torch.zeros(len(batches), length, dtype=torch.long)
    valid = torch.zeros(len(batches), length, dtype=torch.bool)
    for row, groups in enumerate(batches):
        n = len(groups.kinds)
        tokens[row, :n] = torch.as_tensor(groups.tokens)
        kinds[row, :n] = torch.as_tensor(groups.kinds)
        bars[row, :n] = torch.as_tensor(groups.bars)
        valid[row, :n] = True
    return GroupBatch(tokens, kinds, bars, valid)


def test_a_padded_training_batch_matches_each_sequence_alone(model: StructureTransformer) -> None:
    sections = [  # (context steps, context bars, target steps, target bars)
        (16, 1, 16, 2),
        (12, 2, 12, 1),
    ]
    conds, contexts, targets = [], [], []
    for seed, (c_steps, c_bars, t_steps, t_bars) in enumerate(sections):
        conds.append(conditioning(t_bars))
        contexts.append(groups_of(model, random_valid_tokens(seed, c_steps, c_bars), c_steps))
        targets.append(groups_of(model, random_valid_tokens(seed + 7, t_steps, t_bars), t_steps))
    batch_cond = StructureConditioning(
        *[torch.cat([getattr(c, name) for c in conds]) for name in conds[0].__dict__]
    )
    with torch.no_grad():
        together = model(batch_cond, padded(targets), padded(contexts))
        for row, (cond, context, target) in enumerate(zip(conds, contexts, targets, strict=True)):
            alone = model(cond, GroupBatch.from_groups(target), GroupBatch.from_groups(context))[0]
            assert torch.allclose(together[row, : len(target.kinds)], alone, atol=1e-5)


def test_top_k_one_is_greedy(model: StructureTransformer) -> None:
    cond = conditioning(2)
    greedy = model.generate(cond, 16, 2, torch.Generator(), TokenSampling(temperature=0.0))
    top1 = model.generate(cond, 16, 2, torch.Generator().manual_seed(9), TokenSampling(1.0, 1))
    assert greedy == top1


def test_a_locked_note_cannot_be_lengthened() -> None:
    key = Key.parse("C")
    note_to_bar_line = PlanBar(
        drums=(0,) * 16, bass=(PlanNote(step=14, length=2, degree=0),), locked=True
    )
    template = Plan(steps_per_bar=16, bars=(note_to_bar_line, PlanBar(drums=(0,) * 16)))
    restrictions = pt.lock_restrictions(template, key)
    first_bass_of_bar_2 = pt.tokens_per_bar(16) + 5 + 2
    allowed = restrictions[first_bass_of_bar_2]
    assert allowed is not None
    assert pt.token_id(pt.TokenType.BASS, pt.NOTE_HOLD) not in allowed
    assert pt.token_id(pt.TokenType.BASS, pt.NOTE_REST) in allowed
    assert restrictions[first_bass_of_bar_2 + 4] is None  # later steps are free


@pytest.mark.parametrize("template_seed", [11, 12, 13])
def test_locked_bars_are_teacher_forced(model: StructureTransformer, template_seed: int) -> None:
    key = Key.parse("Am")
    template = pt.decode_plan(random_valid_tokens(template_seed, 16, 4), key, 16)
    locked = [1, 2]
    for index in locked:
        template = template.with_bar(
            index, template.bars[index].model_copy(update={"locked": True})
        )
    restrictions = pt.lock_restrictions(template, key)
    expected = pt.encode_plan(template, key)
    bar_length = pt.tokens_per_bar(16)
    rows = [row for seed in range(2) for row in model.generate_many(
        conditioning(4), 16, 4, torch.Generator().manual_seed(seed), 3, TokenSampling(1.5),
        restrictions=restrictions)]
    for tokens in rows:  # every candidate of a batch keeps the locked bars
        for position, allowed in enumerate(restrictions):
            if allowed is not None:
                assert tokens[position] in allowed
        plan = pt.decode_plan(tokens, key, 16)
        for index in locked:
            span = slice(index * bar_length, (index + 1) * bar_length)
            forced = [p for p in range(span.start, span.stop) if len(restrictions[p] or ()) == 1]
            assert [tokens[p] for p in forced] == [expected[p] for p in forced]
            assert plan.bars[index].drums == template.bars[index].drums
            assert plan.bars[index].chord == template.bars[index].chord
            assert plan.bars[index].melody == template.bars[index].melody
            assert plan.bars[index].bass == template.bars[index].bass


def test_parameter_count_of_the_shipping_config() -> None:
    from melodex_studio.engine.networks.structure_transformer import StructureConfig

    count = sum(p.numel() for p in StructureTransformer(StructureConfig()).parameters())
    assert 2_000_000 <= count <= 6_000_000


def test_style_ids_match_what_musicians_type() -> None:
    from melodex_studio.engine.networks.structure_transformer import StructureConfig

    config = StructureConfig(styles=("lofi", "house", "jazz"))
    assert config.style_id("lofi") == 1
    assert config.style_id("Lo-Fi hip hop") == 1
    assert config.style_id("house/EDM") == 2
    assert config.style_id("  JAZZ ") == 3
    assert config.style_id("polka") == 0
    assert config.style_id(None) == 0 and config.style_id(7) == 0 and config.style_id(2) == 2


@pytest.mark.parametrize("steps", [16, 12, 7])
def test_two_step_groups_hold_every_token_once_in_order(steps: int) -> None:
    tokens = random_valid_tokens(4, steps, 3)
    one, two = pt.to_groups(tokens, steps), pt.to_groups(tokens, steps, 2)
    assert two.tokens.shape == (3 * (1 + -(-steps // 2)), 8)
    assert one.tokens.shape == (3 * (1 + steps), 4)
    without_bars = [t for t in tokens if t != pt.BAR_ID]
    for groups in (one, two):
        flat = groups.tokens.reshape(-1)
        assert flat[flat != pt.PAD_ID].tolist() == without_bars
    assert (two.tokens[two.kinds == 0, 4:] == pt.PAD_ID).all()  # a header is 4 tokens
    assert two.kinds.max() == -(-steps // 2) and two.bars.max() == 2
