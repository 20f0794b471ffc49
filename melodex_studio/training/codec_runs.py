"""Run-folder bookkeeping for codec training: checkpoint files, logs, combining two runs,
starting a run from a model folder.

A run folder holds ``checkpoint/`` (weights and optimizer moments as safetensors, counters in
``state.json``), optional ``snapshots/``, ``losses.jsonl`` and ``training_log.json``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from melodex_studio.engine.codec import Codec, CodecConfig
from melodex_studio.engine.weights import save_tensors_atomic, write_json_atomic

CHECKPOINT = "checkpoint"
#: Appended to, never reordered: a stage's index seeds its steps (`step_generator`).
STAGES: tuple[str, ...] = ("ae", "vocoder", "both", "decoder", "gan")


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    """Optimizer moments flattened to ``"<param index>.<name>"`` tensors for safetensors.

    Hyperparameters are not stored: they come from the run's settings, so nothing but tensors
    and JSON ever touches the disk (no torch.save / torch.load).
    """
    return {
        f"{index}.{name}": value
        for index, state in optimizer.state_dict()["state"].items()
        for name, value in state.items()
        if isinstance(value, Tensor)
    }


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor]) -> None:
    """Inverse of ``optimizer_tensors`` into a freshly built optimizer of the same parameters."""
    state: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def truncate_loss_log(path: Path, steps: dict[str, int] | int) -> None:
    """Drop loss lines written after the checkpoint we resume from (they will be redone):
    `steps` is the checkpoint's step, or its step per stage for a log with a "stage" column."""
    rows = [r for r in _read_jsonl(path)
            if r["step"] < (steps if isinstance(steps, int) else steps.get(r["stage"], 0))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def append_session(out_dir: Path, session: dict[str, Any]) -> None:
    path = out_dir / "training_log.json"
    log = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"sessions": []}
    log["sessions"].append(session)
    totals: dict[str, float] = {}
    for item in log["sessions"]:
        totals[item["stage"]] = totals.get(item["stage"], 0.0) + item["seconds"]
    log["seconds_per_stage"] = totals
    write_json_atomic(path, log)


def checkpoint_folder(path: Path | str) -> Path:
    """A run folder's latest checkpoint, or ``path`` itself when it is a checkpoint/snapshot."""
    path = Path(path)
    return path / CHECKPOINT if (path / CHECKPOINT).is_dir() else path


def load_codec_from_run(folder: Path | str) -> Codec:
    """The codec held by a run's checkpoint (or snapshot) folder, in eval mode on the CPU.

    Latent statistics stay at zero mean / unit std; ``export_codec`` measures the real ones.
    """
    from safetensors.torch import load_file

    folder = checkpoint_folder(folder)
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    codec = Codec(CodecConfig.from_dict(state["config"]))
    codec.autoencoder.load_state_dict(load_file(str(folder / "autoencoder.safetensors")))
    codec.vocoder.load_state_dict(load_file(str(folder / "vocoder.safetensors")))
    return codec.eval()


def start_run_from_model(model_dir: Path | str, out_dir: Path | str, seed: int = 0,
                         vocoder_settings: dict[str, Any] | None = None) -> Path:
    """Start run ``out_dir`` from a model folder's autoencoder and vocoder (fine-tuning the
    shipped codec, for example adversarially with stage "gan"): their weights with fresh
    optimizer moments and step counters. ``vocoder_settings`` change the vocoder's phase path
    for the run (Vocos's recipe: ``phase_init="network"``, ``refine_iterations=0``, so the
    adversary trains the phase head too). The plan adapter is not part of a codec run; an
    export with ``keep_latent_space`` carries the shipped one over while the decoder is
    unchanged."""
    from melodex_studio.training.codec_train import CodecTrainSettings

    codec = Codec.from_pretrained(model_dir)
    target = Path(out_dir) / CHECKPOINT
    if target.exists():
        raise FileExistsError(f"{target} exists: start from a model in a fresh run folder")
    vocoder = dataclasses.replace(codec.config.vocoder, **(vocoder_settings or {}))
    config = dataclasses.replace(codec.config, vocoder=vocoder, plan_adapter=None)
    target.mkdir(parents=True)
    save_tensors_atomic(target / "autoencoder.safetensors", codec.autoencoder.state_dict())
    save_tensors_atomic(target / "vocoder.safetensors", codec.vocoder.state_dict())
    write_json_atomic(target / "state.json", {
        "seed": seed, "steps": dict.fromkeys(STAGES, 0), "config": config.to_dict(),
        "settings": dataclasses.asdict(CodecTrainSettings()), "started_from": str(model_dir)})
    return target


def combine_runs(ae_run: Path | str, vocoder_run: Path | str, out_dir: Path | str) -> None:
    """Start run ``out_dir`` from the autoencoder of one run and the vocoder of another.

    Lets the two stages train side by side (one process per core) before a joint ``"both"``
    stage. Weights, optimizer moments, step counters and training-log sessions are carried over.
    """
    sources = {"autoencoder": checkpoint_folder(ae_run), "vocoder": checkpoint_folder(vocoder_run)}
    states = {k: json.loads((v / "state.json").read_text("utf-8")) for k, v in sources.items()}
    if states["autoencoder"]["config"]["mel"] != states["vocoder"]["config"]["mel"]:
        raise ValueError("the two runs use different mel front ends")
    out_dir = Path(out_dir)
    target = out_dir / CHECKPOINT
    if target.exists():
        raise FileExistsError(f"{target} exists: combine into a fresh run folder")
    target.mkdir(parents=True)
    for name, folder in sources.items():
        for prefix in ("", "optim_"):
            shutil.copy2(folder / f"{prefix}{name}.safetensors", target)
    config = dict(states["vocoder"]["config"], autoencoder=states["autoencoder"]["config"][
        "autoencoder"])
    steps = dict.fromkeys(STAGES, 0)
    steps.update(ae=states["autoencoder"]["steps"]["ae"],
                 vocoder=states["vocoder"]["steps"]["vocoder"])
    write_json_atomic(target / "state.json", {"seed": states["vocoder"]["seed"], "steps": steps,
                                              "config": config,
                                              "settings": states["vocoder"]["settings"]})
    for run in (ae_run, vocoder_run):
        log = Path(run) / "training_log.json"
        if log.exists():
            for session in json.loads(log.read_text("utf-8"))["sessions"]:
                append_session(out_dir, session)
