"""Commands that edit one section's content: name, prompt, settings, plan."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.key import Key
from melodex_studio.music.key_change import plan_in_key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar
from melodex_studio.project.commands.base import EditError, ProjectEdit, find_section
from melodex_studio.project.fields import validated_copy
from melodex_studio.project.generation import PRESETS, GenerationSettings
from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section


class _SectionEdit(ProjectEdit):
    """An edit of one section: subclasses build the new section with `edit`."""

    def __init__(self, section_id: str) -> None:
        super().__init__()
        self.section_id = section_id

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        return project.replace_section(self.edit(section))

    @abstractmethod
    def edit(self, section: Section) -> Section: ...


class RenameSection(_SectionEdit):
    def __init__(self, section_id: str, name: str) -> None:
        super().__init__(section_id)
        self.name = name

    def edit(self, section: Section) -> Section:
        return validated_copy(section, name=self.name)

    def describe(self, project: Project) -> str:
        return f"Rename {project.section(self.section_id).name} to {self.name.strip()}"


class EditPrompt(_SectionEdit):
    """Set a section's prompt. Consecutive edits of one prompt (typing) merge into one step."""

    def __init__(self, section_id: str, prompt: str) -> None:
        super().__init__(section_id)
        self.prompt = prompt
        self.merge_key = ("prompt", section_id)

    def edit(self, section: Section) -> Section:
        return validated_copy(section, prompt=self.prompt)

    def describe(self, project: Project) -> str:
        return f"Edit prompt of {project.section(self.section_id).name}"


GENERATION_FIELDS = frozenset(GenerationSettings.model_fields)
SECTION_SETTING_FIELDS = frozenset(
    {"energy", "instrumentation", "style", "kind", "gain_db", "muted", "bpm"}
)
#: Settings set by a switch or a choice (a check box, a menu), not by dragging or stepping.
SWITCH_FIELDS = frozenset({"muted", "seed_locked", "sampler", "preset", "kind", "style"})
_FIELD_LABELS = {
    "guidance": "guidance",
    "guidance_interval": "guidance interval",
    "steps": "steps",
    "seed": "seed",
    "seed_locked": "seed lock",
    "sampler": "sampler",
    "preset": "preset",
    "energy": "energy",
    "instrumentation": "instrumentation",
    "style": "style",
    "kind": "section type",
    "gain_db": "gain",
    "bpm": "tempo",
}


class EditSectionSettings(_SectionEdit):
    """Change generation settings (guidance, steps, seed, sampler, preset, ...) and/or the
    section's energy, instrumentation, style, kind, gain, mute and tempo (None: the song's).
    Choosing a preset other than "custom" without a guidance value moves guidance to the
    preset's default, as the preset menu promises. Repeated edits of the same fields (a slider
    drag) merge, except switches and choices (`SWITCH_FIELDS`)."""

    def __init__(self, section_id: str, **changes: Any) -> None:
        super().__init__(section_id)
        unknown = set(changes) - GENERATION_FIELDS - SECTION_SETTING_FIELDS
        if unknown:
            raise EditError(f"{sorted(unknown)[0]!r} is not a section setting")
        if not changes:
            raise EditError("no settings to change")
        self.changes = dict(changes)
        # A drag or a spin box's arrows merge into one step; a switch or a choice never does:
        # two presses of one would merge into a step that changes nothing and disappears.
        # Back to the song's tempo is a switch too: merged with the tempo edits before it, the
        # step would no longer say that the section follows the song.
        switch = SWITCH_FIELDS & changes.keys() or ("bpm" in changes and changes["bpm"] is None)
        self.merge_key = None if switch else ("settings", section_id, frozenset(changes))

    def edit(self, section: Section) -> Section:
        generation = {k: v for k, v in self.changes.items() if k in GENERATION_FIELDS}
        preset = generation.get("preset")
        if preset is not None and preset != "custom" and "guidance" not in generation:
            if preset not in PRESETS:
                raise EditError(f"unknown preset {preset!r}")
            generation["guidance"] = PRESETS[preset].default_guidance
        own = {k: v for k, v in self.changes.items() if k in SECTION_SETTING_FIELDS}
        if generation:
            own["settings"] = validated_copy(section.settings, **generation)
        return validated_copy(section, **own)

    def describe(self, project: Project) -> str:
        name = project.section(self.section_id).name
        if set(self.changes) == {"muted"}:
            return f"{'Mute' if self.changes['muted'] else 'Unmute'} {name}"
        if self.changes == {"bpm": None}:
            return f"{name} follows the song's tempo"
        if len(self.changes) == 1:
            (field,) = self.changes
            return f"Change {_FIELD_LABELS[field]} of {name}"
        return f"Edit settings of {name}"


class _SetSectionOwn(ProjectEdit):
    """Give a section a value of its own for one of the song's settings (`field`: "key",
    "meter"), or None to follow the song's again; `parse` reads what the musician gave."""

    field: str

    def __init__(self, section_id: str, value: str | None,
                 parse: Callable[[str], object]) -> None:
        super().__init__()
        self.section_id = section_id
        try:
            self.value = None if value is None else str(parse(value))
        except MusicParseError as error:
            raise EditError(str(error)) from None

    def describe(self, project: Project) -> str:
        name = project.section(self.section_id).name
        if self.value is None:
            return f"{name} follows the song's {self.field}"
        return f"Change {self.field} of {name} to {self.value}"


class SetSectionKey(_SetSectionOwn):
    """Give a section a key of its own (a modulation), or None to follow the song's key again.
    Its plan moves with it (`music.key_change`), so chords and bass line stay together; its
    takes keep the key they were rendered in."""

    field = "key"

    def __init__(self, section_id: str, key: str | None) -> None:
        super().__init__(section_id, key, Key.parse)

    @property
    def key(self) -> str | None:
        return self.value

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        old = project.section_key(section)
        new = Key.parse(self.key or project.key)
        plan = None if section.plan is None else plan_in_key(section.plan, old, new)
        return project.replace_section(validated_copy(section, key=self.key, plan=plan))


class SetSectionMeter(_SetSectionOwn):
    """Give a section a meter of its own, or None to follow the song's meter again. A plan
    whose bars no longer fit (another number of 16th steps per bar) is cleared, as a song
    meter change clears it; undo brings it back. Its takes keep the meter they were rendered
    in."""

    field = "meter"

    def __init__(self, section_id: str, meter: str | None) -> None:
        super().__init__(section_id, meter, Meter.parse)

    @property
    def meter(self) -> str | None:
        return self.value

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        steps = Meter.parse(self.meter or project.meter).sixteenths_per_bar
        plan = section.plan if section.plan is None or section.plan.steps_per_bar == steps else None
        return project.replace_section(validated_copy(section, meter=self.meter, plan=plan))


class SetPlan(_SectionEdit):
    """Replace a section's whole plan (a new plan from the structure transformer), or clear it
    with None. The plan must have one bar per bar of the section."""

    def __init__(self, section_id: str, plan: Plan | None) -> None:
        super().__init__(section_id)
        self.plan = plan

    def edit(self, section: Section) -> Section:
        return validated_copy(section, plan=self.plan)

    def describe(self, project: Project) -> str:
        name = project.section(self.section_id).name
        return f"Clear plan of {name}" if self.plan is None else f"Plan {name}"


class EditPlanBar(_SectionEdit):
    """Replace bar `bar_index` (0-based) of a section's plan: change a chord, drop the drums.
    Consecutive edits of the same bar merge."""

    def __init__(self, section_id: str, bar_index: int, bar: PlanBar) -> None:
        super().__init__(section_id)
        self.bar_index = bar_index
        self.bar = bar
        self.merge_key = ("plan_bar", section_id, bar_index)

    def edit(self, section: Section) -> Section:
        if section.plan is None:
            raise EditError(f"{section.name!r} has no plan yet: plan it first")
        if not 0 <= self.bar_index < section.plan.n_bars:
            raise EditError(
                f"bar {self.bar_index + 1} is outside {section.name!r} "
                f"({section.plan.n_bars} bars)"
            )
        if len(self.bar.drums) != section.plan.steps_per_bar:
            raise EditError(
                f"the new bar has {len(self.bar.drums)} drum steps; {section.name!r} has "
                f"{section.plan.steps_per_bar} per bar"
            )
        bars = list(section.plan.bars)
        bars[self.bar_index] = self.bar
        return validated_copy(section, plan=validated_copy(section.plan, bars=tuple(bars)))

    def describe(self, project: Project) -> str:
        return f"Edit bar {self.bar_index + 1} of {project.section(self.section_id).name}"
