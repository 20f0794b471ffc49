"""`melodex generate` and `melodex render`: make a song, or a new take of one section, from
the terminal. Jobs run on an in-process worker (the models load once; nothing to restart in a
one-shot command) with a progress bar per job; the project is saved atomically at the end, so
an interrupted command leaves the file as it was.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from melodex_studio.cli.main import CliError

OPERATIONS = ("regenerate", "repaint", "vary", "extend", "retake", "import")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "generate":
        parser.add_argument(
            "prompt", help='what the song should sound like, e.g. "dusty lo-fi keys"'
        )
        parser.add_argument("--out", type=Path, required=True, help="the .mlx file to write")
        parser.add_argument("--bpm", type=float, default=120.0)
        parser.add_argument("--key", default="C major", help='e.g. "A minor", "F#", "Bbm"')
        parser.add_argument("--meter", default="4/4", help="4/4, 3/4, 6/8, 5/4 or 7/8")
        parser.add_argument(
            "--sections", default="Intro:4,Verse:8,Chorus:8",
            help='e.g. "Intro:4,Verse:8,Bridge:8@3/4,Outro:4@76" (@ a tempo or meter of its own)'
        )
        parser.add_argument("--seed", type=int, default=0, help="base seed of the song")
        parser.add_argument("--style", default=None, help="a style tag, e.g. 'lo-fi hip hop'")
        parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    else:
        parser.add_argument("path", type=Path, help="the .mlx project to render into")
        parser.add_argument("--section", required=True, help="the section's name, e.g. Chorus")
        parser.add_argument("--op", choices=OPERATIONS, default="regenerate")
        parser.add_argument(
            "--bars", default=None, help='repaint: bars counted from 1, e.g. "5-8" or "2,5-6"'
        )
        parser.add_argument(
            "--from-take",
            default=None,
            help="vary: take id (or its start); default the active take",
        )
        parser.add_argument(
            "--strength",
            type=float,
            default=0.5,
            help="vary: the share of the denoising run again (picks the step it starts from): "
                 "0 keeps the take, 1 starts from noise",
        )
        parser.add_argument(
            "--variation",
            type=float,
            default=1.0,
            help="vary: the share of the randomness after that step drawn anew from --seed "
                 "(0 continues the take's own, so the same prompt gives the take again)",
        )
        parser.add_argument("--file", type=Path, default=None,
                            help="import: the recording (WAV, FLAC, AIFF, OGG, MP3)")
        parser.add_argument("--at-bar", type=int, default=1,
                            help="import: the section's bar the recording starts at (from 1)")
        parser.add_argument("--file-bpm", type=float, default=None,
                            help="import: the recording's tempo; it is stretched to the "
                                 "section's (default: as recorded)")
        parser.add_argument("--file-key", default=None,
                            help="import: the recording's key, e.g. \"D major\"; it is moved "
                                 "the shortest way into the section's (default: as recorded)")
        parser.add_argument("--add-bars", type=int, default=4, help="extend: bars to add")
        parser.add_argument("--count", type=int, default=4, help="retake: number of candidates")
        parser.add_argument("--prompt", default=None, help="a new prompt for this render")
        parser.add_argument("--seed", type=int, default=None, help="the seed (default: a new one)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps")
    parser.add_argument("--guidance", type=float, default=None, help="classifier-free guidance")
    parser.add_argument("--wav", type=Path, default=None, help="also export the mixdown here")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the models")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--float32", action="store_true",
                        help="compute in float32 on a GPU too (default: bfloat16 where the GPU "
                             "has it; a CPU always computes in float32)")
    parser.add_argument(
        "--model-dir", type=Path, default=None,
        help="another model folder: a built-in model's, a Stable Audio Open download "
             "(diffusers layout, with model_index.json) or a MusicGen one (transformers "
             "layout, config.json and the tokenizer), which render from the prompt alone")
    parser.add_argument("--tiny-random-model", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(name: str, args: argparse.Namespace) -> int:
    return _generate(args) if name == "generate" else _render(args)


# --- shared ------------------------------------------------------------------------------------


class _Session:
    """The worker, the blobs and the document of one command."""

    def __init__(self, args: argparse.Namespace, project: Any, file_blobs: Any = None) -> None:
        from melodex_studio.project.document import Document
        from melodex_studio.project.operations import LatentGeometry
        from melodex_studio.store import ChainBlobs, MemoryBlobs
        from melodex_studio.worker.inprocess import InProcessClient
        from melodex_studio.worker.model_paths import (
            folder_worker_config,
            missing_model_message,
            model_is_present,
        )
        from melodex_studio.worker.protocol import WorkerConfig

        if args.tiny_random_model:
            config = WorkerConfig(model="tiny-random", threads=args.threads, device=args.device,
                                  half_precision=not args.float32)
        else:
            config = folder_worker_config(args.model_dir, args.device, args.threads,
                                          not args.float32)
            if config.model == "builtin" and not model_is_present(args.model_dir):
                raise CliError(missing_model_message(args.model_dir))
        self.quiet = args.quiet
        self.client = InProcessClient(config)
        self.geometry = LatentGeometry.from_model(self.client.status.model)
        self.plans = self.client.status.model.plans
        self.new_blobs = MemoryBlobs()
        self.blobs = ChainBlobs(self.new_blobs, file_blobs) if file_blobs else self.new_blobs
        self.doc = Document(project)

    def close(self) -> None:
        self.client.close()

    def read_blob(self, sha: str) -> bytes:
        return self.blobs.get(sha)

    def _wait(self, job: Any, blobs: Any, label: str) -> Any:
        from tqdm import tqdm

        from melodex_studio.worker.handles import JobError
        from melodex_studio.worker.protocol import Progress

        bar = tqdm(
            total=1, desc=label, unit="step", disable=self.quiet, file=sys.stderr, leave=True
        )

        def on_event(envelope: Any) -> None:
            message = envelope.message
            if isinstance(message, Progress):
                bar.total = message.total
                bar.n = message.step
                bar.refresh()

        handle = self.client.submit(job, blobs=blobs, on_event=on_event)
        try:
            return handle.result()
        except JobError as exc:
            raise CliError(f"{label}: {exc}") from exc
        except KeyboardInterrupt:
            handle.cancel()
            raise
        finally:
            bar.close()

    def plan(self, section_id: str) -> None:
        from melodex_studio.project.operations import plan_command, plan_request

        request = plan_request(self.doc.project, section_id)
        result = self._wait(request.job, {}, request.description)
        self.doc.history.push(plan_command(self.doc.project, request, result.message.output))

    def import_recording(self, section_id: str, path: Path, seed: int | None,
                         start_bar: int = 0, file_bpm: float | None = None,
                         file_key: str | None = None) -> Any:
        from melodex_studio.audio.errors import RecordingError
        from melodex_studio.audio.recording_import import (
            MAX_TEMPO_FACTOR,
            MIN_TEMPO_FACTOR,
            ImportOptions,
            read_recording,
        )
        from melodex_studio.music.errors import MusicParseError
        from melodex_studio.music.key import Key
        from melodex_studio.project.operations import (
            finish_import,
            import_recording,
            recording_seconds,
        )

        project, geometry = self.doc.project, self.geometry
        section = project.section(section_id)
        if not 0 <= start_bar < section.length_bars:
            raise CliError(f"--at-bar {start_bar + 1}: the section has bars "
                           f"1-{section.length_bars}")
        seconds = recording_seconds(project, section_id, start_bar, geometry)
        bpm = project.section_bpm(section)
        try:
            semitones = 0 if file_key is None else Key.parse(file_key).semitones_to(
                project.section_key(section))
        except MusicParseError as exc:
            raise CliError(f"--file-key: {exc}") from exc
        if file_bpm is not None and not 20.0 <= file_bpm <= 400.0:
            raise CliError(f"--file-bpm {file_bpm:g}: a tempo is 20 to 400 BPM")
        options = ImportOptions.onto(bpm, file_bpm, semitones)
        if not MIN_TEMPO_FACTOR <= options.tempo_factor <= MAX_TEMPO_FACTOR:
            raise CliError(f"--file-bpm {file_bpm:g}: the section plays at {bpm:g} BPM, so "
                           f"recordings at {bpm / MAX_TEMPO_FACTOR:g} to "
                           f"{bpm / MIN_TEMPO_FACTOR:g} BPM can be stretched to it")
        try:
            recording = read_recording(path, geometry.sample_rate, seconds,
                                       tempo_factor=options.tempo_factor, semitones=semitones)
        except RecordingError as exc:
            raise CliError(str(exc)) from exc
        request = import_recording(self.doc.project, section_id, recording.audio,
                                   name=options.take_name(recording.name, bpm),
                                   geometry=self.geometry, seed=seed, start_bar=start_bar)
        result = self._wait(request.job, request.blobs, request.description)
        outcome = finish_import(self.doc.project, request, result)
        for sha in outcome.blobs:
            self.new_blobs.add(sha, outcome.blobs[sha])
        self.doc.history.push(outcome.command)
        if outcome.note:  # heard in another key than the section's
            print(f"{request.description}: {outcome.note}")
        return request, outcome

    def render(self, request: Any) -> Any:
        from melodex_studio.project.operations import finish_render

        result = None
        if request.job is not None:
            result = self._wait(request.job, request.blobs, request.description)
        outcome = finish_render(self.doc.project, request, result, self.read_blob)
        for sha in outcome.blobs:
            self.new_blobs.add(sha, outcome.blobs[sha])
        self.doc.history.push(outcome.command)
        if outcome.note:  # the worker listened for the key and rendered again
            seeds = ", ".join(str(take.seed) for take in outcome.takes)
            print(f"{request.description}: {outcome.note} (kept seed {seeds})")
        return outcome

    def save(self, path: Path) -> None:
        from melodex_studio.store import MlxError, save_project

        try:
            save_project(path, self.doc.project, self.blobs)
        except MlxError as exc:
            raise CliError(exc.message) from exc

    def export_wav(self, path: Path) -> None:
        from melodex_studio.audio.arrangement import decode_take_audio
        from melodex_studio.audio.export import ExportOptions, export_project

        report = export_project(
            self.doc.project,
            lambda take: decode_take_audio(self.read_blob(take.audio)),
            ExportOptions(path=path, sample_rate=self.doc.project.sample_rate),
        )
        print(report.summary())


def _with_settings(section: Any, args: argparse.Namespace) -> Any:
    changes = {
        k: v for k, v in (("steps", args.steps), ("guidance", args.guidance)) if v is not None
    }
    return section.settings.model_copy(update=changes) if changes else None


def _guarded(action: Callable[[], int]) -> int:
    from melodex_studio.music import MusicParseError
    from melodex_studio.project.commands import EditError
    from melodex_studio.project.operations import OperationError

    try:
        return action()
    except (OperationError, EditError, MusicParseError) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc


# --- melodex generate --------------------------------------------------------------------------


def _generate(args: argparse.Namespace) -> int:
    return _guarded(lambda: _generate_song(args))


def _generate_song(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from melodex_studio.project.fields import validated_copy
    from melodex_studio.project.models import new_project
    from melodex_studio.project.operations import generate_section

    out: Path = args.out
    if out.suffix != ".mlx":
        raise CliError(f"{out}: project files end in .mlx")
    if out.exists() and not args.force:
        raise CliError(f"{out} already exists (use --force to overwrite it)")
    try:
        project = new_project(
            title=out.stem,
            bpm=args.bpm,
            key=args.key,
            meter=args.meter,
            sections_spec=args.sections,
            seed=args.seed,
        )
        sections = []
        for section in project.sections:
            changes: dict[str, Any] = {"prompt": args.prompt, "style": args.style}
            settings = _with_settings(section, args)
            if settings is not None:
                changes["settings"] = settings
            sections.append(validated_copy(section, **changes))
        project = project.with_sections(tuple(sections))
    except (ValueError, ValidationError) as exc:
        raise CliError(_first_line(exc)) from exc
    session = _Session(args, project)
    try:
        for section in project.sections:
            if session.plans:  # Stable Audio Open writes no plans: it renders from the prompt
                session.plan(section.id)
        for section in project.sections:
            session.render(
                generate_section(
                    session.doc.project, session.read_blob, section.id, geometry=session.geometry
                )
            )
        session.save(out)
        bars = sum(s.length_bars for s in project.sections)
        print(f"wrote {out}: {len(project.sections)} sections, {bars} bars, seed {args.seed}")
        if args.wav is not None:
            session.export_wav(args.wav)
    finally:
        session.close()
    return 0


# --- melodex render ----------------------------------------------------------------------------


def parse_bar_ranges(text: str, length_bars: int) -> list[tuple[int, int]]:
    """ "5-8" or "2,5-6" (bars counted from 1, inclusive) -> [(4, 8)] / [(1, 2), (4, 6)]."""
    ranges = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            start, end = int(first), int(last if dash else first)
        except ValueError:
            raise CliError(f"--bars {text!r}: write bars like 5-8 or 2,5-6") from None
        if not 1 <= start <= end <= length_bars:
            raise CliError(f"--bars {part.strip()}: the section has bars 1-{length_bars}")
        ranges.append((start - 1, end))
    return ranges


def _render(args: argparse.Namespace) -> int:
    from melodex_studio.store import FileBlobs, MlxError, open_project

    # Absolute: the save copies blob rows from the open file by its URI.
    args.path = args.path.resolve()
    try:
        opened = open_project(args.path)
    except MlxError as exc:
        raise CliError(exc.message) from exc
    try:
        session = _Session(args, opened.project, FileBlobs(opened))
        try:
            return _guarded(lambda: _render_take(args, session))
        finally:
            session.close()
    finally:
        opened.close()


def _render_take(args: argparse.Namespace, session: _Session) -> int:
    from melodex_studio.project import operations as ops

    project = session.doc.project
    try:
        section = project.section_by_name(args.section)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from exc
    settings = _with_settings(section, args)
    common: dict[str, Any] = {"geometry": session.geometry, "prompt": args.prompt}
    read = session.read_blob
    if args.op == "regenerate":
        request = ops.regenerate_section(
            project, read, section.id, seed=args.seed, settings=settings, **common
        )
    elif args.op == "retake":
        seeds = None if args.seed is None else tuple(args.seed + i for i in range(args.count))
        request = ops.retake_section(
            project, read, section.id, args.count, seeds=seeds, settings=settings, **common
        )
    elif args.op == "repaint":
        if not args.bars:
            raise CliError("--op repaint needs --bars, e.g. --bars 5-8")
        ranges = parse_bar_ranges(args.bars, section.length_bars)
        request = ops.repaint_bars(
            project, read, section.id, ranges, seed=args.seed, settings=settings, **common
        )
    elif args.op == "vary":
        take = _find_take(section, args.from_take)
        # What the section asks for now, as in the studio (the steps are the take's).
        steps = take.settings.steps if args.steps is None else args.steps
        common["prompt"] = section.prompt if args.prompt is None else args.prompt
        request = ops.vary_take(
            project, read, take.id, args.strength, variation=args.variation, seed=args.seed,
            settings=(settings or section.settings).model_copy(update={"steps": steps}),
            **common)
    elif args.op == "import":
        if args.file is None:
            raise CliError("--op import needs --file, e.g. --file riff.wav")
        request, outcome = session.import_recording(section.id, args.file, args.seed,
                                                    args.at_bar - 1, args.file_bpm,
                                                    args.file_key)
        return _saved(args, session, request, outcome)
    else:
        plan = None
        if section.plan is not None and session.plans:
            plan_request = ops.plan_extension(project, section.id, args.add_bars)
            result = session._wait(plan_request.job, {}, plan_request.description)
            plan = ops.finish_plan(plan_request, result.message.output)
        request = ops.extend_section(
            project,
            read,
            section.id,
            args.add_bars,
            plan=plan,
            seed=args.seed,
            settings=settings,
            **common,
        )
    return _saved(args, session, request, session.render(request))


def _saved(args: argparse.Namespace, session: _Session, request: Any, outcome: Any) -> int:
    session.save(args.path)
    first, *others = outcome.takes
    also = f" (also added: {', '.join(take.id[:8] for take in others)})" if others else ""
    print(f"{request.description}: take {first.id[:8]} is now active in {args.path}{also}")
    if args.wav is not None:
        session.export_wav(args.wav)
    return 0


def _find_take(section: Any, prefix: str | None) -> Any:
    if prefix is None:
        if section.active_take is None:
            raise CliError(f"{section.name!r} has no take to vary yet")
        return section.active_take
    matches = [take for take in section.takes if take.id.startswith(prefix.strip().lower())]
    if len(matches) != 1:
        found = "no take" if not matches else f"{len(matches)} takes"
        raise CliError(f"{found} of {section.name!r} match --from-take {prefix!r}")
    return matches[0]


def _first_line(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        return str(first["msg"]).removeprefix("Value error, ")
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
