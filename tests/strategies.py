"""Hypothesis strategies for valid documents, shared by the project and store tests.

Everything generated is VALID (non-overlapping sections, unique names and ids, consistent
takes) and SMALL (few bars, few takes) so property tests stay fast.

Blobs: every blob a take references is safetensors bytes.
- latent blobs (`Take.noise`, `Checkpoint.latent`, `Take.final_latent`): {"latent": float32
  array of shape (channels, frames)}, made by `latent_blob`;
- audio blobs (`Take.audio`): {"audio": float32 array of shape (n,)}, made by `audio_blob`.
`projects()` uses random hex refs (no bytes behind them); `projects_with_blobs()` returns
(project, {sha256: bytes}) whose keys are exactly `project.blob_refs()` and whose bytes hash to
their key. `blob_kinds(project)` says which ref is a latent and which is audio.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from hypothesis import strategies as st
from safetensors.numpy import save as save_safetensors

from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DRUM_MASK_LIMIT, Plan, PlanBar, PlanNote
from melodex_studio.project.models import (
    MAX_SEED,
    SUPPORTED_METERS,
    Checkpoint,
    GenerationSettings,
    MasterSettings,
    Project,
    Section,
    SectionKind,
    Take,
    TakeOperation,
)

HEX_DIGITS = "0123456789abcdef"
CHORDS = ("C", "Am", "F", "G7", "Dm7", "Cmaj7/E", "F#m7", "Bb", "Ebmaj7", "Bdim", "Esus4")
KEYS = ("C major", "A minor", "F# minor", "Bb major", "Eb minor", "G major", "E major")
_TEXT_CHARS = st.characters(categories=("L", "N", "P", "S"))

BlobKind = Literal["latent", "audio"]


# -- small values ------------------------------------------------------------------------------


def blob_refs() -> st.SearchStrategy[str]:
    """Random sha256-shaped refs (no bytes behind them)."""
    return st.text(HEX_DIGITS, min_size=64, max_size=64)


def entity_ids() -> st.SearchStrategy[str]:
    return st.uuids(version=4).map(lambda value: value.hex)


def utc_datetimes() -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )


def names(max_size: int = 16) -> st.SearchStrategy[str]:
    """Valid section names: printable, no surrounding spaces, spaces allowed inside."""
    words = st.text(_TEXT_CHARS, min_size=1, max_size=8)
    return (
        st.lists(words, min_size=1, max_size=3)
        .map(" ".join)
        .map(lambda name: name[:max_size].strip())
        .filter(bool)
    )


def prompts() -> st.SearchStrategy[str]:
    return st.text(st.one_of(_TEXT_CHARS, st.sampled_from(" \n\t")), max_size=40)


def unit_floats() -> st.SearchStrategy[float]:
    return st.floats(0.0, 1.0, allow_nan=False)


def generation_settings() -> st.SearchStrategy[GenerationSettings]:
    interval = (
        st.tuples(unit_floats(), unit_floats())
        .filter(lambda pair: pair[0] != pair[1])
        .map(lambda pair: (min(pair), max(pair)))
    )
    return st.builds(
        GenerationSettings,
        guidance=st.floats(0.0, 20.0),
        guidance_interval=interval,
        steps=st.integers(1, 30),
        seed=st.integers(0, MAX_SEED),
        seed_locked=st.booleans(),
        sampler=st.sampled_from(("euler", "heun")),
        preset=st.sampled_from(("film", "social", "sound_design", "custom")),
    )


def master_settings() -> st.SearchStrategy[MasterSettings]:
    return st.builds(
        MasterSettings,
        gain_db=st.floats(-60.0, 12.0),
        loudness_target_lufs=st.floats(-40.0, -5.0),
        true_peak_dbtp=st.floats(-9.0, 0.0),
    )


# -- plans -------------------------------------------------------------------------------------


def plan_notes(steps_per_bar: int) -> st.SearchStrategy[PlanNote]:
    return st.builds(
        PlanNote,
        step=st.integers(0, steps_per_bar - 1),
        length=st.integers(1, 2 * steps_per_bar),
        degree=st.integers(-7, 14),
    )


def plan_bars(steps_per_bar: int) -> st.SearchStrategy[PlanBar]:
    notes = st.lists(plan_notes(steps_per_bar), max_size=3).map(tuple)
    return st.builds(
        PlanBar,
        chord=st.none() | st.sampled_from(CHORDS),
        energy=unit_floats(),
        density=unit_floats(),
        drums=st.lists(
            st.integers(0, DRUM_MASK_LIMIT), min_size=steps_per_bar, max_size=steps_per_bar
        ).map(tuple),
        bass=notes,
        melody=notes,
        locked=st.booleans(),
    )


def plans(n_bars: int, steps_per_bar: int = 16) -> st.SearchStrategy[Plan]:
    return st.lists(plan_bars(steps_per_bar), min_size=n_bars, max_size=n_bars).map(
        lambda bars: Plan(steps_per_bar=steps_per_bar, bars=tuple(bars))
    )


# -- takes and sections -------------------------------------------------------------------------


@st.composite
def takes(
    draw: st.DrawFn,
    section_id: str,
    n_bars: int,
    *,
    steps_per_bar: int = 16,
    take_ids: st.SearchStrategy[str] | None = None,
    parent_ids: tuple[str, ...] = (),
    latent_refs: st.SearchStrategy[str] | None = None,
    audio_refs: st.SearchStrategy[str] | None = None,
) -> Take:
    """A valid take of a section `n_bars` long. `parent_ids`: earlier takes it may derive from."""
    latent_refs = latent_refs if latent_refs is not None else blob_refs()
    audio_refs = audio_refs if audio_refs is not None else blob_refs()
    take_id = draw(take_ids if take_ids is not None else entity_ids())
    start = draw(st.integers(0, n_bars - 1))
    end = draw(st.integers(start + 1, n_bars))
    operation = draw(st.sampled_from(TakeOperation))
    repaint_ranges: tuple[tuple[int, int], ...] = ()
    if operation is TakeOperation.REPAINT:
        points = draw(
            st.lists(st.integers(start, end), min_size=2, max_size=4, unique=True).map(sorted)
        )
        repaint_ranges = tuple(zip(points[0::2], points[1::2], strict=False))
    known_parents = st.sampled_from(parent_ids) if parent_ids else st.nothing()
    parent_id = draw(st.none() | known_parents)
    strength = source_step = None
    settings = draw(generation_settings())
    if operation is TakeOperation.VARY:
        if parent_id is None:
            parent_id = draw(known_parents | entity_ids().filter(lambda i: i != take_id))
        strength = draw(unit_floats())
        source_step = draw(st.none() | st.integers(0, settings.steps))
    steps = draw(st.lists(st.integers(0, settings.steps), max_size=3, unique=True).map(sorted))
    return Take(
        id=take_id,
        section_id=section_id,
        region_start_bar=start,
        region_end_bar=end,
        repaint_ranges=repaint_ranges,
        parent_id=parent_id,
        operation=operation,
        prompt=draw(prompts()),
        settings=settings,
        plan=draw(st.none() | plans(n_bars, steps_per_bar)),
        style=draw(st.none() | names()),
        model_id=draw(st.sampled_from(("melodex-tiny", "stable-audio-open-1.0"))),
        weights_hash=draw(st.just("") | blob_refs()),
        seed=settings.seed,
        strength=strength,
        source_checkpoint_step=source_step,
        noise=draw(st.none() | latent_refs),
        checkpoints=tuple(Checkpoint(step=step, latent=draw(latent_refs)) for step in steps),
        final_latent=draw(st.none() | latent_refs),
        audio=draw(st.none() | audio_refs),
        latent_frame_rate=draw(st.sampled_from((21.5, 25.0, 50.0))),
        audio_sample_rate=draw(st.sampled_from((24000, 44100, 48000))),
        created=draw(utc_datetimes()),
        label=draw(st.none() | names()),
    )


@st.composite
def sections(
    draw: st.DrawFn,
    *,
    start_bar: int = 0,
    name: str | None = None,
    section_id: str | None = None,
    max_bars: int = 6,
    max_takes: int = 3,
    steps_per_bar: int = 16,
    take_ids: st.SearchStrategy[str] | None = None,
    latent_refs: st.SearchStrategy[str] | None = None,
    audio_refs: st.SearchStrategy[str] | None = None,
) -> Section:
    """A valid section starting at `start_bar`; take ids come from `take_ids` (default random;
    pass a strategy that avoids ids used elsewhere when building a project)."""
    section_id = section_id or draw(entity_ids())
    length = draw(st.integers(1, max_bars))
    n_takes = draw(st.integers(0, max_takes))
    made: list[Take] = []
    for _ in range(n_takes):
        ids = (take_ids if take_ids is not None else entity_ids()).filter(
            lambda i: i not in {take.id for take in made}
        )
        made.append(
            draw(
                takes(
                    section_id,
                    length,
                    steps_per_bar=steps_per_bar,
                    take_ids=ids,
                    parent_ids=tuple(take.id for take in made),
                    latent_refs=latent_refs,
                    audio_refs=audio_refs,
                )
            )
        )
    active = draw(st.none() | st.sampled_from([take.id for take in made])) if made else None
    return Section(
        id=section_id,
        name=name if name is not None else draw(names()),
        kind=draw(st.sampled_from(SectionKind)),
        start_bar=start_bar,
        length_bars=length,
        prompt=draw(prompts()),
        energy=draw(unit_floats()),
        instrumentation=tuple(draw(st.lists(names(), max_size=3))),
        style=draw(st.none() | names()),
        settings=draw(generation_settings()),
        plan=draw(st.none() | plans(length, steps_per_bar)),
        takes=tuple(made),
        active_take_id=active,
        gain_db=draw(st.floats(-60.0, 12.0)),
        muted=draw(st.booleans()),
    )


@st.composite
def projects(
    draw: st.DrawFn,
    max_sections: int = 4,
    max_takes: int = 3,
    *,
    min_sections: int = 0,
    max_bars: int = 6,
    latent_refs: st.SearchStrategy[str] | None = None,
    audio_refs: st.SearchStrategy[str] | None = None,
) -> Project:
    """A valid project: sections in order with random gaps, unique names and ids."""
    meter = draw(st.sampled_from(SUPPORTED_METERS))
    steps_per_bar = Meter.parse(meter).sixteenths_per_bar
    n_sections = draw(st.integers(min_sections, max_sections))
    section_names = draw(
        st.lists(names(), min_size=n_sections, max_size=n_sections, unique_by=str.casefold)
    )
    section_ids = draw(
        st.lists(entity_ids(), min_size=n_sections, max_size=n_sections, unique=True)
    )
    used_take_ids: set[str] = set()
    fresh_take_ids = entity_ids().filter(lambda i: i not in used_take_ids)
    made: list[Section] = []
    bar = draw(st.integers(0, 2))
    for name, section_id in zip(section_names, section_ids, strict=True):
        section = draw(
            sections(
                start_bar=bar,
                name=name,
                section_id=section_id,
                max_bars=max_bars,
                max_takes=max_takes,
                steps_per_bar=steps_per_bar,
                take_ids=fresh_take_ids,
                latent_refs=latent_refs,
                audio_refs=audio_refs,
            )
        )
        used_take_ids.update(section.take_ids())
        made.append(section)
        bar = section.end_bar + draw(st.integers(0, 2))
    created = draw(st.none() | utc_datetimes())
    return Project(
        id=draw(entity_ids()),
        title=draw(names(40)),
        sample_rate=draw(st.sampled_from((22050, 24000, 32000, 44100, 48000))),
        bpm=draw(st.floats(20.0, 400.0)),
        key=draw(st.sampled_from(KEYS)),
        meter=meter,
        sections=tuple(made),
        master=draw(master_settings()),
        model_id=draw(st.sampled_from(("melodex-tiny", "musicgen-small"))),
        created=created,
        modified=created,
    )


# -- projects with real blob bytes --------------------------------------------------------------


def latent_blob(latent: np.ndarray) -> bytes:
    """Safetensors bytes of a latent (noise, checkpoint or final latent): {"latent": float32}."""
    return save_safetensors({"latent": np.ascontiguousarray(latent, dtype=np.float32)})


def audio_blob(audio: np.ndarray) -> bytes:
    """Safetensors bytes of decoded audio: {"audio": float32 (n,)}."""
    return save_safetensors({"audio": np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)})


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.composite
def latent_blobs(draw: st.DrawFn) -> bytes:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 8)))
    return latent_blob(rng.standard_normal(shape, dtype=np.float32))


@st.composite
def audio_blobs(draw: st.DrawFn) -> bytes:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 64))
    return audio_blob(rng.uniform(-1.0, 1.0, n).astype(np.float32))


@st.composite
def projects_with_blobs(
    draw: st.DrawFn, max_sections: int = 3, max_takes: int = 2, *, min_sections: int = 1
) -> tuple[Project, dict[str, bytes]]:
    """(project, {sha256 hex: safetensors bytes}) with keys == project.blob_refs(). Blobs are
    drawn from small pools, so several takes often share one blob (as content addressing does)."""
    latents = {sha256_hex(b): b for b in draw(st.lists(latent_blobs(), min_size=1, max_size=4))}
    audios = {sha256_hex(b): b for b in draw(st.lists(audio_blobs(), min_size=1, max_size=3))}
    project = draw(
        projects(
            max_sections,
            max_takes,
            min_sections=min_sections,
            latent_refs=st.sampled_from(sorted(latents)),
            audio_refs=st.sampled_from(sorted(audios)),
        )
    )
    pool = {**latents, **audios}
    return project, {ref: pool[ref] for ref in project.blob_refs()}


def blob_kinds(project: Project) -> dict[str, BlobKind]:
    """Which referenced blobs hold latents and which hold audio."""
    kinds: dict[str, BlobKind] = {}
    for section in project.sections:
        for take in section.takes:
            for ref in take.tensor_refs():
                kinds[ref] = "latent"
            if take.audio is not None:
                kinds[take.audio] = "audio"
    return kinds
