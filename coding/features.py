"""Features for the MITI coder, as scikit-learn transformers.

The coder's input rows are :class:`UtteranceContext` objects: an utterance with
its conversation around it. At coding time the whole transcript is available,
so the *following* client turn is legitimate context (a reflection is usually
answered "yeah, exactly"; a question with an answer).

:func:`make_features` returns one ``FeatureUnion`` whose first ``N_STRUCT``
columns are structure the classifier routes and links rows on (is-practitioner,
conversation start, turn index), followed by (the linguistic block last):

- word 1–2-gram and char 2–5-gram TF-IDF of the utterance;
- word TF-IDF of the previous and next other-speaker turn and of the neighbouring
  utterances in the same turn (context);
- spaCy's contextual token vectors (tok2vec, which the tagger computes anyway)
  averaged over the utterance, and their cosine with the adjacent turns of the other
  speaker (:class:`VectorFeatures`): they carry meaning past the exact words, which
  matters most for the default coder, trained on written dialogue and applied to speech;
- hand-made linguistic features from spaCy POS tags (:class:`LinguisticFeatures`):
  question form, second-person subject, modals/imperatives (advice), feeling and
  meaning words, lexical overlap with the previous client turn (the main cue for
  reflections: a reflection restates or extends what the client just said),
  position in turn and conversation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import FunctionTransformer

from coding.segment import VECTOR_WIDTH, TokenInfo, analyse
from coding.types import Role, Utterance


@dataclass(frozen=True, slots=True)
class UtteranceContext:
    """One row for the classifier: an utterance and its conversational context."""

    role: Role
    text: str
    turn_index: int
    index_in_turn: int
    n_in_turn: int
    prev_other: str  # previous turn of the other speaker ("" if none)
    next_other: str  # next turn of the other speaker ("" if none)
    prev_in_turn: str  # previous utterance in this turn ("" if first)
    next_in_turn: str  # next utterance in this turn ("" if last)
    position: float  # turn position in the conversation, 0..1
    prev_own: str = ""  # this speaker's previous turn (for practitioners: what they did last)
    dialogue_start: bool = False  # first row of a conversation (rows of many are concatenated)


def build_contexts(utts: Sequence[Utterance]) -> list[UtteranceContext]:
    """Rows for a conversation's utterances (ordered, grouped by ``turn_index``)."""
    turns: dict[int, list[int]] = {}
    for i, u in enumerate(utts):
        turns.setdefault(u.turn_index, []).append(i)
    order = sorted(turns)
    turn_text = {t: " ".join(utts[i].text for i in turns[t]) for t in order}
    turn_role = {t: utts[turns[t][0]].role for t in order}
    pos_of = {t: k for k, t in enumerate(order)}
    n_turns = max(len(order) - 1, 1)
    rows: list[UtteranceContext] = []
    for i, u in enumerate(utts):
        k = pos_of[u.turn_index]
        prev_other = next_other = prev_own = ""
        for j in range(k - 1, -1, -1):
            t = order[j]
            if turn_role[t] is not u.role:
                prev_other = turn_text[t]
                break
        for j in range(k - 1, -1, -1):
            t = order[j]
            if turn_role[t] is u.role:
                prev_own = turn_text[t]
                break
        for j in range(k + 1, len(order)):
            t = order[j]
            if turn_role[t] is not u.role:
                next_other = turn_text[t]
                break
        members = turns[u.turn_index]
        m = members.index(i)
        rows.append(UtteranceContext(
            role=u.role, text=u.text, turn_index=u.turn_index, index_in_turn=m,
            n_in_turn=len(members), prev_other=prev_other, next_other=next_other,
            prev_in_turn=utts[members[m - 1]].text if m > 0 else "",
            next_in_turn=utts[members[m + 1]].text if m + 1 < len(members) else "",
            position=k / n_turns, prev_own=prev_own, dialogue_start=i == 0,
        ))
    return rows


# ---------------------------------------------------------------- word lists
_WH = {"what", "how", "why", "where", "when", "who", "which", "whom", "whose"}
_AUX_Q = {"do", "does", "did", "is", "are", "was", "were", "have", "has", "had", "can",
          "could", "will", "would", "should", "shall", "may", "might", "must", "am", "'re"}
_LEAD = {"so", "and", "but", "okay", "ok", "well", "now", "then", "right", "um", "uh",
         "yeah", "alright", ",", "just", "or", "oh"}
_TAGQ = re.compile(
    r"(,\s*(right|yeah|isn't it|aren't you|don't you|didn't you|is it|do you|"
    r"wasn't it|won't you|can't you|haven't you|correct|no|eh|okay|huh)\s*\?\s*)$", re.IGNORECASE
)
_FEEL = {
    "feel", "feels", "feeling", "felt", "worried", "worry", "scared", "afraid", "frustrated",
    "angry", "upset", "sad", "hurt", "tired", "stressed", "anxious", "overwhelmed", "ashamed",
    "guilty", "embarrassed", "lonely", "alone", "hopeless", "proud", "happy", "relieved",
    "fed", "exhausted", "nervous", "confused", "torn", "stuck", "hard", "difficult", "tough",
    "care", "cares", "love", "loves", "matters", "important", "means", "meaning", "value",
    "values", "want", "wants", "hope", "hoping", "wish", "sounds", "seems", "seem", "like",
    "part", "sense", "really", "kind", "sort", "struggle", "struggling", "pressure", "trust",
}
_REFL_START = re.compile(
    r"^(so\s+)?(it\s+)?(sounds|seems|feels|looks)\b|^(so\s+)?you('re| are| feel| felt| want|"
    r" think| don't| do not| can't| have| were| had| know| see| 've| wish| worry| really)\b|"
    r"^(so\s+)?(part of you|on (the )?one hand|on the other hand|for you|you'd like)\b", re.IGNORECASE
)
_ADVICE = re.compile(
    r"\b(you (should|need to|have to|must|ought to|'ve got to|gotta|could try|might want to|"
    r"might try)|i (would|'d) (suggest|recommend|advise)|i think you should|try to|make sure|"
    r"it'?s important (that|to)|the best thing)\b", re.IGNORECASE
)
_PERMISSION = re.compile(
    r"\b(would it be (ok|okay|alright|all right)|is it (ok|okay|alright|all right) if|"
    r"can i (share|tell|give|offer)|may i|would you like (me|some|to hear|to know)|"
    r"up to you|your (choice|decision|call)|if you want|it'?s your|you decide|"
    r"what (do|would) you think( about| of)?|does that (fit|make sense|sound))\b", re.IGNORECASE
)
_AFFIRM = re.compile(
    r"\b(you('ve| have)? (done|managed|worked|made|shown|come|been) |well done|good for you|"
    r"you('re| are) (really )?(strong|brave|determined|committed|honest|clearly|obviously)|"
    r"that takes|it took (a lot|courage)|i (really )?(appreciate|admire)|great job|"
    r"impressive|courage|effort)\b", re.IGNORECASE
)
_CONFRONT = re.compile(
    r"\b(be honest|that's not true|you're (just )?(lying|in denial|making excuses)|"
    r"you always|you never|you say .* but|come on|how can you|you can't (just|keep)|"
    r"that's (ridiculous|rubbish|an excuse))\b", re.IGNORECASE
)
_CHANGE = re.compile(
    r"\b(i (want|need|have) to|i('ll| will| could| can| would like| 'm going to| am going to| "
    r"should| must)|i('m| am) (ready|going to|willing|trying)|i (tried|stopped|cut|quit|started|"
    r"rang|called|booked)|i'd like to)\b", re.IGNORECASE
)
_SUSTAIN = re.compile(
    r"\b(i (don't|do not|can't|cannot|won't|will not) (want|think|see|need|stop|do|have)|"
    r"it('s| is) (fine|not a problem|not that bad|not a big deal)|no (point|way)|"
    r"(it )?helps me|i like (it|drinking|smoking)|everyone (does|drinks|smokes)|"
    r"not my (fault|problem)|i('m| am) fine|nothing wrong)\b", re.IGNORECASE
)
# Open vs closed (MITI 4.2.1): a closed question asks for yes/no, a fact or a choice
# between options; "tell me about..." is an open question in statement form.
_WH_CLOSED = {"where", "when", "who", "which", "whose", "whom"}
_HOW_CLOSED = {"many", "much", "long", "often", "old", "far", "soon"}
_OPEN_INVITE = re.compile(
    r"\b(tell me|say (a bit |a little )?more|talk (to me )?about|describe|help me understand|"
    r"walk me through|what else|how come|in what ways?|what would it take|anything else)\b",
    re.IGNORECASE,
)
_YES_NO = {"yes", "yeah", "yep", "yup", "no", "nope", "nah", "sure", "definitely", "maybe"}
_NEG = {"not", "n't", "no", "never", "nothing", "nobody", "none", "cannot"}
_STOP = {
    "the", "a", "an", "and", "or", "but", "so", "to", "of", "in", "on", "at", "for", "with",
    "it", "is", "was", "be", "been", "are", "were", "that", "this", "i", "you", "me", "my",
    "your", "we", "they", "he", "she", "them", "do", "did", "does", "have", "has", "had",
    "just", "like", "um", "uh", "yeah", "okay", "oh", "well", "'s", "'m", "'re", "n't", "not",
    "know", "mean", "really", "think", "get", "got", "go", "what", "if", "there", "then", ",",
    ".", "?", "!", "-", "--", "...", "'", '"', "would", "could", "can", "will", "about", "as",
}


def _stem(w: str) -> str:
    # A crude suffix stripper instead of spaCy's lemmatizer: overlap only needs
    # "tired"/"tiring"/"tire" to meet, and it costs nothing per token.
    for suf in ("ing", "ed", "es", "s", "ly"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            return w[: -len(suf)]
    return w


@lru_cache(maxsize=20_000)  # a turn is the previous/next context of several rows
def _content(info: TokenInfo) -> frozenset[str]:
    return frozenset(_stem(w) for w, p in zip(info.words, info.pos)
                     if w not in _STOP and p in ("NOUN", "VERB", "ADJ", "ADV", "PROPN", "NUM"))


def _first_index(info: TokenInfo) -> int:
    """Skip discourse lead-ins ("so", "okay,") to the start of the clause."""
    i = 0
    while i < len(info.words) and (info.words[i] in _LEAD or info.pos[i] in ("PUNCT", "INTJ")):
        i += 1
    return i


LINGUISTIC_NAMES: tuple[str, ...] = (
    "qmark", "ends_qmark", "wh_start", "wh_any", "aux_inversion", "tag_question", "you_subject",
    "you_count", "i_count", "we_count", "modal", "imperative", "advice", "permission",
    "affirm", "confront", "feel_words", "reflection_start", "overlap_prev", "overlap_prev_frac",
    "overlap_bigram", "overlap_next", "len_log", "prev_other_len_log", "next_other_len_log",
    "next_other_short", "next_other_yes", "next_other_qmark", "first_in_turn", "last_in_turn",
    "n_in_turn_log", "position", "neg", "change_cue", "sustain_cue", "past_tense",
    "prev_other_qmark", "prev_in_turn_qmark", "next_in_turn_qmark", "no_prev_other",
    "short_utt", "prev_other_change", "prev_other_sustain", "wh_closed", "open_invite",
    "or_question", "next_other_yes_no",
)
_YES = {"yeah", "yes", "yep", "exactly", "right", "mm", "mhm", "mm-hmm", "uh-huh", "true",
        "definitely", "absolutely", "correct", "totally", "mm-hm"}


def _row_features(r: UtteranceContext, a: TokenInfo, prev: TokenInfo, nxt: TokenInfo) -> list[float]:
    words, tags, pos = a.words, a.tags, a.pos
    n = len(words)
    lo = r.text.lower()
    f0 = _first_index(a)
    first = words[f0] if f0 < n else ""
    second_pos = pos[f0 + 1] if f0 + 1 < n else ""
    qmark = "?" in r.text
    wh_start = first in _WH or (first in ("and", "so") and f0 + 1 < n and words[f0 + 1] in _WH)
    aux_inv = first in _AUX_Q and second_pos in ("PRON", "PROPN", "DET", "NOUN", "ADV", "PART")
    you_subj = 0.0
    for i, w in enumerate(words):
        if w == "you" and i + 1 < n and pos[i + 1] in ("VERB", "AUX", "ADV"):
            you_subj = 1.0
            break
    imperative = float(f0 < n and tags[f0] == "VB" and not aux_inv)
    cw, pw, nw = _content(a), _content(prev), _content(nxt)
    ov = len(cw & pw)
    ovfrac = ov / len(cw) if cw else 0.0
    bis = set(pairwise(words))
    pbis = set(pairwise(prev.words))
    ovbi = len({b for b in bis & pbis if b[0] not in _STOP or b[1] not in _STOP}) / (len(bis) + 1)
    nn = len(nxt.words)
    next_first = nxt.words[0] if nn else ""
    return [
        float(qmark), float(r.text.rstrip().endswith("?")), float(wh_start),
        float(any(w in _WH for w in words)), float(aux_inv), float(bool(_TAGQ.search(r.text))),
        you_subj, float(words.count("you") + words.count("your")) / (n + 1),
        float(words.count("i") + words.count("me") + words.count("my")) / (n + 1),
        float(words.count("we") + words.count("us")) / (n + 1),
        float(any(t == "MD" for t in tags)), imperative, float(bool(_ADVICE.search(lo))),
        float(bool(_PERMISSION.search(lo))), float(bool(_AFFIRM.search(lo))),
        float(bool(_CONFRONT.search(lo))), sum(w in _FEEL for w in words) / (n + 1),
        float(bool(_REFL_START.search(" ".join(words[f0:f0 + 6]).replace(" n't", "n't")
                                      .replace(" '", "'")))),
        min(ov, 8) / 8.0, ovfrac, ovbi, (len(cw & nw) / len(cw)) if cw else 0.0,
        np.log1p(n) / 5.0, np.log1p(len(prev.words)) / 5.0, np.log1p(nn) / 5.0,
        float(0 < nn <= 3), float(next_first in _YES), float("?" in r.next_other),
        float(r.index_in_turn == 0), float(r.index_in_turn == r.n_in_turn - 1),
        np.log1p(r.n_in_turn) / 2.0, r.position, float(any(w in _NEG for w in words)),
        float(bool(_CHANGE.search(lo))), float(bool(_SUSTAIN.search(lo))),
        sum(t in ("VBD", "VBN") for t in tags) / (n + 1), float("?" in r.prev_other),
        float("?" in r.prev_in_turn), float("?" in r.next_in_turn), float(not r.prev_other),
        float(n <= 3), float(bool(_CHANGE.search(r.prev_other.lower()))),
        float(bool(_SUSTAIN.search(r.prev_other.lower()))),
        float(first in _WH_CLOSED or (first == "how" and f0 + 1 < n and words[f0 + 1] in _HOW_CLOSED)),
        float(bool(_OPEN_INVITE.search(lo))), float(qmark and " or " in lo),
        float(next_first in _YES_NO),
    ]


class LinguisticFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Dense hand-made features from spaCy POS tags and context (see module docstring)."""

    def fit(self, X: Sequence[UtteranceContext], y: Any = None) -> LinguisticFeatures:
        return self

    def transform(self, X: Sequence[UtteranceContext]) -> sp.csr_matrix:
        # one batched spaCy call for all texts involved (cached across calls)
        texts = list(dict.fromkeys([r.text for r in X] + [r.prev_other for r in X]
                                   + [r.next_other for r in X]))
        info = dict(zip(texts, analyse(texts)))
        rows = [_row_features(r, info[r.text], info[r.prev_other], info[r.next_other]) for r in X]
        return sp.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(LINGUISTIC_NAMES)))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"ling__{n}" for n in LINGUISTIC_NAMES], dtype=object)


def _get_field(X: Sequence[UtteranceContext], name: str) -> list[str]:
    if name == "opening":
        # the opening words carry the form ("So you...", "What...", "Do you...")
        return [" ".join(["<s>"] + r.text.lower().split()[:4]) for r in X]
    return [getattr(r, name) for r in X]


N_STRUCT = 3  # leading structure columns: is-practitioner, dialogue start, turn index
N_LING = len(LINGUISTIC_NAMES)  # trailing columns: the hand-made features (kept last, dense)


def _structure(X: Sequence[UtteranceContext]) -> sp.csr_matrix:
    """Columns the classifier routes and links rows on (not used as features)."""
    return sp.csr_matrix(np.asarray(
        [[float(r.role is Role.PRACTITIONER), float(r.dialogue_start), float(r.turn_index)]
         for r in X], dtype=np.float64).reshape(-1, N_STRUCT))


class VectorFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """spaCy's contextual token vectors, averaged over the utterance (unit length), and
    their cosine with the previous and next turn of the other speaker: a restatement in
    other words still lands near what the client said."""

    def fit(self, X: Sequence[UtteranceContext], y: Any = None) -> VectorFeatures:
        return self

    def transform(self, X: Sequence[UtteranceContext]) -> sp.csr_matrix:
        # each distinct text once ("" has no tokens, so a zero vector and zero cosines)
        row_of: dict[str, int] = {}
        idx = np.asarray([[row_of.setdefault(t, len(row_of)) for t in (r.text, r.prev_other, r.next_other)]
                          for r in X], dtype=np.intp).reshape(-1, 3)
        texts = list(row_of)
        V = np.zeros((len(texts), VECTOR_WIDTH), dtype=np.float32)
        for k, info in enumerate(analyse(texts)):
            if info.vector_sum is not None:
                V[k] = info.vector_sum
        norms = np.linalg.norm(V, axis=1, keepdims=True)
        V = np.divide(V, norms, out=np.zeros_like(V), where=norms > 0)
        U = V[idx[:, 0]]
        cos = np.c_[(U * V[idx[:, 1]]).sum(axis=1), (U * V[idx[:, 2]]).sum(axis=1)]
        return sp.csr_matrix(np.hstack([U, cos]))


class TextField(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """TF-IDF of one text field of the rows; an empty vocabulary (tiny corpora,
    a context field that is always empty) gives one all-zero column, not an error."""

    def __init__(self, field: str = "text", analyzer: str = "word",
                 ngram_range: tuple[int, int] = (1, 1), min_df: int = 1,
                 max_features: int | None = None) -> None:
        self.field = field
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, X: Sequence[UtteranceContext], y: Any = None) -> TextField:
        texts = _get_field(X, self.field)
        kw: dict[str, Any] = {}
        if self.analyzer == "word":
            kw["token_pattern"] = r"(?u)\b\w[\w']*\b|\?"
        v = TfidfVectorizer(analyzer=self.analyzer, ngram_range=self.ngram_range,
                            min_df=self.min_df, max_features=self.max_features,
                            sublinear_tf=True, dtype=np.float32, **kw)
        try:
            v.fit(texts)
            self.vectorizer_: TfidfVectorizer | None = v
        except ValueError:  # empty vocabulary
            self.vectorizer_ = None
        return self

    def transform(self, X: Sequence[UtteranceContext]) -> sp.csr_matrix:
        if self.vectorizer_ is None:
            return sp.csr_matrix((len(X), 1), dtype=np.float32)
        texts = _get_field(X, self.field)
        # context fields repeat (every utterance of a turn shares its neighbouring
        # turns; most have no neighbour in the turn): vectorise each text once
        row_of: dict[str, int] = {}
        idx = [row_of.setdefault(t, len(row_of)) for t in texts]
        if len(row_of) == len(texts):
            return self.vectorizer_.transform(texts)
        return self.vectorizer_.transform(list(row_of))[idx]


def make_features() -> FeatureUnion:
    """The feature union; its first N_STRUCT columns are structure (see :func:`_structure`)
    and its last N_LING columns the linguistic features (the coder's meta-learner reads them)."""
    return FeatureUnion([
        ("structure", FunctionTransformer(_structure, validate=False)),
        ("words", TextField("text", "word", (1, 2), 1)),
        ("chars", TextField("text", "char_wb", (2, 5), 2, 60_000)),
        ("opening", TextField("opening", "word", (1, 3), 2)),
        ("prev_other", TextField("prev_other", "word", (1, 1), 2, 20_000)),
        ("next_other", TextField("next_other", "word", (1, 2), 2, 20_000)),
        ("prev_in_turn", TextField("prev_in_turn", "word", (1, 1), 2, 5_000)),
        ("next_in_turn", TextField("next_in_turn", "word", (1, 1), 2, 5_000)),
        ("vectors", VectorFeatures()),
        ("ling", LinguisticFeatures()),
    ], transformer_weights={"vectors": 1.0, "structure": 1.0, "words": 1.0, "chars": 1.0, "opening": 0.5,
                            "prev_other": 0.3, "next_other": 0.3, "prev_in_turn": 0.3,
                            "next_in_turn": 0.3, "ling": 1.0})
