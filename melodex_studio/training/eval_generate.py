"""`melodex eval generate`: ask a model for a fixed set of sections and judge what comes back.

For every section of `eval_design.design_sections`: embed the prompt, plan it with the structure
transformer, render it with the renderer, decode it with the codec (the pipelines the studio
runs, at the studio's default settings), then repaint the two middle bars with a new seed and
decode the whole repainted latent again (the seam the renderer leaves, before the studio's
crossfade splice hides part of it). The audio is judged by `eval_metrics` against the request:
tempo, key, per-bar chords against the *plan* (did the renderer play what was planned), and the
repaint's seams.

A repaint's edges are bar lines, so its seam score compares the flux there with the flux at the
section's other bar lines (`eval_metrics.seam_score`); the same score of the untouched render
at the same two bar lines is reported beside it (``seam_baseline``), and the ratio to the
median over all frames as ``seam_vs_all_frames`` (it mostly measures how hard the downbeats hit).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from melodex_studio.engine.mel import MelConfig
from melodex_studio.engine.pipelines.decode import decode
from melodex_studio.engine.pipelines.plan import PLAN_CANDIDATES, plan_section
from melodex_studio.engine.pipelines.render import RenderResult, render
from melodex_studio.engine.pipelines.render_in_key import DEFAULT_KEY_RETRIES, render_in_key
from melodex_studio.engine.sampling import interval_from_progress
from melodex_studio.music.key_reading import plan_pitch_weights
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.project.generation import GenerationSettings
from melodex_studio.training.eval_design import EvalSection
from melodex_studio.training.eval_metrics import (
    chroma_frames,
    judge_chords,
    judge_key,
    judge_tempo,
    seam_score,
)
from melodex_studio.training.eval_models import GenerationModels
from melodex_studio.training.eval_style import StyleProbe
from melodex_studio.training.section_image import section_image

SEAM_TARGET = 1.5
_DEFAULTS = GenerationSettings()  # what a fresh section in the studio renders with


@dataclass(frozen=True)
class GenerateSettings:
    steps: int = _DEFAULTS.steps
    guidance: float = _DEFAULTS.guidance
    # In t, as `render` takes it (the studio's setting is in progress: 0 = noise).
    guidance_interval: tuple[float, float] = interval_from_progress(_DEFAULTS.guidance_interval)
    sampler: str = _DEFAULTS.sampler
    repaint_bars: int = 2
    plan_adapter: bool = True  # decode with the plan's raster when the codec has an adapter
    keep_tonic_mode: bool = True  # plan_section's: no major tonic chord in a minor key
    plan_candidates: int = PLAN_CANDIDATES  # plan_section's: plans drawn, one kept
    key_retries: int = DEFAULT_KEY_RETRIES  # render_in_key's: renders again when heard off key


def _repaint_span(section: EvalSection, repaint_bars: int) -> tuple[int, int]:
    """First bar and bar count of the repaint: `repaint_bars` bars centred in the section."""
    bars = min(repaint_bars, section.n_bars - 2)
    return (section.n_bars - bars) // 2, bars


def evaluate_section(models: GenerationModels, section: EvalSection,
                     settings: GenerateSettings,
                     audio_dir: Path | None = None,
                     style_probe: StyleProbe | None = None) -> dict[str, Any]:
    """Plan, render, decode, repaint and judge one section; the record of `evaluate_generation`."""
    codec = models.codec
    rate, frame_rate = codec.sample_rate, codec.config.latent_frame_rate
    grid = TempoGrid(section.bpm, section.meter, rate)
    n_frames = grid.bar_span_frames(0, section.n_bars, frame_rate)[1]
    n_samples = grid.bar_span_samples(0, section.n_bars)[1]
    seconds: dict[str, float] = {}
    cpu_start = time.process_time()  # beside the wall clock: on a shared machine it waits

    def timed(name: str, work: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = work()
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
        return result

    text = timed("embed", lambda: models.embed(section.prompt).to(models.device))
    plan = timed("plan", lambda: plan_section(
        models.structure, text, section.key, section.meter, section.bpm, section.section_kind,
        section.energy, section.n_bars, style=section.style, seed=section.seed,
        keep_tonic_mode=settings.keep_tonic_mode, candidates=settings.plan_candidates))
    render_args = dict(frame_rate=frame_rate, steps=settings.steps, guidance=settings.guidance,
                       guidance_interval=settings.guidance_interval, sampler=settings.sampler,
                       shift=models.schedule_shift, checkpoint_steps=None)

    def render_seed(seed: int) -> RenderResult:
        return timed("render", lambda: render(
            models.renderer, plan, text, grid, section.key, n_frames, seed=seed, **render_args))

    def audio_of(rendered: RenderResult) -> np.ndarray:
        control = rendered.control if settings.plan_adapter else None
        return timed("decode", lambda: _decode(models, rendered.final_latent, n_samples, control))

    # As the studio renders a whole section: listened to, rendered again when off key.
    spent_before, started = sum(seconds.values()), time.perf_counter()
    listened = render_in_key(render_seed, audio_of, section.key, rate, section.seed,
                             settings.key_retries)
    seconds["listen"] = time.perf_counter() - started - (sum(seconds.values()) - spent_before)
    latent, audio = listened.result.final_latent, listened.audio
    control = listened.result.control if settings.plan_adapter else None

    first_bar, bars = _repaint_span(section, settings.repaint_bars)
    lo, hi = grid.bar_span_frames(first_bar, bars, frame_rate)
    mask = torch.zeros(n_frames, dtype=torch.bool)
    mask[lo:hi] = True
    repainted = timed("repaint", lambda: render(
        models.renderer, plan, text, grid, section.key, n_frames, region_mask=mask,
        source_latents=latent, seed=section.seed + 1, **render_args).final_latent)
    repaint_audio = timed("decode", lambda: _decode(models, repainted, n_samples, control))

    def judge() -> dict[str, Any]:
        chroma = chroma_frames(audio, rate)
        edges = [lo * codec.samples_per_latent_frame, hi * codec.samples_per_latent_frame]
        # The section's other bar lines: where the music itself puts its downbeats.
        bar_lines = [grid.bar_to_sample(bar) for bar in range(1, section.n_bars)
                     if bar not in (first_bar, first_bar + bars)]
        return {
            "tempo": asdict(judge_tempo(audio, rate, section.bpm, section.meter)),
            "key_result": asdict(judge_key(chroma, section.key)),
            "score_key_result": asdict(judge_key(plan_pitch_weights(plan, section.key),
                                                 section.key)),
            "chords": asdict(judge_chords(chroma, grid, plan)),
            "seam": asdict(seam_score(repaint_audio, edges, bar_lines)),
            "seam_baseline": asdict(seam_score(audio, edges, bar_lines)),
            "seam_vs_all_frames": asdict(seam_score(repaint_audio, edges)),
            **({} if style_probe is None else
               {"style_result": style_probe.judge(audio, rate, section.style)}),
        }

    judged = timed("analysis", judge)
    if audio_dir is not None:
        _write_audio(audio_dir, section, grid, codec.config.mel, audio, repaint_audio)
    key_check = {"attempts": listened.attempts, "seed": listened.seed, "in_key": listened.in_key,
                 "heard": None if listened.heard is None else str(listened.heard)}
    return {**section.to_dict(), **judged, "key_check": key_check, "planned_chords": plan.chords(),
            "repaint_bars": [first_bar, first_bar + bars], "audio_seconds": n_samples / rate,
            "seconds": seconds, "cpu_seconds": time.process_time() - cpu_start}


def _decode(models: GenerationModels, latent: torch.Tensor, n_samples: int,
            control: torch.Tensor | None) -> np.ndarray:
    audio = decode(models.codec, latent.to(models.device), control=control).float().cpu().numpy()
    return np.ascontiguousarray(audio[:n_samples])


def _write_audio(folder: Path, section: EvalSection, grid: TempoGrid, mel: MelConfig,
                 audio: np.ndarray, repainted: np.ndarray) -> None:
    """The section and its repaint as WAV, and the section's picture (`section_image`)."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{section.index:03d}_{section.style}"
    soundfile.write(str(folder / f"{stem}.wav"), audio, grid.sample_rate)
    soundfile.write(str(folder / f"{stem}_repaint.wav"), repainted, grid.sample_rate)
    section_image(audio, grid, section.n_bars, mel, folder / f"{stem}.png")


# --- summary -----------------------------------------------------------------------------------


def _rate(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if flags else float("nan")


def _percentile(values: Sequence[float], q: float) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.percentile(finite, q)) if finite else float("nan")


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one table row over `records` (rates are fractions 0..1)."""
    tempo = [r["tempo"] for r in records]
    judged = sum(r["chords"]["bars_judged"] for r in records)
    agreeing = sum(r["chords"]["bars_agreeing"] for r in records)
    seams = [r["seam"]["score"] for r in records if "seam" in r]  # the corpus has no repaints
    baselines = [r["seam_baseline"]["score"] for r in records if "seam_baseline" in r]
    seconds = [sum(r["seconds"].values()) for r in records if "seconds" in r]
    cpu = [r["cpu_seconds"] for r in records if "cpu_seconds" in r]
    timed = [r for r in records if "seconds" in r]
    styles = [r["style_result"]["correct"] for r in records if "style_result" in r]
    checks = [r["key_check"] for r in records if "key_check" in r]
    return {
        "sections": len(records),
        "tempo_within_2pct": _rate([t["within"] for t in tempo]),
        "tempo_exact": _rate([t["within"] and not t["half_double"] for t in tempo]),
        "half_double": sum(bool(t["half_double"]) for t in tempo),
        "phase_slipped": sum(t.get("phase_slips", 0) > 0 for t in tempo),
        "tempo_error_median_pct": _percentile([t["error_pct"] for t in tempo], 50),
        "key_correct": _rate([r["key_result"]["correct"] for r in records]),
        "key_related": _rate([r["key_result"]["related"] for r in records]),
        "score_key_correct": _rate([r["score_key_result"]["correct"] for r in records]),
        "rendered_again": sum(check["attempts"] > 1 for check in checks),
        "extra_renders": sum(check["attempts"] - 1 for check in checks),
        "heard_in_key_after_retry": sum(check["attempts"] > 1 and check["in_key"]
                                        for check in checks),
        "chord_agreement": agreeing / judged if judged else float("nan"),
        "chord_bars": judged,
        "style_correct": _rate(styles),
        "seam_median": _percentile(seams, 50),
        "seam_p90": _percentile(seams, 90),
        "seam_baseline_median": _percentile(baselines, 50),
        "seam_vs_all_frames_median": _percentile(
            [r["seam_vs_all_frames"]["score"] for r in records if "seam_vs_all_frames" in r], 50),
        "seconds_per_section": float(np.mean(seconds)) if seconds else float("nan"),
        "cpu_seconds_per_section": float(np.mean(cpu)) if cpu else float("nan"),
        "audio_seconds_per_section": float(np.mean([r["audio_seconds"] for r in records])),
        "stage_seconds": {stage: float(np.mean([r["seconds"][stage] for r in timed]))
                          for stage in (timed[0]["seconds"] if timed else {})},
    }


def _cell(value: float, kind: str) -> str:
    if not math.isfinite(value):
        return "-"
    return {"pct": f"{value:.0%}", "ratio": f"{value:.2f}", "s": f"{value:.1f}"}[kind]


def format_table(result: dict[str, Any]) -> str:
    header = (f"{'style':<10}{'n':>4}{'tempo±2%':>10}{'exact':>7}{'½/2×':>6}{'key':>6}"
              f"{'score':>7}{'chords':>8}{'style':>7}{'seam med':>10}{'seam p90':>10}{'(orig)':>8}"
              f"{'s/sect':>8}")
    settings = result["settings"]
    count = result["overall"]["sections"]
    low, high = settings["guidance_interval"]
    interval = "" if (low, high) == (0.0, 1.0) else f" in t {low:g}-{high:g}"
    lines = [f"generation evaluation: {count} section{'' if count == 1 else 's'}, "
             f"{result['model']}, {settings['steps']} steps, guidance {settings['guidance']}"
             f"{interval}", header]
    rows = [*result["by_style"].items(), ("overall", result["overall"])]
    if result.get("reference"):
        rows.append(("corpus", result["reference"]))
    for name, row in rows:
        lines.append(
            f"{name:<10}{row['sections']:>4}{_cell(row['tempo_within_2pct'], 'pct'):>10}"
            f"{_cell(row['tempo_exact'], 'pct'):>7}{row['half_double']:>6}"
            f"{_cell(row['key_correct'], 'pct'):>6}{_cell(row['score_key_correct'], 'pct'):>7}"
            f"{_cell(row['chord_agreement'], 'pct'):>8}"
            f"{_cell(row.get('style_correct', float('nan')), 'pct'):>7}"
            f"{_cell(row['seam_median'], 'ratio'):>10}{_cell(row['seam_p90'], 'ratio'):>10}"
            f"{_cell(row['seam_baseline_median'], 'ratio'):>8}"
            f"{_cell(row['seconds_per_section'], 's'):>8}")
    overall = result["overall"]
    lines.append(
        f"tempo: half/double time counted right ({overall['half_double']} sections), the beat "
        f"tracker slipped phase in {overall['phase_slipped']} (the line kept its slope); key: "
        f"exact only ({_cell(overall['key_related'], 'pct')} more were a related key); score: the "
        f"same key profile on the plan's own notes, what any renderer of the plan can reach")
    if "rendered_again" in overall:
        lines.append(
            f"key check: each section is listened to as the studio does and rendered again "
            f"from a new seed when heard off key: {overall['rendered_again']} sections, "
            f"{overall['extra_renders']} extra renders, {overall['heard_in_key_after_retry']} "
            f"then heard in key by the studio's listener")
    lines.append(
        f"seam: flux at the repaint edges / median flux at the other bar lines, target <= "
        f"{SEAM_TARGET} (orig: the same edges unrepainted; over the median of all frames "
        f"instead: {_cell(overall['seam_vs_all_frames_median'], 'ratio')})")
    stages = ", ".join(f"{k} {v:.1f}" for k, v in overall["stage_seconds"].items())
    lines.append(
        f"time per section ({overall['audio_seconds_per_section']:.1f} s of audio, "
        f"threads {result['settings']['threads']}): {_cell(overall['seconds_per_section'], 's')}"
        f" s wall ({stages}), {_cell(overall['cpu_seconds_per_section'], 's')} s CPU; "
        f"all {count}: {result['wall_seconds'] / 60:.1f} min")
    if result.get("reference"):
        lines.append("corpus: the same judges on labelled held-out corpus audio, the ceiling a "
                     "perfect renderer reaches")
    if result.get("style_probe"):
        probe = result["style_probe"]
        lines.append(
            f"style: a classifier of log-mel statistics fitted on {probe['trained_on']} corpus "
            f"clips through the codec hears the prompt's style (on held-out corpus clips "
            f"through the codec: {_cell(probe['held_out_accuracy'], 'pct')})")
    return "\n".join(lines)


def evaluate_generation(models: GenerationModels, sections: Sequence[EvalSection],
                        settings: GenerateSettings | None = None,
                        json_path: Path | None = None, audio_dir: Path | None = None,
                        progress: Callable[[str], None] | None = None,
                        print_table: bool = True,
                        reference: Sequence[dict[str, Any]] | None = None,
                        style_probe: StyleProbe | None = None) -> dict[str, Any]:
    """Judge every section; returns (and writes as JSON) the summary per style and overall, the
    settings, and every section's record. `reference` records (`eval_reference`) add the
    corpus row: what the judges give the training audio itself."""
    settings = settings or GenerateSettings()
    if not sections:
        raise ValueError("evaluate_generation needs at least one section")
    records = []
    began = time.perf_counter()
    for number, section in enumerate(sections, 1):
        with torch.inference_mode():
            record = evaluate_section(models, section, settings, audio_dir, style_probe)
        records.append(record)
        if progress is not None:
            tempo = record["tempo"]
            progress(f"[{number}/{len(sections)}] {section.style} {section.key} {section.meter} "
                     f"{section.bpm:.0f} BPM: tempo {tempo['estimated_bpm']:.1f} "
                     f"({'ok' if tempo['within'] else 'off'}), key "
                     f"{record['key_result']['estimated']}, chords "
                     f"{record['chords']['agreement']:.0%}, seam {record['seam']['score']:.2f}, "
                     f"{sum(record['seconds'].values()):.1f} s")
    styles = dict.fromkeys(r["style"] for r in records)
    overall = summarise(records)
    result: dict[str, Any] = {
        "model": models.description,
        "settings": {**asdict(settings), "schedule_shift": models.schedule_shift,
                     "threads": torch.get_num_threads()},
        "by_style": {s: summarise([r for r in records if r["style"] == s]) for s in styles},
        "overall": overall,
        "targets": {"seam_median_at_most_1_5": overall["seam_median"] <= SEAM_TARGET},
        "sections": records,
        "wall_seconds": time.perf_counter() - began,
    }
    if reference:
        result["reference"] = summarise(reference)
    if style_probe is not None:
        result["style_probe"] = {"held_out_accuracy": style_probe.held_out_accuracy,
                                 "trained_on": style_probe.trained_on,
                                 "styles": list(style_probe.styles)}
        if "reference" in result:
            result["reference"]["style_correct"] = style_probe.held_out_accuracy
    result["table"] = format_table(result)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(json_safe(result), indent=2) + "\n", encoding="utf-8")
    if print_table:
        print(result["table"])
    return result


def json_safe(value: Any) -> Any:
    """NaN and infinities as null: strict JSON readers reject them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
