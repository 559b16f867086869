"""The fixture generator: the benchmark's long role-play really is as long as asked."""

from __future__ import annotations

import itertools
import shutil

import pytest

from tests.fixtures.audio import make_fixtures as mf


@pytest.mark.skipif(shutil.which("espeak-ng") is None,
                    reason="espeak-ng is not installed (apt-get install espeak-ng; .ci/run does)")
def test_long_roleplay_reaches_ten_minutes() -> None:
    stereo, turns = mf.long_roleplay(10.0)
    seconds = stereo.shape[1] / mf.RATE
    assert seconds >= 600.0, f"{seconds / 60:.1f} minutes"
    assert seconds < 660.0  # and not much longer: it stops once the target is reached
    roles = [t.role for t in turns]
    assert roles[::2] == ["practitioner"] * len(roles[::2])
    assert roles[1::2] == ["client"] * len(roles[1::2])
    assert all(a.end < b.start for a, b in itertools.pairwise(turns))  # turns never overlap
    assert turns[-1].end <= seconds
