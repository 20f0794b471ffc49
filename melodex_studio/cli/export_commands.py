"""`melodex export`: a project's mixdown (and per-section files, and the plan as MIDI) from
the terminal, through the same `export_project` the studio's export dialog calls.

Take audio comes from the decoded-audio blobs saved in the .mlx file; a section whose active
take was never decoded stops the export with a message naming it, rather than a silent gap.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from melodex_studio.cli.main import CliError

#: --bit-depth -> libsndfile subtype, per format that has a bit depth.
BIT_DEPTHS: dict[str, dict[str, str]] = {
    "wav": {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"},
    "flac": {"16": "PCM_16", "24": "PCM_24"},
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, help="the .mlx project file")
    parser.add_argument("out", type=Path, help="the mixdown: .wav, .flac, .mp3 or .ogg")
    parser.add_argument(
        "--bit-depth", choices=("16", "24", "32f"), default=None,
        help="WAV: 16, 24 (default) or 32f (float); FLAC: 16 or 24 (default)",
    )
    parser.add_argument(
        "--sample-rate", type=int, default=None,
        help="44100 or 48000 (default: the project's rate if it is one of those, else 44100)",
    )
    parser.add_argument(
        "--lufs", default=None, metavar="LUFS|off",
        help="loudness target, e.g. -14, or 'off' for the mix untouched "
        "(default: the project's master target)",
    )
    parser.add_argument(
        "--true-peak", type=float, default=None, metavar="DBTP",
        help="true-peak ceiling in dBTP, e.g. -1 (default: the project's)",
    )
    parser.add_argument(
        "--channels", type=int, choices=(1, 2), default=None,
        help="1 or 2 (default: as the mix, which is mono; 2 writes it to both channels)",
    )
    parser.add_argument(
        "--stems", type=Path, default=None, metavar="DIR",
        help="also write one file per section into DIR (created if missing)",
    )
    parser.add_argument("--midi", type=Path, default=None, metavar="OUT.mid",
                        help="also write the plan as a MIDI file")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")


def run(name: str, args: argparse.Namespace) -> int:
    from melodex_studio.audio.arrangement import undecoded_takes_message
    from melodex_studio.audio.errors import AudioError, MissingTakeAudioError
    from melodex_studio.store import MlxError, open_project

    fmt, subtype = _format_and_subtype(args.out, args.bit_depth)
    lufs = _loudness(args.lufs)
    if args.midi is not None and args.midi.suffix.lower() not in (".mid", ".midi"):
        raise CliError(f"{args.midi}: MIDI files end in .mid")
    if args.project.suffix != ".mlx":
        raise CliError(f"{args.project}: project files end in .mlx")
    if not args.project.is_file():
        raise CliError(f"{args.project} does not exist")
    try:
        with open_project(args.project) as opened:
            options = _options(args, opened.project, fmt, subtype, lufs)
            undecoded = undecoded_takes_message(opened.project)
            if undecoded is not None:  # before creating the stems folder: nothing is written
                raise MissingTakeAudioError(undecoded)
            if args.stems is not None:
                _make_folder(args.stems)
            report = _export(opened, options)
    except MlxError as exc:
        raise CliError(exc.message) from exc
    except AudioError as exc:
        raise CliError(_one_line(exc)) from exc
    if not args.quiet:
        print(report.summary())
        for path in report.files[1:]:
            print(f"  {path}")
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _format_and_subtype(out: Path, bit_depth: str | None) -> tuple[str, str | None]:
    from melodex_studio.audio.audio_files import format_for_path
    from melodex_studio.audio.errors import ExportError

    try:
        fmt = format_for_path(out)
    except ExportError as exc:
        raise CliError(str(exc)) from exc
    if bit_depth is None:
        return fmt, None
    depths = BIT_DEPTHS.get(fmt)
    if depths is None:
        raise CliError(f"--bit-depth applies to WAV and FLAC, not {fmt.upper()} files")
    if bit_depth not in depths:
        raise CliError(f"{fmt.upper()} files can be {' or '.join(depths)} bit, not {bit_depth}")
    return fmt, depths[bit_depth]


def _loudness(text: str | None) -> float | str:
    if text is None:
        return "project"
    if text.strip().lower() == "off":
        return "off"
    try:
        return float(text)
    except ValueError:
        raise CliError(f"--lufs takes a number such as -14, or 'off', not {text!r}") from None


def _options(args: argparse.Namespace, project: Any, fmt: str, subtype: str | None,
             lufs: float | str) -> Any:
    from melodex_studio.audio.audio_files import EXPORT_SAMPLE_RATES
    from melodex_studio.audio.export import ExportOptions

    rate = args.sample_rate
    if rate is None:
        rate = project.sample_rate if project.sample_rate in EXPORT_SAMPLE_RATES else 44100
    elif rate not in EXPORT_SAMPLE_RATES:
        raise CliError(f"--sample-rate must be 44100 or 48000, not {rate}")
    return ExportOptions(
        path=args.out,
        format=fmt,  # type: ignore[arg-type]
        subtype=subtype,
        sample_rate=rate,
        channels=args.channels,
        loudness_lufs=lufs,  # type: ignore[arg-type]
        true_peak_dbtp="project" if args.true_peak is None else args.true_peak,
        per_section=args.stems is not None,
        sections_folder=args.stems,
        midi=args.midi is not None,
        midi_path=args.midi,
    )


def _export(opened: Any, options: Any) -> Any:
    from melodex_studio.audio.arrangement import decode_take_audio
    from melodex_studio.audio.export import export_project

    def read_audio(take: Any) -> Any:
        return decode_take_audio(opened.read_blob(take.audio))

    return export_project(opened.project, read_audio, options, progress=_progress_printer())


def _progress_printer() -> Any:
    """A percentage on stderr when it is a terminal (nothing in pipes and logs)."""
    if not sys.stderr.isatty():
        return None

    def show(fraction: float) -> None:
        end = "\n" if fraction >= 1.0 else ""
        print(f"\rexporting {fraction:4.0%}", end=end, file=sys.stderr, flush=True)

    return show


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
