"""`melodex new`, `melodex info` and `melodex check`: project files from the terminal."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from melodex_studio.cli.main import CliError


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="the .mlx project file")
    if name == "new":
        parser.add_argument("--title", default=None, help="song title (default: the file name)")
        parser.add_argument("--bpm", type=float, default=120.0)
        parser.add_argument("--key", default="C major", help='e.g. "A minor", "F#", "Bbm"')
        parser.add_argument("--meter", default="4/4", help="4/4, 3/4, 6/8, 5/4 or 7/8")
        parser.add_argument(
            "--sections",
            default="Intro:8,Verse:16,Chorus:8",
            help='name:bars list, e.g. "Intro:8,Verse:16,Chorus:8"; a section in a tempo or '
            'meter of its own adds @BPM and/or @METER: "Bridge:8@3/4,Outro:4@76"',
        )
        parser.add_argument("--sample-rate", type=int, default=44100)
        parser.add_argument("--seed", type=int, default=0, help="base seed for the sections")
        parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    elif name == "info":
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(name: str, args: argparse.Namespace) -> int:
    return {"new": _new, "info": _info, "check": _check}[name](args)


def _new(args: argparse.Namespace) -> int:
    from melodex_studio.music import MusicParseError
    from melodex_studio.project.models import new_project
    from melodex_studio.store import MemoryBlobs, MlxError, save_project

    path: Path = args.path
    if path.suffix != ".mlx":
        raise CliError(f"{path}: project files end in .mlx")
    if path.exists() and not args.force:
        raise CliError(f"{path} already exists (use --force to overwrite it)")
    try:
        project = new_project(
            title=args.title or path.stem,
            bpm=args.bpm,
            key=args.key,
            meter=args.meter,
            sections_spec=args.sections,
            sample_rate=args.sample_rate,
            seed=args.seed,
        )
    except (MusicParseError, ValueError) as exc:
        raise CliError(_one_line(exc)) from exc
    try:
        save_project(path, project, MemoryBlobs({}))
    except MlxError as exc:
        raise CliError(exc.message) from exc
    bars = sum(s.length_bars for s in project.sections)
    print(
        f"created {path}: {len(project.sections)} sections, {bars} bars, "
        f"{project.bpm:g} BPM, {project.key}, {project.meter}"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    from melodex_studio.store import MlxError, open_project

    try:
        with open_project(args.path) as opened:
            summary = project_summary(opened.project, opened.blob_sizes())
            summary["file_bytes"] = args.path.stat().st_size
            summary["format_version"] = opened.format_version
    except MlxError as exc:
        raise CliError(exc.message) from exc
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print(_format_summary(summary))
    return 0


def _check(args: argparse.Namespace) -> int:
    from melodex_studio.store import MlxError, check_project

    try:
        check_project(args.path)
    except MlxError as exc:
        raise CliError(exc.message) from exc
    print(f"{args.path}: ok")
    return 0


def project_summary(project: Any, blob_sizes: dict[str, int]) -> dict[str, Any]:
    """A JSON-ready description of the project: every section with its plan's chord per bar,
    its takes (with parent and operation) and which take is active."""
    grid = project.grid()
    sections = []
    for section in project.sections:
        start, end = grid.bar_span_samples(section.start_bar, section.length_bars)
        key = project.section_key(section)
        takes = [
            {
                "id": take.id,
                "operation": str(take.operation),
                "parent": take.parent_id,
                "created": take.created.isoformat(),
                "seed": take.seed,
                "model": take.model_id,
                "region_bars": [take.region_start_bar, take.region_end_bar],
                "checkpoints": len(take.checkpoints),
                "bytes": sum(blob_sizes.get(ref, 0) for ref in take.blob_refs()),
            }
            for take in section.takes
        ]
        sections.append(
            {
                "id": section.id,
                "name": section.name,
                "kind": str(section.kind),
                "start_bar": section.start_bar,
                "length_bars": section.length_bars,
                "seconds": round((end - start) / project.sample_rate, 3),
                "prompt": section.prompt,
                "bpm": project.section_bpm(section),
                "own_bpm": section.bpm is not None,
                "meter": str(project.section_meter(section)),
                "own_meter": section.meter is not None,
                "key": str(key),
                "own_key": section.key is not None,
                "gain_db": section.gain_db,
                "muted": section.muted,
                "chords": None if section.plan is None else [
                    bar.chord_in(key) for bar in section.plan.bars],
                "active_take": section.active_take_id,
                "takes": takes,
            }
        )
    return {
        "title": project.title,
        "bpm": project.bpm,
        "key": project.key,
        "meter": project.meter,
        "sample_rate": project.sample_rate,
        "sections": sections,
        "blob_bytes": sum(blob_sizes.values()),
        "blob_count": len(blob_sizes),
    }


def _format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['title']}: {summary['bpm']:g} BPM, {summary['key']}, {summary['meter']}, "
        f"{summary['sample_rate']} Hz, format {summary['format_version']}",
        f"{len(summary['sections'])} sections, {summary['blob_count']} blobs "
        f"({_size(summary['blob_bytes'])}), file {_size(summary['file_bytes'])}",
    ]
    for s in summary["sections"]:
        active = s["active_take"][:8] if s["active_take"] else "none"
        lines.append(
            f"  {s['name']:<14} bars {s['start_bar'] + 1}-{s['start_bar'] + s['length_bars']}"
            f" ({s['seconds']:.1f} s)  takes {len(s['takes'])}  active {active}"
            + (f"  at {s['bpm']:g} BPM" if s["own_bpm"] else "")
            + (f"  in {s['meter']}" if s["own_meter"] else "")
            + (f"  in {s['key']}" if s["own_key"] else "")
            + ("  muted" if s["muted"] else f"  {s['gain_db']:+.1f} dB" if s["gain_db"] else "")
        )
        if s["chords"]:
            lines.append("    chords: " + " | ".join(c or "N.C." for c in s["chords"]))
        for t in s["takes"]:
            parent = t["parent"][:8] if t["parent"] else "-"
            lines.append(
                f"    take {t['id'][:8]} {t['operation']:<10} parent {parent}  seed {t['seed']}"
                f"  {_size(t['bytes'])}"
            )
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
