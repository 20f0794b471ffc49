"""The procedural composer and sample-based renderer that make training data.

Pipeline: `styles` (what each genre plays) -> `composer` (a section's exact `Plan` and
parameters, `ComposedSection`) -> `captions` (prompt text) -> `render` (GM sample banks through
TinySoundFont, mixed with pedalboard) -> `dataset` (example `index` of corpus `seed`) ->
`storage` / `build` (the corpus on disk). `train_corpus_main` backs `melodex train corpus`.
"""

from __future__ import annotations

from melodex_studio.training.corpus.build import build_corpus, train_corpus_main
from melodex_studio.training.corpus.captions import caption_for
from melodex_studio.training.corpus.composer import ComposedSong, compose_section, compose_song
from melodex_studio.training.corpus.dataset import (
    CorpusExample,
    compose_example,
    generate_example,
    is_held_out,
    split_indices,
)
from melodex_studio.training.corpus.render import (
    RenderedExample,
    RenderLabels,
    render_section,
    render_song,
)
from melodex_studio.training.corpus.section import ComposedSection, Instrumentation
from melodex_studio.training.corpus.storage import CorpusStore, default_corpus_dir
from melodex_studio.training.corpus.styles import STYLES, Style

__all__ = [
    "STYLES",
    "ComposedSection",
    "ComposedSong",
    "CorpusExample",
    "CorpusStore",
    "Instrumentation",
    "RenderLabels",
    "RenderedExample",
    "Style",
    "build_corpus",
    "caption_for",
    "compose_example",
    "compose_section",
    "compose_song",
    "default_corpus_dir",
    "generate_example",
    "is_held_out",
    "render_section",
    "render_song",
    "split_indices",
    "train_corpus_main",
]
