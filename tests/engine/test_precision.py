"""Which float type the networks compute in: bfloat16 only on a GPU that has it and only when
the musician allows it."""

from __future__ import annotations

import pytest
import torch

from melodex_studio.engine.precision import compute_dtype, precision_name


@pytest.mark.parametrize("has_bf16", [True, False])
def test_bfloat16_only_on_a_gpu_that_has_it_and_only_when_allowed(monkeypatch, has_bf16) -> None:
    asked: list[bool] = []

    def supported(including_emulation: bool = True) -> bool:
        asked.append(including_emulation)
        return has_bf16

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert compute_dtype(cuda, True) == (torch.bfloat16 if has_bf16 else torch.float32)
    assert asked == [False]  # an emulated bf16 (an older GPU) is slower than float32
    assert compute_dtype(cuda, False) == torch.float32
    assert compute_dtype(cpu, True) == compute_dtype(cpu, False) == torch.float32


def test_the_status_names_the_precision() -> None:
    assert precision_name(torch.bfloat16) == "bfloat16"
    assert precision_name(torch.float32) == "float32"
