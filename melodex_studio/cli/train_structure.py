"""`melodex train structure`: train the structure transformer on composed plans, score it,
export it.

Data comes straight from the procedural composer (no audio), composed and text-embedded once
into the run folder. A run resumes from its checkpoint; ``--steps`` is the length of the
learning-rate schedule, ``--max-minutes`` only interrupts (run again to continue).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from melodex_studio.cli.main import CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, default=Path("runs/structure/main"),
                        help="run folder: example pools, checkpoint, loss log (resumed)")
    parser.add_argument("--steps", type=int, default=4000,
                        help="train until the step counter reaches this (schedule length)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--checkpoint-every-s", type=float, default=180.0)
    parser.add_argument("--pool-size", type=int, default=None,
                        help="composed training sections (default 24000; fixed per run)")
    parser.add_argument("--steps-per-group", type=int, default=None, choices=(1, 2),
                        help="16th steps a model position writes (a new run only; default 1: "
                             "2 plans ~30 %% faster but was heard in key less often, see the "
                             "model card)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop this session after so many minutes of training")
    parser.add_argument("--eval", type=int, default=64, metavar="N",
                        help="after training, plan N held-out sections and check them (0: skip)")
    parser.add_argument("--export", type=Path, default=None, metavar="MODEL_DIR",
                        help="after training, write the weights into this model folder")


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from melodex_studio.engine.text_encoder import MiniLMTextEncoder
    from melodex_studio.training.runtime import configure_torch
    from melodex_studio.training.structure_data import draw_example, example_indices
    from melodex_studio.training.structure_eval import format_table, generation_checks
    from melodex_studio.training.structure_train import (
        StructureTrainSettings,
        export_structure,
        run_model,
        shipping_config,
        train_structure,
    )

    if args.steps < 0 or args.batch_size < 1 or args.eval < 0:
        raise CliError("--steps and --eval must not be negative, --batch-size at least 1")
    if args.threads:
        configure_torch(args.threads)
    settings = None
    if args.pool_size is not None:
        if args.pool_size < args.batch_size:
            raise CliError("--pool-size must be at least the batch size")
        settings = StructureTrainSettings(pool_size=args.pool_size)
    encoder = MiniLMTextEncoder(cache_size=64)
    config = None
    if args.steps_per_group is not None:
        config = replace(shipping_config(), steps_per_group=args.steps_per_group)
    if args.steps:
        train_structure(args.run, args.steps, args.batch_size, args.seed, args.device,
                        checkpoint_every_s=args.checkpoint_every_s, settings=settings,
                        config=config,
                        text_encoder=encoder,
                        max_seconds=None if args.max_minutes is None else args.max_minutes * 60)
    if not (args.run / "checkpoint" / "state.json").is_file():
        raise CliError(f"{args.run} holds no trained structure transformer (give --steps)")
    held_path = args.run / "held_out.json"
    scores = json.loads(held_path.read_text("utf-8")) if held_path.exists() else None
    generation = None
    if args.eval:
        state = json.loads((args.run / "checkpoint" / "state.json").read_text("utf-8"))
        corpus_seed = int(state["settings"].get("corpus_seed", 0))
        examples = [draw_example(i, corpus_seed)
                    for i in example_indices(corpus_seed, args.eval, held_out=True)]
        generation = generation_checks(run_model(args.run), examples, encoder)
        (args.run / "generation_checks.json").write_text(json.dumps(generation, indent=2) + "\n")
    print(format_table(scores, generation))
    if args.export is not None:
        fragment = export_structure(args.run, args.export,
                                    extra={"generation_checks": generation})
        for name, entry in fragment["files"].items():
            print(f"{args.export / name}: {entry['bytes'] / 1e6:.1f} MB, sha256 {entry['sha256']}")
    return 0
