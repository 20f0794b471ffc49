"""Loading the networks a worker runs, on the chosen device, and naming them for the record.

Two sources: the built-in `melodex-tiny` folder (weights verified against config.json by the
engine loaders) or tiny random networks from a seed (tests, and the CLI's hidden test flag).
Either way the result carries a weights hash that every take records: sha256 over the weight
files' own sha256s for a folder, over the tensors themselves for random networks.

The prompt encoder (all-MiniLM-L6-v2 through transformers) takes seconds to import and load, so
it loads on a background thread: the worker reports ready as soon as the small networks are in
memory, and the first job that needs a prompt embedding waits for the encoder.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from melodex_studio.engine.codec import Codec
from melodex_studio.engine.memory import keep_freed_memory
from melodex_studio.engine.networks.dit import DiT
from melodex_studio.engine.networks.structure_transformer import StructureTransformer
from melodex_studio.engine.precision import compute_dtype
from melodex_studio.engine.text_encoder import MiniLMTextEncoder
from melodex_studio.engine.weights import ModelLoadError
from melodex_studio.worker.jobs import ModelInfo
from melodex_studio.worker.model_paths import (
    BUILTIN_MODEL_ID,
    builtin_model_dir,
    missing_model_message,
    model_is_present,
)
from melodex_studio.worker.protocol import WorkerConfig

COMPONENTS = ("codec", "renderer", "structure")


class ModelUnavailable(RuntimeError):
    """The worker cannot load its models; the message says what to do."""


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable("device 'cuda' was asked for but torch sees no CUDA GPU")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class EncoderWaitCancelled(Exception):
    """The job was cancelled while it waited for the prompt encoder to load."""


#: One encoder loads at a time in a process: transformers' lazily imported modules are not safe
#: to import from two threads at once ("cannot import name 'AutoModel'"), which two workers in
#: one process (the in-process client beside another) would otherwise do.
_ENCODER_LOAD_LOCK = threading.Lock()


class _LazyTextEncoder:
    """MiniLM loaded on a background thread; `encode` waits for it the first time."""

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._encoder: MiniLMTextEncoder | None = None
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        threading.Thread(target=self._load, name="melodex-text-encoder", daemon=True).start()

    def _load(self) -> None:
        try:
            # No progress bar in a worker: nobody sees it, and tqdm's lock would be a
            # semaphore that a killed worker leaves behind.
            with _ENCODER_LOAD_LOCK:
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                self._encoder = MiniLMTextEncoder(device=self._device)
        except BaseException as exc:  # reported to the job that needs the encoder
            self._error = exc
        finally:
            self._loaded.set()

    def embed(self, text: str, cancelled: Callable[[], bool] | None = None) -> Tensor:
        """The embedding of `text`; while the encoder is still loading, `cancelled` is polled
        so a job cancelled in that time stops at once (a time limit then needs no kill)."""
        while not self._loaded.wait(0.02):
            if cancelled is not None and cancelled():
                raise EncoderWaitCancelled()
        if self._encoder is None:
            raise ModelUnavailable(f"the prompt encoder could not load: {self._error}")
        return self._encoder.encode([text])[0]


@dataclass
class LoadedModels:
    info: ModelInfo
    device: torch.device
    codec: Codec
    renderer: DiT
    structure: StructureTransformer
    text: _LazyTextEncoder
    schedule_shift: float = 1.0
    compute_dtype: torch.dtype = torch.float32  # the renderer's, under autocast on a GPU

    def embed(
        self, prompt: str, style: str | None, cancelled: Callable[[], bool] | None = None
    ) -> Tensor:
        """The prompt embedding; a style is part of what the musician asked for, so it is read
        with the prompt ("dusty lo-fi keys (style: lo-fi hip hop)")."""
        text = prompt if not style else f"{prompt} (style: {style})".strip()
        return self.text.embed(text, cancelled)


def _tensors_hash(modules: dict[str, nn.Module]) -> str:
    digest = hashlib.sha256()
    for name, module in modules.items():
        for key, tensor in sorted(module.state_dict().items()):
            digest.update(f"{name}.{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _files_hash(model_dir: Path) -> tuple[str, float]:
    """sha256 over each component's listed file hashes, and the renderer's schedule shift."""
    config_path = model_dir / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"{config_path} is unreadable: {exc}") from exc
    digest = hashlib.sha256()
    for component in COMPONENTS:
        files = config.get(component, {}).get("files", {})
        for name in sorted(files):
            entry = files[name]
            sha = entry.get("sha256") if isinstance(entry, dict) else entry
            digest.update(f"{component}/{name}:{sha}\n".encode())
    shift = float(config.get("renderer", {}).get("schedule_shift", 1.0))
    return digest.hexdigest(), shift


def load_models(config: WorkerConfig) -> LoadedModels:
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    keep_freed_memory()  # decodes reuse their freed blocks instead of faulting in fresh pages
    shift = 1.0
    if config.model == "tiny-random":
        seed = config.tiny_seed
        codec, renderer = Codec.tiny_random(seed), DiT.tiny_random(seed + 1)
        structure = StructureTransformer.tiny_random(seed + 2)
        model_id = f"{BUILTIN_MODEL_ID}-tiny-random-{seed}"
        weights_hash = _tensors_hash({"codec": codec, "renderer": renderer, "structure": structure})
    else:
        model_dir = Path(config.model_dir) if config.model_dir else builtin_model_dir()
        if not model_is_present(model_dir):
            raise ModelUnavailable(missing_model_message(model_dir))
        try:
            codec = Codec.from_pretrained(model_dir)
            renderer = DiT.from_pretrained(model_dir)
            structure = StructureTransformer.from_pretrained(model_dir)
        except (ModelLoadError, KeyError) as exc:
            raise ModelUnavailable(f"cannot load the model in {model_dir}: {exc}") from exc
        weights_hash, shift = _files_hash(model_dir)
        model_id = BUILTIN_MODEL_ID if model_dir == builtin_model_dir() else model_dir.name
    codec, renderer, structure = (m.to(device).eval() for m in (codec, renderer, structure))
    info = ModelInfo(
        model_id=model_id,
        weights_hash=weights_hash,
        latent_channels=renderer.config.latent_channels,
        latent_frame_rate=codec.config.latent_frame_rate,
        sample_rate=codec.sample_rate,
        samples_per_frame=codec.samples_per_latent_frame,
        schedule_shift=shift,
    )
    return LoadedModels(info, device, codec, renderer, structure, _LazyTextEncoder(device), shift,
                        compute_dtype(device, config.half_precision))
