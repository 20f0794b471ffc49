"""The corpus folder and the codec that several `melodex train` and `melodex eval` parts start
from, each resolved once, with the one-line message a musician can act on when it is missing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from melodex_studio.cli.main import CliError

if TYPE_CHECKING:
    from melodex_studio.engine.codec import Codec


def corpus_dir(data: Path | None) -> Path:
    """The corpus folder asked for (or the default one), which must exist."""
    from melodex_studio.training.corpus import default_corpus_dir

    data = data or default_corpus_dir()
    if not data.is_dir():
        raise CliError(f"no corpus at {data}: build one with `melodex train corpus --out {data}`")
    return data


def load_codec(model_dir: Path, device: str = "cpu") -> Codec:
    """The exported codec of `model_dir`; a missing or unreadable one is a CliError."""
    from melodex_studio.engine.codec import Codec
    from melodex_studio.engine.weights import ModelLoadError
    from melodex_studio.training.eval_models import has_codec

    if not model_dir.is_dir():
        raise CliError(f"no model folder at {model_dir}")
    if not has_codec(model_dir):
        raise CliError(f"{model_dir} has no codec: run `melodex train codec --export` first")
    try:
        return Codec.from_pretrained(model_dir, device)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from exc
