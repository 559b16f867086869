"""Fixtures for the coding tests: a tiny hand-written corpus and a coder trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from coding.coder import MitiCoder, clear_cache, save_coder, set_current, train_coder
from coding.corpus import read_project_corpus

FIXTURES = Path(__file__).parent / "fixtures"
ANNOMI_TRAIN = Path(__file__).resolve().parents[2].parent / "shared" / "annomi" / "train.csv"


@pytest.fixture(scope="session")
def tiny_corpus_path() -> Path:
    return FIXTURES / "tiny_corpus.txt"


@pytest.fixture(scope="session")
def tiny_coder(tiny_corpus_path: Path) -> MitiCoder:
    return train_coder(read_project_corpus(tiny_corpus_path), version="tiny-1")


@pytest.fixture()
def model_dir(tmp_path: Path, tiny_coder: MitiCoder) -> Path:
    """A model directory holding the tiny coder as CURRENT."""
    clear_cache()
    d = tmp_path / "models"
    save_coder(tiny_coder, d)
    set_current(d, tiny_coder.version)
    yield d
    clear_cache()


@pytest.fixture()
def transcript(tmp_path: Path) -> Path:
    p = tmp_path / "session.txt"
    p.write_text(
        "P: Hi Dean, thanks for having me. How have the weekends been?\n"
        "C: Fine. I don't see the problem with a few cans.\n"
        "P: You don't see a problem with it.\n"
        "C: No. But I want the kids to see me sober.\n"
        "P: You really care about how they see you. What would help?\n"
        "C: I could cut down on Saturdays.\n",
        encoding="utf-8",
    )
    return p
