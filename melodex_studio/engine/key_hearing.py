"""The planner's ear: which key a plan will be *heard* in once it is rendered, from its score.

A score's own notes (`music.key_reading`) tell which key it is written to establish, but not
which key its audio sounds in. A bass note is heard far louder than a chord tone and brings its
overtones (the fifth, and the major third: the 5th partial of A is C#), so a minor section whose
bass sits on the tonic can be heard in the parallel major. On the built-in model's own output a
score that reads clearly in a minor key was heard in it only 73 % of the time.

`KeyHearing` predicts the chroma a chroma key finder will measure from the plan: for each part
(chord tones, bass, melody) a 12-tap circular kernel over pitch classes, fitted by least squares
on corpus audio against its own scores (`training.key_hearing_fit`). The kernels are data of
the built-in model, stored in ``config.json`` under ``key_hearing``; a model folder without them
plans with the score's reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodex_studio.engine.weights import ModelLoadError, read_model_config
from melodex_studio.music.key import Key
from melodex_studio.music.key_reading import SCORE_PARTS, pitch_margin, plan_part_weights
from melodex_studio.music.plan import Plan

COMPONENT = "key_hearing"
N_PARTS = len(SCORE_PARTS)  # chord tones, bass, melody: the rows of `plan_part_weights`


def circulant_rows(weights: np.ndarray) -> np.ndarray:
    """[12, 12] matrix M of a pitch-class vector w with ``(M @ kernel)[p] = sum_s w[p - s]
    kernel[s]``: a kernel tap s spreads each pitch class's weight onto the class s above."""
    return np.stack([np.roll(np.asarray(weights, dtype=np.float64), shift)
                     for shift in range(12)], axis=1)


@dataclass(frozen=True)
class KeyHearing:
    """Per-part circular kernels [3, 12] (tap 0 = the note itself, tap 7 its fifth above...)."""

    kernels: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)  # how it was fitted, for the model card

    def __post_init__(self) -> None:
        kernels = np.asarray(self.kernels, dtype=np.float64)
        if kernels.shape != (N_PARTS, 12) or not np.isfinite(kernels).all():
            raise ValueError(f"key hearing kernels must be {N_PARTS} x 12 finite numbers, "
                             f"got shape {kernels.shape}")
        object.__setattr__(self, "kernels", kernels)

    @classmethod
    def identity(cls) -> KeyHearing:
        """Every part heard as written, each note only itself: the score's own reading."""
        kernels = np.zeros((N_PARTS, 12))
        kernels[:, 0] = 1.0
        return cls(kernels)

    def heard(self, part_weights: np.ndarray) -> np.ndarray:
        """[12] predicted chroma of part weights [3, 12] (`plan_part_weights`)."""
        weights = np.asarray(part_weights, dtype=np.float64)
        return sum(circulant_rows(weights[part]) @ self.kernels[part] for part in range(N_PARTS))

    def margin(self, plan: Plan, key: Key) -> float:
        """How clearly `plan` will be heard in `key`: the predicted chroma's correlation with
        `key`'s profile minus the best other key's (positive when `key` is what is heard)."""
        return pitch_margin(self.heard(plan_part_weights(plan, key)), key)

    def to_dict(self) -> dict[str, Any]:
        return {"parts": list(SCORE_PARTS),
                "kernels": [[round(float(v), 6) for v in row] for row in self.kernels],
                **self.info}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyHearing:
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        info = {k: v for k, v in data.items() if k not in ("parts", "kernels")}
        return cls(np.asarray(data["kernels"], dtype=np.float64), info)

    @classmethod
    def from_model_dir(cls, model_dir: Path | str) -> KeyHearing | None:
        """The kernels stored with a model, or None when its config has none. A section that is
        there but unreadable is an error: planning with a broken ear would go unnoticed."""
        fragment = read_model_config(Path(model_dir)).get(COMPONENT)
        if fragment is None:
            return None
        try:
            return cls.from_dict(fragment)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(
                f"{Path(model_dir) / 'config.json'}: unreadable '{COMPONENT}' section: {exc}"
            ) from exc
