"""Who spoke when (two speakers) and which of them is the practitioner.

Stereo with one speaker per channel
    Each word goes to the channel that is louder over the word's time span (at
    least 80 ms: Whisper gives some words zero length), smoothed by the same
    word-level Viterbi as mono. The
    channels count as separated when the median per-word level difference is at
    least :data:`STEREO_MIN_DB`; a stereo file that is really one mic copied twice
    falls back to the mono method on the mix.

Mono
    Light and offline: MFCCs (``python_speech_features``) of the whole file once,
    then per-word features clustered into two voices with scikit-learn.
    Two methods were compared on the same faster-whisper tiny.en words (beam 5)
    of the mono fixtures and of the 10-minute synthesised role-play that
    ``benchmarks/pipeline.py`` generates (132 turns, ~1,600 words), scoring the
    share of words given to the speaker who actually said them (reference turn
    times; numbers from ``benchmarks/results/pipeline.json``):

    ============================================  =====  =====  ======  =======
    method (words to the right speaker)           home   home   safety  10 min
                                                  .wav   .mp3   .webm   .wav
    ============================================  =====  =====  ======  =======
    ``windows``: 1.5 s windows of speech frames,  94.9%  95.0%  94.9%   93.6%
    MFCC mean+std, Ward clustering, each word
    takes its window's label (the trial's method)
    ``gmm-viterbi`` (default): Ward/k-means on    100%   100%   100%    99.9%
    word chunks split at pauses (up to 8 starts,
    the best-fitting one wins), then a diagonal
    GMM per speaker on frames (MFCC+delta),
    word-level Viterbi with a switch cost that
    is low across pauses; 3 re-fits
    ============================================  =====  =====  ======  =======

    Cost on the 10-minute file: 0.5 s vs 3.7 s of one core (RTF 0.007), 13% of
    the pipeline. What did not work: the deltas' spread in the initial
    clustering (54-63% on the short files: Ward split by chunk length, not
    voice); one GMM component per 0.5 s of speech (over-fits a 20 s file, a
    turn's last word flipped); switch costs of 15/40 (a word's summed frame
    log-likelihood ratio is in the hundreds, so "not shouting" flipped mid-turn);
    one Ward start (on one 27 s file a 2-word outlier chunk took a cluster to
    itself: 60%), hence several starts and the rule that each speaker has at
    least :data:`MIN_SHARE` of the speech. Remaining errors are Whisper word
    times straddling a turn change. The two espeak voices differ in pitch and
    accent; two voices of the same pitch were not measured.

    Neural voice embeddings (resemblyzer, 100% on espeak voices in a trial) need
    torch (~750 MB) in the default install; the GMM/Viterbi method reaches the
    target without it, so torch stays an optional extra. Word-timed units matter
    more than the features: a turn change almost always falls in a pause between
    words, and the Viterbi pass makes a change mid-sentence expensive.

Splitting
    Speaker labels are given per word, so a Whisper segment that spans a turn
    change is split at that word; consecutive words of one speaker (across
    segments) form one :class:`SpeakerTurn`. A turn never mixes two speakers.

Roles
    The practitioner is the speaker whose talk the MITI coder sees as more
    questions and reflections: the turns are coded under both assignments and the
    one whose practitioner side has the larger confidence-weighted share of
    Q/SR/CR (and Seek, mostly permission questions) wins. The plain share picked
    the wrong speaker when diarisation was imperfect (0.60 vs 0.67 on an MP3);
    weighted, the margins on the fixtures are 2-10x.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coding.audio import DecodedAudio
from coding.transcribe import Transcript, Word
from coding.types import Code, CodedUtterance, Role, Turn

LABELS = ("S1", "S2")
STEREO_MIN_DB = 6.0
FRAME_STEP = 0.01  # MFCC hop, seconds
MIN_SHARE = 0.1  # the least share of speech one of two role-play speakers can have
PRACTITIONER_MARKERS = frozenset({Code.Q_OPEN, Code.Q_CLOSED, Code.SR, Code.CR, Code.SEEK})


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """One uninterrupted stretch of one speaker (label ``S1``/``S2``), from words."""

    label: str
    start: float
    end: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        """The turn's words joined as text."""
        return "".join((" " if w.space_before else "") + w.text for w in self.words).strip()

    def to_turn(self, role: Role) -> Turn:
        """The shared :class:`Turn` with ``role``."""
        return Turn(role=role, text=self.text, start=round(self.start, 2), end=round(self.end, 2))


@dataclass(slots=True)
class Diarisation:
    """Per-word speaker labels and the turns they make."""

    method: str
    turns: list[SpeakerTurn]
    word_labels: list[str]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RoleAssignment:
    """Which label is the practitioner, the evidence, and the coded turns under it."""

    practitioner: str
    scores: dict[str, float]
    turns: list[Turn]
    coded: list[CodedUtterance]


# --------------------------------------------------------------------------- diarisation


def diarise(audio: DecodedAudio, transcript: Transcript, *, method: str = "auto") -> Diarisation:
    """Label every transcript word ``S1``/``S2`` and group the words into turns.

    ``method``: ``"auto"`` (stereo energy when the channels are separated, else
    ``gmm-viterbi``), ``"stereo"``, ``"gmm-viterbi"`` or ``"windows"``.
    """
    words = transcript.words
    if not words:
        return Diarisation(method="none", turns=[], word_labels=[], details={"words": 0})
    details: dict[str, Any] = {"words": len(words)}
    labels: np.ndarray | None = None
    used = method
    if method in ("auto", "stereo") and audio.is_stereo:
        diff_db = _channel_db_difference(audio, words)
        details["channel_median_abs_db"] = round(float(np.median(np.abs(diff_db))), 1)
        if method == "stereo" or float(np.median(np.abs(diff_db))) >= STEREO_MIN_DB:
            # S1 = louder on the left. Whisper gives some words (near) zero length, and
            # their level difference is noise, so smooth with the same Viterbi as mono.
            clipped = np.clip(diff_db, -30.0, 30.0) / 2.0
            labels, _ = _viterbi(np.stack([clipped, -clipped], axis=1),
                                 _switch_costs(words, (0.5, 10.0, 20.0)))
            used = "stereo-channel-energy"
    if labels is None:
        if method in ("auto", "stereo"):
            method = "gmm-viterbi"
        feats = _mfcc(audio.samples, audio.sample_rate)
        if method == "windows":
            labels = _windows_method(feats, words)
            used = "mono-mfcc-windows"
        elif method == "gmm-viterbi":
            labels = _gmm_viterbi(feats, words)
            used = "mono-mfcc-gmm-viterbi"
        else:
            raise ValueError(f"unknown speaker method {method!r}")
    word_labels = [LABELS[int(k)] for k in labels]
    return Diarisation(method=used, turns=_turns(words, word_labels), word_labels=word_labels,
                       details=details)


def _turns(words: Sequence[Word], labels: Sequence[str]) -> list[SpeakerTurn]:
    turns: list[SpeakerTurn] = []
    current: list[Word] = []
    for i, (w, lab) in enumerate(zip(words, labels)):
        if current and lab != labels[i - 1]:
            turns.append(SpeakerTurn(labels[i - 1], current[0].start, current[-1].end,
                                     tuple(current)))
            current = []
        current.append(w)
    if current:
        turns.append(SpeakerTurn(labels[len(words) - 1], current[0].start, current[-1].end,
                                 tuple(current)))
    return turns


def _span(w: Word, sr: int, n: int, min_len: float = 0.08) -> slice:
    # Whisper gives some words zero length; measure at least 80 ms around them.
    mid = 0.5 * (w.start + w.end)
    half = max(0.5 * (w.end - w.start), 0.5 * min_len)
    a = max(0, int((mid - half) * sr))
    b = min(n, max(a + 1, int((mid + half) * sr)))
    return slice(a, b)


def _channel_db_difference(audio: DecodedAudio, words: Sequence[Word]) -> np.ndarray:
    """Per word: level of channel 0 minus channel 1, in dB."""
    left, right = audio.channels
    out = np.empty(len(words))
    for i, w in enumerate(words):
        s = _span(w, audio.sample_rate, left.size)
        e0 = float(np.mean(np.square(left[s], dtype=np.float64))) + 1e-10
        e1 = float(np.mean(np.square(right[s], dtype=np.float64))) + 1e-10
        out[i] = 10.0 * np.log10(e0 / e1)
    return out


# --------------------------------------------------------------------------- mono features


@dataclass(frozen=True, slots=True)
class _Frames:
    mfcc: np.ndarray  # (n_frames, d), mean-normalised
    speech: np.ndarray  # bool mask of frames loud enough to be speech


def _mfcc(samples: np.ndarray, sr: int, block_frames: int = 3000) -> _Frames:
    """20 MFCCs (no c0) + deltas every 10 ms, mean-normalised, with a speech mask.

    Computed in 30 s blocks: python_speech_features frames the whole signal in
    float64 at once, which for 10 minutes peaked at ~0.5 GB (and ~4 GB at the
    90-minute limit). Blocks overlap by one window so the frames are identical.
    """
    from python_speech_features import delta, mfcc

    frame = int(0.025 * sr)
    hop = int(FRAME_STEP * sr)
    n = 1 + max(0, int(np.ceil((samples.size - frame) / hop)))
    parts: list[np.ndarray] = []
    for f0 in range(0, n, block_frames):
        f1 = min(n, f0 + block_frames)
        chunk = samples[f0 * hop: (f1 - 1) * hop + frame]
        # c0 dropped: it is loudness, which says more about the mic than the voice.
        m = mfcc(chunk, sr, winlen=0.025, winstep=FRAME_STEP, numcep=21, nfilt=40, nfft=512,
                 appendEnergy=False, winfunc=np.hamming)[:, 1:]
        parts.append(m[: f1 - f0].astype(np.float32))
    feats = np.vstack(parts)
    # Frame energy with the same framing, to drop pauses inside word spans.
    padded = np.concatenate([samples, np.zeros(frame, dtype=samples.dtype)])
    view = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop][:n]
    energy = np.einsum("ij,ij->i", view, view, dtype=np.float64) / frame + 1e-12
    log_e = 10 * np.log10(energy)
    speech = log_e > np.percentile(log_e, 95) - 30.0
    feats = feats - feats[speech].mean(axis=0)  # cepstral mean normalisation
    feats = np.hstack([feats, delta(feats, 2)])
    return _Frames(mfcc=feats.astype(np.float32), speech=speech)


def _word_frames(frames: _Frames, w: Word) -> np.ndarray:
    a = int(w.start / FRAME_STEP)
    b = max(a + 1, int(w.end / FRAME_STEP))
    sel = frames.mfcc[a:b][frames.speech[a:b]]
    return sel if sel.shape[0] else frames.mfcc[a:b]


def _stats(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x.mean(axis=0), x.std(axis=0)]) if x.shape[0] else np.zeros(0)


def _windows_method(frames: _Frames, words: Sequence[Word], window: float = 1.5) -> np.ndarray:
    """Baseline: fixed 1.5 s windows of speech frames, mean+std MFCC, Ward clustering."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.preprocessing import StandardScaler

    n = frames.mfcc.shape[0]
    step = int(window / FRAME_STEP)
    starts = [i for i in range(0, n, step) if frames.speech[i: i + step].sum() >= step // 4]
    if len(starts) < 2:
        return np.zeros(len(words), dtype=int)
    n_static = frames.mfcc.shape[1] // 2
    x = np.array([_stats(frames.mfcc[i: i + step, :n_static][frames.speech[i: i + step]])
                  for i in starts])
    lab = AgglomerativeClustering(n_clusters=2, linkage="ward").fit_predict(
        StandardScaler().fit_transform(x))
    win_of = {i // step: k for i, k in zip(starts, lab)}
    out = []
    for w in words:
        mid = int(0.5 * (w.start + w.end) / FRAME_STEP) // step
        # A word in a window dropped as too quiet takes its nearest kept window's label.
        near = min(win_of, key=lambda j: abs(j - mid))
        out.append(win_of.get(mid, win_of[near]))
    return np.array(out, dtype=int)


def _chunks(words: Sequence[Word], max_len: float = 2.0, gap: float = 0.25) -> list[list[int]]:
    """Group consecutive words into chunks that end at pauses or after ``max_len`` s."""
    chunks: list[list[int]] = [[0]]
    for i in range(1, len(words)):
        prev = words[chunks[-1][0]]
        if words[i].start - words[i - 1].end > gap or words[i].end - prev.start > max_len:
            chunks.append([i])
        else:
            chunks[-1].append(i)
    return chunks


def _initial_labels(word_x: list[np.ndarray], chunks: list[list[int]], n_static: int,
                    n_words: int) -> list[np.ndarray]:
    """Candidate first guesses: clusterings of word chunks on a few feature views.

    Ward on 15-20 chunks of a short file is unstable (one odd chunk can take a
    cluster to itself), so several views are tried and :func:`_gmm_viterbi`
    keeps the one whose refined two-voice model explains the audio best.
    """
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.preprocessing import StandardScaler

    # Static cepstra only: the deltas' spread is noise at this scale and made Ward
    # split by chunk length instead of voice (54-63% vs 97-99% on the fixtures).
    stacked = [np.vstack([word_x[i] for i in c])[:, :n_static] for c in chunks]
    n_frames = np.array([x.shape[0] for x in stacked])
    views = {"mean+std": np.array([_stats(x) for x in stacked]),
             "mean": np.array([x.mean(axis=0) for x in stacked])}
    out: list[np.ndarray] = []
    for feats in views.values():
        for min_frames in (0, 60):  # 60 frames = 0.6 s: drop tiny chunks from the fit
            keep = n_frames >= min_frames
            if keep.sum() < 4:
                continue
            scaler = StandardScaler().fit(feats[keep])
            x = scaler.transform(feats)
            for algo in ("ward", "kmeans"):
                model = (AgglomerativeClustering(n_clusters=2, linkage="ward") if algo == "ward"
                         else KMeans(n_clusters=2, n_init=5, random_state=0))
                lab = np.full(len(chunks), -1)
                lab[keep] = model.fit_predict(x[keep])
                if len(set(lab[keep].tolist())) < 2:
                    continue
                centres = np.array([x[lab == k].mean(axis=0) for k in (0, 1)])
                for j in np.flatnonzero(~keep):
                    lab[j] = int(np.argmin(((centres - x[j]) ** 2).sum(axis=1)))
                labels = np.empty(n_words, dtype=int)
                for c, k in zip(chunks, lab):
                    labels[c] = k
                if labels[0] == 1:
                    labels = 1 - labels  # canonical order, so duplicates compare equal
                if not any(np.array_equal(labels, o) for o in out):
                    out.append(labels)
    return out


def _gmm_viterbi(frames: _Frames, words: Sequence[Word], iterations: int = 3) -> np.ndarray:
    """Chunk clustering to start, then GMM re-fit + word-level Viterbi; best of several starts."""
    n_words = len(words)
    word_x = [_word_frames(frames, w) for w in words]
    chunks = _chunks(words)
    if len(chunks) < 2:
        return np.zeros(n_words, dtype=int)
    # The scale matters: a word's summed frame log-likelihood ratio is in the
    # hundreds, and at 15/40 a fricative-heavy word ("shouting") flipped mid-turn.
    switch_cost = _switch_costs(words, (2.0, 50.0, 150.0))
    # All word frames in one array so each GMM scores them in one call.
    all_x = np.vstack(word_x)
    offsets = np.cumsum([0] + [x.shape[0] for x in word_x[:-1]])
    n_frames = np.array([x.shape[0] for x in word_x])
    best: tuple[bool, float, np.ndarray] | None = None
    # One refinement round per start is enough to rank them; only the winner goes on.
    for init in _initial_labels(word_x, chunks, frames.mfcc.shape[1] // 2, n_words):
        labels, score = _refine(init, word_x, all_x, offsets, switch_cost, 1)
        # Raw likelihood favours a tiny cluster that a 1-component GMM over-fits (a
        # 2-word "speaker" won on one fixture), so a start where one speaker has under
        # MIN_SHARE of the speech only wins when every start is like that.
        share = float(n_frames[labels == 1].sum()) / max(1, int(n_frames.sum()))
        ok = MIN_SHARE <= share <= 1 - MIN_SHARE
        if best is None or (ok, score) > (best[0], best[1]):
            best = (ok, score, labels)
    if best is None:
        return np.zeros(n_words, dtype=int)
    labels, _ = _refine(best[2], word_x, all_x, offsets, switch_cost, iterations)
    return labels


def _refine(labels: np.ndarray, word_x: list[np.ndarray], all_x: np.ndarray,
            offsets: np.ndarray, switch_cost: np.ndarray,
            iterations: int) -> tuple[np.ndarray, float]:
    """Fit a GMM per speaker, re-label words by Viterbi; repeat. Returns labels and path score."""
    from sklearn.mixture import GaussianMixture

    score = -np.inf
    for _ in range(iterations):
        if len(set(labels.tolist())) < 2:
            return labels, -np.inf
        ll = np.zeros((len(word_x), 2))
        for k in (0, 1):
            x = np.vstack([word_x[i] for i in np.flatnonzero(labels == k)])
            if x.shape[0] > 12_000:  # 2 min of speech fits a voice; more only costs time
                x = x[np.random.default_rng(k).choice(x.shape[0], 12_000, replace=False)]
            # ~1 component per 4 s of speech, at most 8: more over-fits a 20 s file
            # (a turn's last word drifted to the other speaker at 1 per 0.5 s).
            gmm = GaussianMixture(n_components=min(8, max(1, x.shape[0] // 400)),
                                  covariance_type="diag", random_state=0, reg_covar=1e-3)
            gmm.fit(x)
            ll[:, k] = np.add.reduceat(gmm.score_samples(all_x), offsets)
        new, score = _viterbi(ll, switch_cost)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels, score


def _switch_costs(words: Sequence[Word], costs: tuple[float, float, float]) -> np.ndarray:
    """Cost of a speaker change before each word: (after a pause > 0.25 s, > 0.1 s, touching).

    Switching speaker between two touching words is rare, across a pause normal.
    """
    gaps = np.array([0.0] + [max(0.0, words[i].start - words[i - 1].end)
                             for i in range(1, len(words))])
    return np.where(gaps > 0.25, costs[0], np.where(gaps > 0.1, costs[1], costs[2]))


def _viterbi(ll: np.ndarray, switch_cost: np.ndarray) -> tuple[np.ndarray, float]:
    """Best two-state path: per-word log-likelihoods minus a cost per speaker change."""
    n = ll.shape[0]
    score = ll[0].copy()
    back = np.zeros((n, 2), dtype=int)
    for i in range(1, n):
        new = np.empty(2)
        for k in (0, 1):
            stay = score[k]
            move = score[1 - k] - switch_cost[i]
            back[i, k] = k if stay >= move else 1 - k
            new[k] = max(stay, move) + ll[i, k]
        score = new
    path = np.empty(n, dtype=int)
    path[-1] = int(np.argmax(score))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path, float(np.max(score))


# --------------------------------------------------------------------------- roles

CodeTurns = Callable[[list[Turn]], list[CodedUtterance]]


def turns_with_roles(turns: Sequence[SpeakerTurn], practitioner: str) -> list[Turn]:
    """Shared :class:`Turn` objects, ``practitioner`` label as practitioner."""
    return [t.to_turn(Role.PRACTITIONER if t.label == practitioner else Role.CLIENT)
            for t in turns if t.text]


def practitioner_score(coded: Sequence[CodedUtterance]) -> float:
    """Confidence-weighted share of practitioner utterances coded as a question or reflection.

    Weighting by confidence matters: a client's "it has been hard" coded under the
    practitioner role does come out as a reflection, but at ~0.4 confidence, against
    ~0.9 for the practitioner's real questions and reflections. Seeking
    collaboration counts too, since in role-plays it is mostly a permission question.
    """
    prac = [c for c in coded if c.utterance.role is Role.PRACTITIONER]
    if not prac:
        return 0.0
    return sum(float(c.confidence) for c in prac if c.code in PRACTITIONER_MARKERS) / len(prac)


def assign_roles(turns: Sequence[SpeakerTurn], code_turns: CodeTurns) -> RoleAssignment:
    """Code the turns under both assignments and keep the one that looks like MI practice.

    ``code_turns`` is ``MitiCoder.code_turns``. The winning assignment's codes are
    returned too, so the pipeline does not code twice.
    """
    labels = sorted({t.label for t in turns}) or [LABELS[0]]
    scores: dict[str, float] = {}
    results = []
    for lab in labels:
        role_turns = turns_with_roles(turns, lab)
        coded = code_turns(role_turns)
        scores[lab] = round(practitioner_score(coded), 4)
        results.append((scores[lab], lab, role_turns, coded))
    # Ties (e.g. no questions at all) go to the speaker who opens the conversation,
    # who in a practice role-play is usually the practitioner.
    first = turns[0].label if turns else labels[0]
    results.sort(key=lambda r: (r[0], r[1] == first), reverse=True)
    _, lab, role_turns, coded = results[0]
    return RoleAssignment(practitioner=lab, scores=scores, turns=role_turns, coded=coded)
