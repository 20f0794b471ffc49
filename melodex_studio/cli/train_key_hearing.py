"""`melodex train key-hearing`: fit the planner's ear on corpus audio and store it with the model.

The ear (`engine.key_hearing`) is 36 numbers fitted in about three minutes (most of it
reading the clips' chroma), not a network: it predicts the
chroma a key finder measures on a section's audio from the section's score, so the planner can
keep, among the plans it draws, one that will be heard in the asked key. It is written into
the model folder's ``config.json`` (section ``key_hearing``) with its held-out check.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from melodex_studio.cli.main import CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="corpus folder (default: $MELODEX_CORPUS_DIR or the cache)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder to write into (default: models/melodex-tiny)")
    parser.add_argument("--examples", type=int, default=1500,
                        help="training-split examples to fit on (default 1500)")
    parser.add_argument("--held-out", type=int, default=600,
                        help="held-out examples to check the fit on (default 600)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from melodex_studio.cli.inputs import corpus_dir
    from melodex_studio.engine.key_hearing import COMPONENT, KeyHearing
    from melodex_studio.engine.weights import merge_component_config, read_model_config
    from melodex_studio.training.key_hearing_fit import (
        fit_key_hearing,
        format_summary,
        load_hearing_examples,
        summary_rows,
    )
    from melodex_studio.worker.model_paths import builtin_model_dir

    if args.examples < 1 or args.held_out < 1:
        raise CliError("--examples and --held-out must be at least 1")
    data = corpus_dir(args.data)
    model_dir = args.model or builtin_model_dir()
    if not (model_dir / "config.json").is_file():
        raise CliError(f"no model config in {model_dir}: train and export the model first")
    read_model_config(model_dir)  # an unreadable config fails here, before minutes of work

    try:
        with tqdm(total=args.examples, desc="training examples") as bar:
            train = load_hearing_examples(data, False, args.examples, lambda _: bar.update())
        with tqdm(total=args.held_out, desc="held-out examples") as bar:
            held_out = load_hearing_examples(data, True, args.held_out, lambda _: bar.update())
        hearing = fit_key_hearing(train)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    rows = summary_rows(hearing, held_out)
    print(format_summary(rows))
    stored = KeyHearing(hearing.kernels, {
        **hearing.info,
        "judge": "librosa chroma_cqt, log-compressed mean, Krumhansl-Kessler profiles",
        "held_out_examples": len(held_out),
        "held_out": rows,
    })
    merge_component_config(model_dir, COMPONENT, stored.to_dict())
    print(f"key hearing written to {model_dir / 'config.json'} ({COMPONENT})")
    return 0
