"""engine.memory: the worker keeps freed blocks instead of faulting in fresh pages each decode."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from melodex_studio.engine import memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# Eight 30 s decodes with a tiny random codec: its STFT is the shipped one's (n_fft 1024, hop
# 256), so its refinement loop allocates and frees the same 1-12 MB spectra a real decode does.
# Prints the page faults of the last three.
_DECODE_FAULTS = """
import resource, sys, torch
from melodex_studio.engine.codec import Codec
from melodex_studio.engine.memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(2)
codec = Codec.tiny_random(0)
frames = 30 * codec.sample_rate // codec.samples_per_latent_frame
latents = torch.randn(1, codec.config.autoencoder.latent_channels, frames,
                      generator=torch.Generator().manual_seed(0))
for decode in range(8):
    if decode == 5:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    codec.decode(latents)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _decode_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _DECODE_FAULTS, mode], check=True,
                          capture_output=True, text=True, timeout=300)
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_decodes_reuse_freed_blocks_without_page_faults() -> None:
    kept = _decode_faults("keep")
    default = _decode_faults("default")
    # Measured over the last three of eight decodes: 0-1,408 with the settings (the heap may
    # still grow once), 17,000-48,000 without them.
    assert kept < 4000, f"{kept} page faults in three decodes with the settings"
    assert default > 12000, f"only {default} without them: the check would prove nothing"


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_the_settings_take_and_can_be_set_again() -> None:
    assert memory.keep_freed_memory()
    assert memory.keep_freed_memory()


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("", ""))
    assert memory.keep_freed_memory() is False
