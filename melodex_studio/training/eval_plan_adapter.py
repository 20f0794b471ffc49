"""How much of the plan's harmony survives the codec, with and without the plan adapter.

Held-out corpus examples are encoded and decoded twice, from the latents alone and with their
labelled plan's control raster through the adapter, and judged by the generation judges
(`eval_metrics`: triad agreement per bar, key profile) against their labels, beside the
original audio. Log-mel L1 against the original says what the adapter does to everything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from melodex_studio.engine.codec import Codec
from melodex_studio.engine.control_raster import control_raster
from melodex_studio.training.codec_data import to_mono
from melodex_studio.training.corpus.render import RenderLabels
from melodex_studio.training.eval_metrics import chroma_frames, judge_chords, judge_key
from melodex_studio.training.renderer_data import corpus_documents

ROWS = ("original", "round_trip", "round_trip_with_plan")
MIN_SECONDS = 4.0


def evaluate_plan_adapter(codec: Codec, corpus_dir: Path | str,
                          max_examples: int = 48) -> dict[str, Any]:
    """Per row: bars judged and agreeing, keys exact, mean log-mel L1; plus a printable table."""
    if codec.plan_adapter is None:
        raise ValueError("this codec has no plan adapter")
    rate, spf = codec.sample_rate, codec.samples_per_latent_frame
    totals = {row: {"bars": 0, "agreeing": 0, "keys": 0, "mel_l1": 0.0} for row in ROWS}
    examples = 0
    for document in corpus_documents(Path(corpus_dir), held_out=True):
        if examples >= max_examples:
            break
        audio, _ = sf.read(Path(corpus_dir) / "examples" / document["audio"], dtype="float32")
        audio = np.ascontiguousarray(to_mono(audio))
        if audio.size < MIN_SECONDS * rate:
            continue
        examples += 1
        labels = RenderLabels.model_validate(document["labels"])
        section, grid = labels.section, labels.grid()
        latents = codec.encode(torch.from_numpy(audio))
        frames = latents.shape[-1]
        control = control_raster(section.plan, section.key_value, grid, frames,
                                 codec.config.latent_frame_rate)
        target = codec.mel(F.pad(torch.from_numpy(audio), (0, frames * spf - audio.size)))
        mels = {"round_trip": codec.decode_to_mel(latents),
                "round_trip_with_plan": codec.decode_to_mel(latents, control=control)}
        outputs = {"original": audio}
        for row, mel in mels.items():
            totals[row]["mel_l1"] += float((mel - target).abs().mean())
            outputs[row] = codec.decode_mel(mel)[0].cpu().numpy()[: audio.size]
        for row, output in outputs.items():
            chroma = chroma_frames(output, rate)
            chords = judge_chords(chroma, grid, section.plan)
            totals[row]["bars"] += chords.bars_judged
            totals[row]["agreeing"] += chords.bars_agreeing
            totals[row]["keys"] += int(judge_key(chroma, section.key_value).correct)
    if not examples:
        raise ValueError(f"no held-out examples of at least {MIN_SECONDS:.0f} s in {corpus_dir}")
    lines = [f"pitch through the codec, {examples} held-out examples",
             "| audio | chords per bar | key exact | log-mel L1 |", "|---|---|---|---|"]
    for row, t in totals.items():
        t["mel_l1"] /= examples
        share = t["agreeing"] / max(t["bars"], 1)
        mel = "-" if row == "original" else f"{t['mel_l1']:.4f}"
        lines.append(f"| {row.replace('_', ' ')} | {share:.1%} ({t['agreeing']} of {t['bars']}) "
                     f"| {t['keys']} of {examples} | {mel} |")
    return {"examples": examples, "rows": totals, "table": "\n".join(lines)}
