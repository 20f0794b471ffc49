"""MusicGen from a folder on disk: transformers' networks, our own token loop.

MusicGen writes EnCodec codes left to right, K codebooks a frame, each codebook delayed by
its index (the "delay pattern"), with classifier-free guidance on the logits. The stock
`generate` draws its randomness from the global generator and keeps nothing of a run but the
audio. Here the same networks are sampled by a loop of our own, so a take keeps its full state
the way a diffusion take does:
- the "latent" is the code grid [K, frames] (float32, so it travels like any latent);
- the take's noise is a Gaussian draw [K, frames] like every model's (`seeded_noise`), and the
  code at (codebook, frame) is drawn by inverse CDF at that noise value's normal CDF, so the
  same seed gives the same codes whatever order they are drawn in;
- step k of `steps` is the point where the first k/steps of the region's frames are complete;
  its checkpoint is the code grid with the frames after that point unknown (-1). A token prefix
  is MusicGen's natural checkpoint: resuming from it replays the prefix through the network
  one position at a time, as the run did, and draws the rest exactly as the run did.
The model only continues music, so it renders one region that nothing kept follows (a
section, the bars to its end, a continuation), never a gap inside a take. Where the window has
frames after the region (the next section), the delay pattern feeds their first codebooks
while the region's last frames get their finer codebooks, as it would inside a longer piece:
the region's end is written to lead into what follows. Its other frames do not depend on it.
MusicGen reads at most 30 s as one sequence; a longer render is written in passes, each
continuing the 10 s before it (`_passes`, cut where the region alone says, so resumes stay
exact).

Weights are never downloaded: `from_folder` reads a folder laid out as transformers saves
MusicGen (config.json, the weights, the tokenizer files) with `local_files_only`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from melodex_studio.engine.backends.capabilities import BackendCapabilities
from melodex_studio.engine.backends.folders import folder_model_type, is_musicgen_folder
from melodex_studio.engine.pipelines.render import RenderCancelled, RenderResult, StepCallback
from melodex_studio.engine.sampling import CancelFlag, is_cancelled, seeded_noise
from melodex_studio.engine.weights import ModelLoadError

CAPABILITIES = BackendCapabilities(generate=True, repaint=False, extend=True, resume=True,
                                   plan=False, imports=True, diffusion=False, max_seconds=300.0)
PASS_SECONDS = 30.0  # the longest stretch one pass reads, as MusicGen was trained
CONTEXT_SECONDS = 10.0  # what a later pass of a longer render continues from
UNKNOWN = -1.0  # a checkpoint's frames not written yet


@dataclass(frozen=True)
class MusicGenConditioning:
    """The prompt as the decoder's cross-attention reads it: projected text states [2, L, D]
    (the prompt, then the unconditional all-zero row) and their mask [2, L]."""

    states: Tensor
    mask: Tensor


@dataclass(frozen=True)
class Region:
    """The frames a render writes, [start, end) of the window, and how far it had got when the
    run (re)started: frames before `start + done` are known."""

    start: int
    end: int
    done: int = 0

    @property
    def frames(self) -> int:
        return self.end - self.start

    def completed_at(self, step: int, steps: int) -> int:
        """Frames of the region complete after step `step` of `steps`."""
        return round(step * self.frames / steps)


def region_of(mask: Tensor) -> tuple[int, int]:
    """The one run of True frames in `mask`, as [start, end); MusicGen cannot fill gaps."""
    frames = torch.nonzero(mask).flatten()
    if len(frames) == 0:
        raise ValueError("the region to render is empty")
    start, end = int(frames[0]), int(frames[-1]) + 1
    if len(frames) != end - start:
        raise ValueError("MusicGen renders one stretch of frames at a time, not several")
    return start, end


def uniforms(noise: Tensor) -> Tensor:
    """The noise's normal CDF, float64 in (0, 1): each code's inverse-CDF draw."""
    return 0.5 * (1.0 + torch.erf(noise.double() / math.sqrt(2.0)))


def pick(logits: Tensor, u: Tensor, temperature: float, top_k: int) -> Tensor:
    """One token a row of `logits` [R, V]: the argmax at temperature 0, else the inverse-CDF
    draw at `u` [R] among the `top_k` best (all for 0) at `temperature`. float64 on the CPU,
    so the draw depends on nothing but the logits and u."""
    logits = logits.double().cpu()
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    k = logits.shape[-1] if top_k <= 0 else min(top_k, logits.shape[-1])
    values, order = torch.topk(logits, k, dim=-1, sorted=True)  # ties keep the lower id
    weights = torch.softmax(values / temperature, dim=-1)
    cumulative = weights.cumsum(dim=-1)
    index = torch.searchsorted(cumulative, (u * cumulative[:, -1])[:, None], right=True)
    return order.gather(1, index.clamp(max=k - 1))[:, 0]


class MusicGen:
    """A MusicGen model (transformers' `MusicgenForConditionalGeneration`) and its tokenizer
    on one device, in eval mode."""

    capabilities = CAPABILITIES

    def __init__(self, model: Any, tokenizer: Any, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        decoder = self.model.decoder
        self.codebooks = int(decoder.num_codebooks)
        self.stereo = int(decoder.config.audio_channels) == 2
        self.vocab = int(decoder.config.vocab_size)
        self.pad = int(self.model.generation_config.pad_token_id
                       if self.model.generation_config.pad_token_id is not None
                       else decoder.config.pad_token_id)
        generation = self.model.generation_config
        self.top_k = int(generation.top_k or 0) if generation.do_sample else 0
        self.temperature = float(generation.temperature or 1.0) if generation.do_sample else 0.0
        self.default_guidance = float(generation.guidance_scale or 3.0)
        self.delays = [k // 2 if self.stereo else k for k in range(self.codebooks)]
        self.max_positions = int(decoder.config.max_position_embeddings)
        # A render longer than a pass is written pass after pass, each continuing the last
        # `context_frames` before it (how MusicGen writes long pieces).
        self.pass_frames = min(round(PASS_SECONDS * self.frame_rate),
                               self.max_positions - max(self.delays) - 1)
        self.context_frames = min(round(CONTEXT_SECONDS * self.frame_rate), self.pass_frames // 2)
        parameters = inspect.signature(decoder.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"

    @classmethod
    def from_folder(cls, folder: Path | str, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32) -> MusicGen:
        """Load a MusicGen folder as transformers saves one (config.json with model_type
        "musicgen", the weights, generation_config.json and the tokenizer's files). The prompt
        encoder and the decoder compute in `dtype` (`engine.precision`); EnCodec stays float32,
        so an import's codes and a take's audio are the full-precision codec's. The weights are
        read in float32 and then cast, so EnCodec's are never rounded."""
        folder = Path(folder)
        if not is_musicgen_folder(folder):
            if folder_model_type(folder) == "musicgen_melody":
                raise ModelLoadError(f"{folder} holds MusicGen Melody, which the studio does not "
                                     "run yet: use MusicGen small, medium, large or stereo")
            raise ModelLoadError(
                f"{folder} is not a MusicGen folder: its config.json does not describe a "
                "MusicGen model (point the studio at the folder that holds config.json, the "
                "weights and the tokenizer files)")
        from transformers import AutoTokenizer, MusicgenForConditionalGeneration

        try:
            model = MusicgenForConditionalGeneration.from_pretrained(
                folder, local_files_only=True, dtype=torch.float32)
        except Exception as error:  # a truncated or foreign file: say so
            raise ModelLoadError(f"cannot load MusicGen from {folder}: {error}") from error
        if dtype != torch.float32:
            for name in ("text_encoder", "decoder", "enc_to_dec_proj"):  # no projection when
                if hasattr(model, name):  # the prompt's width is the decoder's
                    getattr(model, name).to(dtype)
        if not (folder / "generation_config.json").is_file():
            # MusicGen's published sampling: greedy decoding loops on one sound.
            generation = model.generation_config
            generation.do_sample, generation.top_k, generation.temperature = True, 250, 1.0
            generation.guidance_scale = 3.0
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        except Exception as error:
            raise ModelLoadError(f"cannot load MusicGen's tokenizer from {folder} (it needs the "
                                 f"tokenizer files beside the weights): {error}") from error
        return cls(model, tokenizer, device)

    # --- geometry ------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def latent_channels(self) -> int:
        return self.codebooks

    @property
    def frame_rate(self) -> float:
        return float(self.model.config.audio_encoder.frame_rate)

    @property
    def samples_per_frame(self) -> int:
        return int(math.prod(self.model.config.audio_encoder.upsampling_ratios))

    # --- conditioning --------------------------------------------------------------------

    @torch.inference_mode()
    def condition(self, prompt: str) -> MusicGenConditioning:
        longest = getattr(self.tokenizer, "model_max_length", 512)
        tokens = self.tokenizer([prompt], padding=True, truncation=True,
                                max_length=min(int(longest), 512), return_tensors="pt")
        ids = tokens.input_ids.to(self.device)
        mask = tokens.attention_mask.to(self.device)
        states = self.model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        text_size = self.model.text_encoder.config.hidden_size
        if (text_size != self.model.decoder.config.hidden_size
                and self.model.decoder.config.cross_attention_hidden_size is None):
            states = self.model.enc_to_dec_proj(states)
        states = states * mask[..., None]
        return MusicGenConditioning(states=torch.cat([states, torch.zeros_like(states)]),
                                    mask=torch.cat([mask, torch.zeros_like(mask)]))

    # --- sampling ------------------------------------------------------------------------

    @torch.inference_mode()
    def render(
        self,
        cond: MusicGenConditioning,
        n_frames: int,
        *,
        seed: int = 0,
        noise: Tensor | None = None,
        steps: int = 16,
        guidance: float | None = None,
        guidance_interval: tuple[float, float] = (0.0, 1.0),
        sampler: Literal["euler", "heun"] = "euler",
        region_mask: Tensor | None = None,
        source_latents: Tensor | None = None,
        start_step: int | None = None,
        init_latent: Tensor | None = None,
        strength: float | None = None,
        step_callback: StepCallback | None = None,
        cancel: CancelFlag = None,
        checkpoint_steps: Collection[int] | Literal["all"] | None = "all",
        temperature: float | None = None,
        top_k: int | None = None,
    ) -> RenderResult:
        """Codes [K, n_frames] over the region of `region_mask` (all frames for None),
        continuing the source's frames before it; frames outside it are the source's. The
        arguments mean what they mean for the other models' `render`: `start_step` with
        `init_latent` (a stored checkpoint) resumes, with the source alone (or `strength`,
        the fraction of the region drawn again) keeps the source's first frames of the region
        and draws the rest. `guidance` (default: the folder's own, 3) applies to every code:
        `guidance_interval` (noise levels) and `sampler` have no meaning for a token model."""
        del sampler, guidance_interval  # one way to draw tokens, guided throughout
        shape = (self.codebooks, n_frames)
        mask = torch.ones(n_frames, dtype=torch.bool) if region_mask is None else region_mask
        if tuple(mask.shape) != (n_frames,):
            raise ValueError(f"region mask must be [{n_frames}], got {tuple(mask.shape)}")
        start, end = region_of(mask)
        if source_latents is None and start > 0:
            raise ValueError("frames before the region need source latents")
        if source_latents is not None and tuple(source_latents.shape) != shape:
            raise ValueError(f"source latents must be {list(shape)}, got "
                             f"{tuple(source_latents.shape)}")
        if steps < 1:
            raise ValueError(f"a render needs at least one step, got {steps}")
        if noise is None:
            noise = seeded_noise(seed, shape)
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise must be {list(shape)}, got {tuple(noise.shape)}")
        noise = noise.float().cpu()
        codes = (torch.zeros(shape) if source_latents is None
                 else source_latents.float().cpu().clone())
        if not self.are_codes(codes):
            raise ValueError("the source latent holds values that are not MusicGen codes: it "
                             "is not this model's")
        region = Region(start, end)

        # Where the run starts: a stored checkpoint, the source's first frames, or nothing.
        first = 0
        if strength is not None and start_step is None and init_latent is None:
            if not 0.0 <= strength <= 1.0:
                raise ValueError(f"strength must be within 0..1, got {strength}")
            start_step = round((1.0 - strength) * steps)
        if start_step is not None:
            if not 0 <= int(start_step) <= steps:
                raise ValueError(f"start step {start_step} is outside 0..{steps}")
            first = int(start_step)
            done = region.completed_at(first, steps)
            prefix_from = init_latent if init_latent is not None else source_latents
            if done and prefix_from is None:
                raise ValueError("a run from a later step needs the latent it starts from")
            if done:
                assert prefix_from is not None
                prefix = prefix_from.float().cpu()[:, start : start + done]
                if bool((prefix < 0).any()) or not self.are_codes(prefix):
                    raise ValueError(f"the latent of step {first} holds no codes where the run "
                                     "resumes: it is not this model's checkpoint")
                codes[:, start : start + done] = prefix
            region = Region(start, end, done)
        codes[:, region.start + region.done : end] = UNKNOWN

        wanted = set(range(steps + 1)) if checkpoint_steps == "all" else set(
            checkpoint_steps or ())
        checkpoints = {first: codes.clone()} if first in wanted else {}
        scale = self.default_guidance if guidance is None else float(guidance)
        temperature = self.temperature if temperature is None else float(temperature)
        top_k = self.top_k if top_k is None else int(top_k)
        draws = uniforms(noise)
        step = first

        def at_step(step: int) -> Tensor:
            state = codes.clone()
            state[:, start + region.completed_at(step, steps) : end] = UNKNOWN
            return state

        for first_frame, part, last_frame in self._passes(region, n_frames):
            # One pass reads window frames [first_frame, last_frame) as its own sequence.
            view, view_draws = codes[:, first_frame:last_frame], draws[:, first_frame:last_frame]
            for position, logits in self._positions(cond, view, part, scale):
                if is_cancelled(cancel):
                    raise RenderCancelled(step, at_step(step), checkpoints)
                rows = [k for k, delay in enumerate(self.delays)
                        if part.start + part.done <= position - delay < part.end]
                frames = [position - self.delays[k] for k in rows]
                view[rows, frames] = pick(logits[rows], view_draws[rows, frames], temperature,
                                          top_k).float()
                complete = first_frame + part.start - start + min(
                    max(position - max(self.delays) + 1 - part.start, 0), part.frames)
                while step < steps and region.completed_at(step + 1, steps) <= complete:
                    step += 1
                    state = at_step(step)
                    if step in wanted:
                        checkpoints[step] = state
                    if step_callback is not None:
                        step_callback(step, steps, state)
        while step < steps:  # a region of fewer frames than steps: the last steps are empty
            step += 1
            if step in wanted:
                checkpoints[step] = codes.clone()
            if step_callback is not None:
                step_callback(step, steps, codes.clone())
        progress = [region.completed_at(k, steps) / region.frames for k in range(steps + 1)]
        return RenderResult(initial_noise=noise, checkpoints=checkpoints, final_latent=codes,
                            steps_run=steps - first, start_step=first, schedule=progress,
                            control=torch.zeros(0, n_frames))

    def vary_state(self, state: Tensor, step: int, steps: int, old_noise: Tensor,
                   new_noise: Tensor) -> Tensor:
        """A checkpoint holds codes, not noise: it stays as it is, and the new noise draws the
        codes still to come (`render` with it as `noise`)."""
        return state

    def _passes(self, region: Region, n_frames: int) -> list[tuple[int, Region, int]]:
        """The passes that write what `region` still lacks: (first window frame the pass reads,
        its part of the region counted from that frame, the frame it stops reading at). A
        window of one pass is read whole (the context before the region, the frames after
        it); a longer one is cut at frames fixed by the region alone, so a resumed run cuts
        where the run did: each pass continues the `context_frames` before its part and ends
        its sequence at the part's end, the last one reading the frames after the region."""
        if n_frames <= self.pass_frames:
            cuts = [(0, region.start, region.end, n_frames)]
        else:
            cuts = []
            part_start, first = region.start, max(0, region.start - self.context_frames)
            while part_start < region.end:
                part_end = min(region.end, first + self.pass_frames)
                stop = min(n_frames, first + self.pass_frames) if part_end == region.end \
                    else part_end
                cuts.append((first, part_start, part_end, stop))
                part_start, first = part_end, max(0, part_end - self.context_frames)
        known = region.start + region.done
        return [(first, Region(part_start - first, part_end - first,
                               max(0, known - part_start)), stop)
                for first, part_start, part_end, stop in cuts if known < part_end]

    def _positions(self, cond: MusicGenConditioning, codes: Tensor, region: Region,
                   scale: float):
        """(position, guided logits [K, V]) for every decoder position whose logits draw a
        code of the region not yet known, running the decoder as the run first did: the
        frames before the region in one pass, every later position one at a time (so a
        resumed run reads the same numbers as the run it resumes)."""
        guided = scale != 1.0
        states = cond.states if guided else cond.states[:1]
        mask = cond.mask if guided else cond.mask[:1]
        rows = states.shape[0]
        last = region.end - 1 + max(self.delays)  # the position that draws the last code
        cache = None
        position = region.start  # the prefill runs positions 0..start
        inputs = self._inputs(codes, 0, position + 1)
        while True:
            out = self.model.decoder(
                input_ids=inputs.repeat(rows, 1).to(self.device), encoder_hidden_states=states,
                encoder_attention_mask=mask, use_cache=True,
                **{self._cache_argument: cache})
            cache = out.cache if getattr(out, "cache", None) is not None else out.past_key_values
            logits = out.logits[:, -1].float()
            if position >= region.start + region.done:
                if guided:
                    conditional, unconditional = logits.split(self.codebooks)
                    logits = unconditional + (conditional - unconditional) * scale
                yield position, logits
            if position == last:
                return
            position += 1
            inputs = self._inputs(codes, position, position + 1)

    def _inputs(self, codes: Tensor, first: int, stop: int) -> Tensor:
        """Decoder input ids [K, stop - first] for positions first..stop-1 under the delay
        pattern: position p holds codebook k's code of frame p - 1 - delay, the pad token
        before the first frame and after the last."""
        frames = codes.shape[1]
        ids = torch.full((self.codebooks, stop - first), self.pad, dtype=torch.long)
        for k, delay in enumerate(self.delays):
            lo = max(first, 1 + delay)
            hi = min(stop, frames + 1 + delay)
            if lo < hi:
                column = codes[k, lo - 1 - delay : hi - 1 - delay]
                if bool((column < 0).any()):
                    raise ValueError("the source has unwritten frames (-1) where the model "
                                     "reads it: it is a checkpoint, not a take")
                ids[k, lo - first : hi - first] = column.long()
        return ids

    def are_codes(self, latent: Tensor) -> bool:
        """Whether every value is one of this model's codes or -1 (not written yet)."""
        return not bool(((latent < UNKNOWN) | (latent >= self.vocab)
                         | (latent != latent.round())).any())

    # --- codec ---------------------------------------------------------------------------

    @torch.inference_mode()
    def encode(self, audio: Tensor) -> Tensor:
        """Audio [samples] or [channels, samples] at `sample_rate` -> codes [K, frames], the
        channels mixed to mono (a stereo model gets the same codes on both sides, as
        transformers gives it a mono audio prompt). What a recording is continued from."""
        audio = audio.float()
        mono = audio if audio.ndim == 1 else audio.mean(dim=0)
        codes = self.model.audio_encoder.encode(mono[None, None].to(self.device)).audio_codes
        codes = codes[0, 0]  # [K / channels, frames]
        if self.stereo:
            codes = codes.repeat_interleave(2, dim=0)
        return codes.float().cpu()

    @torch.inference_mode()
    def decode(self, codes: Tensor) -> Tensor:
        """Codes [K, frames] -> audio [channels, frames * samples_per_frame]. Unknown frames
        (-1, a checkpoint's unwritten end) are silent."""
        codes = codes.float().cpu()
        if not self.are_codes(codes):
            raise ValueError("the latent holds values that are not MusicGen codes: it is not "
                             "a take of this model")
        unknown = (codes < 0).any(dim=0)
        ids = codes.clamp(min=0).long().to(self.device)
        groups = [ids[0::2], ids[1::2]] if self.stereo else [ids]
        audio = torch.cat([
            self.model.audio_encoder.decode(group[None, None], audio_scales=[None]).audio_values[0]
            for group in groups
        ]).float().cpu()
        hop = self.samples_per_frame
        length = codes.shape[-1] * hop
        if audio.shape[-1] < length:
            audio = torch.cat([audio, audio[:, -1:].expand(-1, length - audio.shape[-1])], dim=1)
        audio = audio[:, :length].clone()
        if bool(unknown.any()):
            audio[:, unknown.repeat_interleave(hop)] = 0.0
        return audio

