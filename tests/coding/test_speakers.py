"""coding.speakers: who spoke when (stereo and mono), turn splitting, role assignment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from coding.audio import DecodedAudio, decode
from coding.speakers import SpeakerTurn, assign_roles, diarise, practitioner_score
from coding.transcribe import Segment, Transcript, Word, get_transcriber
from coding.types import Code, CodedUtterance, Role, Turn, Utterance

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
REF = json.loads((AUDIO / "fixtures.json").read_text())["files"]


def reference_transcript(name: str, *, one_segment: bool = False) -> Transcript:
    """Whisper-like words from the reference: each turn's words spread over its span.

    ``one_segment`` puts the whole dialogue in ONE segment, the worst case for
    splitting (Whisper does merge a quick reply into the previous segment).
    """
    segments = []
    for t in REF[name]["turns"]:
        toks = t["text"].split()
        step = (t["end"] - t["start"]) / len(toks)
        words = tuple(Word(t["start"] + i * step, t["start"] + (i + 1) * step - 0.02, w, 0.9)
                      for i, w in enumerate(toks))
        segments.append(Segment(t["start"], t["end"], t["text"], words, 0.9))
    if one_segment:
        segments = [Segment(segments[0].start, segments[-1].end, " ".join(s.text for s in segments),
                            tuple(w for s in segments for w in s.words), 0.9)]
    return Transcript(tuple(segments), "en", REF[name]["duration"], "reference", "none")


def truth_roles(name: str, words: Sequence[Word]) -> list[str]:
    """The reference role at each word's midpoint (nearest turn if in a gap)."""
    turns = REF[name]["turns"]
    out = []
    for w in words:
        mid = 0.5 * (w.start + w.end)
        best = min(turns, key=lambda t: 0.0 if t["start"] <= mid <= t["end"]
                   else min(abs(mid - t["start"]), abs(mid - t["end"])))
        out.append(best["role"])
    return out


def label_accuracy(name: str, words: Sequence[Word], labels: Sequence[str]) -> float:
    """Share of words on the right speaker, under the better of the two label mappings."""
    truth = truth_roles(name, words)
    same = sum((lab == "S1") == (t == "practitioner") for lab, t in zip(labels, truth))
    return max(same, len(words) - same) / len(words)


def mono_only(audio: DecodedAudio) -> DecodedAudio:
    return DecodedAudio(audio.samples, (audio.samples,), audio.sample_rate, "test", "test", 1,
                        audio.sample_rate)


# ---------------------------------------------------------------- stereo

@pytest.mark.parametrize("name", ["drinking_stereo.flac", "safety_stereo.ogg"])
def test_stereo_uses_channel_energy(name: str) -> None:
    audio = decode(AUDIO / name)
    tx = reference_transcript(name, one_segment=True)
    d = diarise(audio, tx)
    assert d.method == "stereo-channel-energy"
    assert d.details["channel_median_abs_db"] > 15
    assert label_accuracy(name, tx.words, d.word_labels) == 1.0
    # The practitioner is on the RIGHT channel in these fixtures: S2, never "left = practitioner".
    assert d.turns[0].label == "S2"
    assert [t.text for t in d.turns] == [t["text"] for t in REF[name]["turns"]]


def test_stereo_that_is_really_mono_falls_back() -> None:
    audio = decode(AUDIO / "home_mono.wav")
    dup = DecodedAudio(audio.samples, (audio.samples, audio.samples.copy()), 16_000, "t", "t", 2,
                       16_000)
    d = diarise(dup, reference_transcript("home_mono.wav"))
    assert d.method == "mono-mfcc-gmm-viterbi"
    assert d.details["channel_median_abs_db"] < 1


# ---------------------------------------------------------------- mono

@pytest.mark.parametrize("name", ["home_mono.wav", "home_mono.mp3", "safety_mono.webm"])
def test_mono_words_go_to_the_right_speaker(name: str) -> None:
    audio = decode(AUDIO / name)
    tx = reference_transcript(name, one_segment=True)
    d = diarise(audio, tx)
    assert d.method == "mono-mfcc-gmm-viterbi"
    assert label_accuracy(name, tx.words, d.word_labels) >= 0.95
    # One Whisper segment spanning all turns is split back into the reference turns.
    assert len(d.turns) == len(REF[name]["turns"])


def test_mono_of_a_stereo_dialogue_and_the_baseline_method() -> None:
    name = "drinking_stereo.flac"
    audio = mono_only(decode(AUDIO / name))
    tx = reference_transcript(name)
    best = diarise(audio, tx)
    baseline = diarise(audio, tx, method="windows")
    assert best.method == "mono-mfcc-gmm-viterbi" and baseline.method == "mono-mfcc-windows"
    assert label_accuracy(name, tx.words, best.word_labels) >= 0.95
    assert label_accuracy(name, tx.words, baseline.word_labels) >= 0.8


def test_turns_never_mix_speakers_and_merge_across_segments() -> None:
    from coding.speakers import _turns

    w = [Word(i, i + 0.5, f"w{i}", 1.0) for i in range(6)]
    turns = _turns(w, ["S1", "S1", "S2", "S2", "S2", "S1"])
    assert [(t.label, t.text) for t in turns] == [("S1", "w0 w1"), ("S2", "w2 w3 w4"), ("S1", "w5")]
    assert turns[1].start == 2 and turns[1].end == 4.5


def test_no_words_gives_no_turns() -> None:
    audio = decode(AUDIO / "home_mono.wav")
    d = diarise(audio, Transcript((), "en", audio.duration, "x", "x"))
    assert d.turns == [] and d.method == "none"


@pytest.mark.slow
def test_mono_with_real_whisper_words() -> None:
    name = "home_mono.mp3"
    audio = decode(AUDIO / name)
    tx = get_transcriber("faster-whisper").transcribe(audio.samples)
    d = diarise(audio, tx)
    assert label_accuracy(name, tx.words, d.word_labels) >= 0.95
    assert len(d.turns) == len(REF[name]["turns"])


# ---------------------------------------------------------------- roles

def fake_code_turns(turns: list[Turn]) -> list[CodedUtterance]:
    """A stand-in coder: questions are Q_OPEN (0.9), everything else GI (0.5)/NEUTRAL."""
    out = []
    for i, t in enumerate(turns):
        u = Utterance(t.role, t.text, i, 0, t.start, t.end)
        if t.role is Role.CLIENT:
            out.append(CodedUtterance(u, Code.NEUTRAL, 0.8, "fake"))
        else:
            q = t.text.rstrip().endswith("?")
            out.append(CodedUtterance(u, Code.Q_OPEN if q else Code.GI, 0.9 if q else 0.5, "fake"))
    return out


def speaker_turns(lines: list[tuple[str, str]]) -> list[SpeakerTurn]:
    return [SpeakerTurn(lab, float(i), i + 0.9, tuple(Word(i, i + 0.9, w, 1.0)
                                                     for w in text.split()))
            for i, (lab, text) in enumerate(lines)]


def test_assign_roles_picks_the_asker() -> None:
    turns = speaker_turns([("S1", "I have been fine."), ("S2", "What has been hard?"),
                           ("S1", "Work."), ("S2", "How does that affect home?")])
    r = assign_roles(turns, fake_code_turns)
    assert r.practitioner == "S2"
    assert r.scores["S2"] > r.scores["S1"]
    assert [t.role for t in r.turns] == [Role.CLIENT, Role.PRACTITIONER] * 2
    assert r.coded[1].code is Code.Q_OPEN  # the winning assignment's codes are returned


def test_assign_roles_tie_goes_to_the_opener_and_single_speaker() -> None:
    turns = speaker_turns([("S2", "Hello."), ("S1", "Hi.")])
    assert assign_roles(turns, fake_code_turns).practitioner == "S2"
    only = assign_roles(speaker_turns([("S1", "Just me talking.")]), fake_code_turns)
    assert only.practitioner == "S1" and only.turns[0].role is Role.PRACTITIONER


def test_practitioner_score_weights_confidence() -> None:
    def cu(code: Code, conf: float, role: Role = Role.PRACTITIONER) -> CodedUtterance:
        return CodedUtterance(Utterance(role, "x", 0), code, conf, "v")

    assert practitioner_score([cu(Code.SR, 0.9), cu(Code.GI, 0.9)]) == pytest.approx(0.45)
    assert practitioner_score([cu(Code.SR, 0.3), cu(Code.Q_OPEN, 0.3)]) == pytest.approx(0.3)
    assert practitioner_score([cu(Code.CHANGE, 1.0, Role.CLIENT)]) == 0.0


@pytest.fixture(scope="module")
def default_coder() -> Any:
    """The project's default coder, trained once per test run (shared with the web tests)."""
    from coding.coder import load_coder
    from tests.conftest import SHARED

    return load_coder(SHARED["model_dir"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["home_mono.wav", "drinking_stereo.flac", "safety_mono.webm"])
def test_real_coder_assigns_roles_on_every_dialogue(name: str, default_coder: Any) -> None:
    turns = [SpeakerTurn("S1" if t["role"] == "client" else "S2", t["start"], t["end"],
                         tuple(Word(t["start"], t["end"], w, 1.0) for w in t["text"].split()))
             for t in REF[name]["turns"]]
    r = assign_roles(turns, default_coder.code_turns)
    assert r.practitioner == "S2"
    # Scores are confidence-weighted shares in [0, 1]: demand a clear gap, not a tie-break.
    assert r.scores["S2"] - r.scores["S1"] >= 0.2
    assert {c.utterance.role for c in r.coded} == {Role.PRACTITIONER, Role.CLIENT}
