"""The document models in one import: `from melodex_studio.project.models import Project, ...`.

Each model lives in a small module of its own (fields, generation, take, section,
project_model, factory); this module only gathers them.
"""

from __future__ import annotations

from melodex_studio.music.plan import Plan, PlanBar, PlanNote
from melodex_studio.project.factory import (
    DEFAULT_SECTIONS_SPEC,
    SectionsSpecError,
    derive_seed,
    new_project,
    parse_sections_spec,
    section_kind_for_name,
)
from melodex_studio.project.fields import (
    DEFAULT_MODEL_ID,
    MAX_BPM,
    MAX_CHECKPOINTS,
    MAX_DENOISING_STEPS,
    MAX_GAIN_DB,
    MAX_GUIDANCE,
    MAX_INSTRUMENT_CHARS,
    MAX_INSTRUMENTS,
    MAX_MODEL_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_PROJECT_BARS,
    MAX_PROMPT_CHARS,
    MAX_REPAINT_RANGES,
    MAX_SECTION_BARS,
    MAX_SECTIONS,
    MAX_SEED,
    MAX_STYLE_CHARS,
    MAX_TAKES_PER_SECTION,
    MAX_TITLE_CHARS,
    MIN_BPM,
    MIN_GAIN_DB,
    SAMPLE_RATES,
    SUPPORTED_METERS,
    BlobRef,
    EntityId,
    new_id,
    validated_copy,
)
from melodex_studio.project.generation import (
    PRESETS,
    GenerationSettings,
    GuidancePreset,
    MasterSettings,
)
from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section, SectionKind
from melodex_studio.project.take import Checkpoint, Take, TakeOperation

__all__ = [
    "DEFAULT_MODEL_ID",
    "DEFAULT_SECTIONS_SPEC",
    "MAX_BPM",
    "MAX_CHECKPOINTS",
    "MAX_DENOISING_STEPS",
    "MAX_GAIN_DB",
    "MAX_GUIDANCE",
    "MAX_INSTRUMENTS",
    "MAX_INSTRUMENT_CHARS",
    "MAX_MODEL_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PROJECT_BARS",
    "MAX_PROMPT_CHARS",
    "MAX_REPAINT_RANGES",
    "MAX_SECTIONS",
    "MAX_SECTION_BARS",
    "MAX_SEED",
    "MAX_STYLE_CHARS",
    "MAX_TAKES_PER_SECTION",
    "MAX_TITLE_CHARS",
    "MIN_BPM",
    "MIN_GAIN_DB",
    "PRESETS",
    "SAMPLE_RATES",
    "SUPPORTED_METERS",
    "BlobRef",
    "Checkpoint",
    "EntityId",
    "GenerationSettings",
    "GuidancePreset",
    "MasterSettings",
    "Plan",
    "PlanBar",
    "PlanNote",
    "Project",
    "Section",
    "SectionKind",
    "SectionsSpecError",
    "Take",
    "TakeOperation",
    "derive_seed",
    "new_id",
    "new_project",
    "parse_sections_spec",
    "section_kind_for_name",
    "validated_copy",
]
