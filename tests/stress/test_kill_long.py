"""The long kill run: thousands of SIGKILLs during save and autosave.

Skipped unless MELODEX_STRESS=1 (it takes several minutes):
    MELODEX_STRESS=1 .venv/bin/python -m pytest tests/stress -q -s
MELODEX_STRESS_KILLS sets the number of kills of each kind (default 1500).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from kill_harness import run_journal_kills, run_save_kills

KILLS = int(os.environ.get("MELODEX_STRESS_KILLS", "1500"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("MELODEX_STRESS") != "1", reason="set MELODEX_STRESS=1"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    pytest.mark.timeout(3600),
]


@pytest.mark.parametrize("seed", [101, 202])
def test_many_kills_during_save(tmp_path, seed):
    stats = run_save_kills(tmp_path, KILLS // 2, seed=seed)
    print(f"save kills: {stats.kills}, phases {dict(stats.phases)}, {dict(stats.outcomes)}")
    assert stats.phases["writing"] >= stats.kills // 6


@pytest.mark.parametrize("seed", [303, 404])
def test_many_kills_during_autosave(tmp_path, seed):
    stats = run_journal_kills(tmp_path, KILLS // 2, seed=seed, edits=40)
    print(f"journal kills: {stats}")
    assert stats.restored_acknowledged + stats.restored_in_flight >= stats.kills // 2
