"""Labelled corpora for training and evaluating the MITI coder.

Three sources, one in-memory shape (:class:`LabelledDialogue`):

(a) the project corpus, ``coding/data/*.txt``::

        # comment
        === dialogue: da-001
        context: domestic abuse | mother, partner's violence | safety planning
        P Q_OPEN: How have things been since we last met?
        C NEUTRAL: It's been alright, I suppose.

    one MITI utterance per line; consecutive lines by one speaker form one turn.

(b) AnnoMI-full CSV (one row per utterance per annotator): de-duplicated on
    (transcript_id, utterance_id) with a per-field majority vote (ties: the
    value seen first in file order), grouped by transcript, ``mi_quality`` kept.
    Each AnnoMI utterance (a whole turn, coded with one main behaviour) is one unit.

(c) reviewed-recording exports, written by the web app when a trainer signs off
    a recording. CSV with header ``recording_id,utterance_index,speaker,text,code``
    or JSON: either a list of such row objects or ``{"utterances": [rows...]}``.
    ``speaker`` is practitioner|client (or P|C), ``code`` a product code (GI ...
    NEUTRAL); rows of one recording are ordered by ``utterance_index`` and
    consecutive rows of one speaker form one turn.

The mapping between product codes and AnnoMI labels lives here and only here
(:data:`CODE_TO_ANNOMI`, :data:`ANNOMI_BEHAVIOUR_TO_LEVEL1`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from coding.errors import InputError
from coding.types import Code, Role, codes_for

# ---------------------------------------------------------------- the mapping table
# Level 1 of the coder. Practitioner: question / reflection / input / other.
LEVEL1_PRACTITIONER: tuple[str, ...] = ("question", "reflection", "input", "other")
LEVEL1_CLIENT = "client"

# product code -> (level 1, level 2). Level 2 names are the product code itself
# except for questions (open|closed) and reflections (simple|complex).
CODE_LEVELS: dict[Code, tuple[str, str]] = {
    Code.Q_OPEN: ("question", "open"),
    Code.Q_CLOSED: ("question", "closed"),
    Code.SR: ("reflection", "simple"),
    Code.CR: ("reflection", "complex"),
    Code.GI: ("input", "GI"),
    Code.PERSUADE: ("input", "PERSUADE"),
    Code.PWP: ("input", "PWP"),
    Code.AF: ("other", "AF"),
    Code.SEEK: ("other", "SEEK"),
    Code.EMPHASIZE: ("other", "EMPHASIZE"),
    Code.CONFRONT: ("other", "CONFRONT"),
    Code.NONE: ("other", "NONE"),
    Code.CHANGE: (LEVEL1_CLIENT, "CHANGE"),
    Code.NEUTRAL: (LEVEL1_CLIENT, "NEUTRAL"),
    Code.SUSTAIN: (LEVEL1_CLIENT, "SUSTAIN"),
}
LEVELS_CODE: dict[tuple[str, str], Code] = {v: k for k, v in CODE_LEVELS.items()}

# product code -> AnnoMI (main_therapist_behaviour, subtype) / client_talk_type.
#   Q_OPEN/Q_CLOSED  -> question (question_subtype open/closed)
#   SR/CR            -> reflection (reflection_subtype simple/complex)
#   GI/PERSUADE/PWP  -> therapist_input (AnnoMI information ~ GI; advice, negotiation,
#                       options ~ PERSUADE or PWP or SEEK: not resolvable from AnnoMI)
#   AF/SEEK/EMPHASIZE/CONFRONT/NONE -> other
#   CHANGE/NEUTRAL/SUSTAIN -> client_talk_type change/neutral/sustain
CODE_TO_ANNOMI: dict[Code, tuple[str, str | None]] = {
    Code.Q_OPEN: ("question", "open"),
    Code.Q_CLOSED: ("question", "closed"),
    Code.SR: ("reflection", "simple"),
    Code.CR: ("reflection", "complex"),
    Code.GI: ("therapist_input", None),
    Code.PERSUADE: ("therapist_input", None),
    Code.PWP: ("therapist_input", None),
    Code.AF: ("other", None),
    Code.SEEK: ("other", None),
    Code.EMPHASIZE: ("other", None),
    Code.CONFRONT: ("other", None),
    Code.NONE: ("other", None),
    Code.CHANGE: ("change", None),
    Code.NEUTRAL: ("neutral", None),
    Code.SUSTAIN: ("sustain", None),
}
ANNOMI_BEHAVIOUR_TO_LEVEL1: dict[str, str] = {
    "question": "question",
    "reflection": "reflection",
    "therapist_input": "input",
    "other": "other",
}
LEVEL1_TO_ANNOMI_BEHAVIOUR: dict[str, str] = {v: k for k, v in ANNOMI_BEHAVIOUR_TO_LEVEL1.items()}
ANNOMI_CLIENT_TO_CODE: dict[str, Code] = {
    "change": Code.CHANGE, "neutral": Code.NEUTRAL, "sustain": Code.SUSTAIN,
}


def annomi_labels(code: Code) -> dict[str, str]:
    """AnnoMI-style labels of one product code (for evaluation at AnnoMI's unit)."""
    behaviour, sub = CODE_TO_ANNOMI[code]
    if code in (Code.CHANGE, Code.NEUTRAL, Code.SUSTAIN):
        return {"client_talk_type": behaviour}
    out = {"main_therapist_behaviour": behaviour}
    if behaviour == "question" and sub:
        out["question_subtype"] = sub
    if behaviour == "reflection" and sub:
        out["reflection_subtype"] = sub
    return out


# ---------------------------------------------------------------- data classes
@dataclass(frozen=True, slots=True)
class LabelledUtterance:
    """One coded unit in its conversation.

    ``code`` is the full product code when the source gives one; ``level1`` is
    always known (question/reflection/input/other for practitioners, "client" for
    clients). AnnoMI units without a resolvable product code (e.g. advice) have
    ``code=None`` and still train level 1.
    """

    role: Role
    text: str
    level1: str
    code: Code | None
    turn_index: int
    index_in_turn: int = 0
    start: float | None = None
    end: float | None = None
    source_line: int | None = None
    annomi: dict[str, str] | None = None  # the original AnnoMI labels, when from AnnoMI

    @property
    def level2(self) -> str | None:
        """The level-2 label (open, simple, GI, AF, CHANGE, ...) if known."""
        return CODE_LEVELS[self.code][1] if self.code is not None else None


@dataclass(slots=True)
class LabelledDialogue:
    """A labelled conversation: utterances in order, with turn grouping."""

    id: str
    source: str  # "project" | "annomi" | "reviewed"
    utterances: list[LabelledUtterance]
    meta: dict[str, Any] = field(default_factory=dict)


def short_exchanges(d: LabelledDialogue) -> list[LabelledDialogue]:
    """Each client turn and the practitioner turn answering it, as its own dialogue.

    A drill is exactly this: one parent statement and one response, with no reply
    after it. Whole dialogues teach the coder to lean on the client's reply (a short
    "yeah" after a reflection, an answer after a question); trained on these too it
    also learns to code a response that has no reply yet.
    """
    turns: dict[int, list[LabelledUtterance]] = defaultdict(list)
    for u in d.utterances:
        turns[u.turn_index].append(u)
    order = sorted(turns)
    out: list[LabelledDialogue] = []
    for a, b in pairwise(order):
        client, answer = turns[a], turns[b]
        if client[0].role is Role.CLIENT and answer[0].role is Role.PRACTITIONER:
            utts = ([replace(u, turn_index=0) for u in client]
                    + [replace(u, turn_index=1) for u in answer])
            out.append(LabelledDialogue(f"{d.id}#exchange-{b}", d.source, utts, dict(d.meta)))
    return out


def summarise_corpus(dialogues: Sequence[LabelledDialogue]) -> dict[str, Any]:
    """Counts for a model's meta.json: dialogues and utterances per source and code."""
    codes: Counter[str] = Counter()
    level1: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for d in dialogues:
        sources[d.source] += 1
        for u in d.utterances:
            level1[u.level1] += 1
            if u.code is not None:
                codes[u.code.value] += 1
    return {
        "dialogues": len(dialogues),
        "utterances": sum(len(d.utterances) for d in dialogues),
        "dialogues_per_source": dict(sources),
        "level1": dict(level1),
        "codes": dict(sorted(codes.items())),
    }


# ---------------------------------------------------------------- (a) project corpus
_LINE = re.compile(r"^\s*([A-Za-z]+)\s+([A-Za-z_]+)\s*:\s*(.*)$")
_DIALOGUE = re.compile(r"^===\s*dialogue\s*:\s*(\S.*?)\s*$", re.IGNORECASE)


def _role_of(tag: str) -> Role | None:
    t = tag.upper()
    if t in ("P", "T", "PRACTITIONER", "THERAPIST"):
        return Role.PRACTITIONER
    if t in ("C", "CLIENT"):
        return Role.CLIENT
    return None


def read_project_corpus(path: Path) -> list[LabelledDialogue]:
    """Read one project corpus file; errors name the file and line."""
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
    dialogues: list[LabelledDialogue] = []
    cur: LabelledDialogue | None = None
    turn = -1
    k = 0
    last_role: Role | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _DIALOGUE.match(line)
        if m:
            cur = LabelledDialogue(m.group(1), "project", [], {"file": name, "line": lineno})
            dialogues.append(cur)
            turn, k, last_role = -1, 0, None
            continue
        if line.lower().startswith("context:"):
            if cur is None:
                raise InputError(f"{name} line {lineno}: 'context:' before any '=== dialogue:'")
            cur.meta["context"] = line.split(":", 1)[1].strip()
            continue
        m = _LINE.match(line)
        if not m:
            raise InputError(
                f"{name} line {lineno}: expected 'P CODE: text' or 'C CODE: text', got {line[:60]!r}"
            )
        tag, code_s, utext = m.group(1), m.group(2).upper(), m.group(3).strip()
        role = _role_of(tag)
        if role is None:
            raise InputError(f"{name} line {lineno}: unknown speaker {tag!r} — use P or C")
        try:
            code = Code(code_s)
        except ValueError:
            raise InputError(
                f"{name} line {lineno}: unknown code {code_s!r} — valid: "
                + ", ".join(c.value for c in Code)
            ) from None
        if code not in codes_for(role):
            raise InputError(
                f"{name} line {lineno}: code {code.value} is not valid for the "
                f"{role.value} — valid: " + ", ".join(c.value for c in codes_for(role))
            )
        if not utext:
            raise InputError(f"{name} line {lineno}: missing text after '{tag} {code_s}:'")
        if cur is None:
            cur = LabelledDialogue(f"{path.stem}-1", "project", [], {"file": name, "line": lineno})
            dialogues.append(cur)
        if role is not last_role:
            turn, k, last_role = turn + 1, 0, role
        else:
            k += 1
        cur.utterances.append(
            LabelledUtterance(role, utext, CODE_LEVELS[code][0], code, turn, k, source_line=lineno)
        )
    return [d for d in dialogues if d.utterances]


def read_corpus_paths(paths: Iterable[Path]) -> list[LabelledDialogue]:
    """Read project corpus files; a directory means all its ``*.txt`` files (sorted)."""
    out: list[LabelledDialogue] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.glob("*.txt")):
                out.extend(read_project_corpus(f))
        elif p.exists():
            out.extend(read_project_corpus(p))
        else:
            raise InputError(f"{p}: no such corpus file or directory")
    return out


def default_corpus_dir() -> Path:
    """``coding/data``: the project's own labelled corpus."""
    return Path(__file__).resolve().parent / "data"


def corpus_fingerprint(corpus_dir: Path) -> str | None:
    """SHA-256 over a corpus directory's ``*.txt`` files (names and contents), or None
    without one: tells whether a default coder was trained on the corpus as it is now."""
    files = sorted(Path(corpus_dir).glob("*.txt")) if Path(corpus_dir).is_dir() else []
    if not files:
        return None
    stamp = tuple((f.name, st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])
    return _fingerprint(stamp, tuple(files))


@lru_cache(maxsize=8)  # keyed by names, sizes and modification times: re-hashed on change
def _fingerprint(stamp: tuple[tuple[str, int, int], ...], files: tuple[Path, ...]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------- (b) AnnoMI
_ANNOMI_FIELDS = (
    "main_therapist_behaviour", "question_subtype", "reflection_subtype",
    "therapist_input_subtype", "client_talk_type", "mi_quality", "topic",
    "interlocutor", "utterance_text", "timestamp",
)
_ANNOMI_REQUIRED = {"transcript_id", "utterance_id", "interlocutor", "utterance_text",
                    "main_therapist_behaviour", "client_talk_type"}


def _majority(values: list[str]) -> str:
    # Counter.most_common keeps first-seen order among ties: deterministic.
    return Counter(values).most_common(1)[0][0]


def _seconds(ts: str) -> float | None:
    try:
        h, m, s = ts.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def read_annomi(path: Path) -> list[LabelledDialogue]:
    """Read AnnoMI-full (or -simple) CSV into dialogues, majority-voting repeated rows."""
    name = Path(path).name
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed by `with fh` below
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
    groups: dict[tuple[str, int], dict[str, list[str]]] = {}
    with fh:
        reader = csv.DictReader(fh)
        missing = _ANNOMI_REQUIRED - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"{name}: not an AnnoMI CSV (missing columns {sorted(missing)})")
        try:
            for row in reader:
                try:
                    key = (row["transcript_id"], int(row["utterance_id"]))
                except ValueError:
                    raise InputError(
                        f"{name} line {reader.line_num}: bad utterance_id {row['utterance_id']!r}"
                    ) from None
                g = groups.setdefault(key, defaultdict(list))
                for f in _ANNOMI_FIELDS:
                    g[f].append(row.get(f) or "n/a")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not UTF-8 text ({exc.reason})") from exc
    by_t: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for (tid, uid), g in groups.items():
        by_t[tid].append((uid, {f: _majority(v) for f, v in g.items()}))
    dialogues = []
    for tid in sorted(by_t, key=lambda s: (len(s), s)):
        rows = sorted(by_t[tid])
        utts: list[LabelledUtterance] = []
        turn, k, last = -1, 0, None
        for uid, r in rows:
            role = Role.PRACTITIONER if r["interlocutor"] == "therapist" else Role.CLIENT
            if role is not last:
                turn, k, last = turn + 1, 0, role
            else:
                k += 1
            labels = {
                "utterance_id": str(uid),
                "main_therapist_behaviour": r["main_therapist_behaviour"],
                "question_subtype": r["question_subtype"],
                "reflection_subtype": r["reflection_subtype"],
                "therapist_input_subtype": r["therapist_input_subtype"],
                "client_talk_type": r["client_talk_type"],
            }
            code: Code | None
            if role is Role.CLIENT:
                code = ANNOMI_CLIENT_TO_CODE.get(r["client_talk_type"])
                level1 = LEVEL1_CLIENT
                if code is None:
                    continue  # unlabelled client unit: nothing to learn or score
            else:
                level1_opt = ANNOMI_BEHAVIOUR_TO_LEVEL1.get(r["main_therapist_behaviour"])
                if level1_opt is None:
                    continue
                level1 = level1_opt
                code = None
                if level1 == "question" and r["question_subtype"] in ("open", "closed"):
                    code = LEVELS_CODE[("question", r["question_subtype"])]
                elif level1 == "reflection" and r["reflection_subtype"] in ("simple", "complex"):
                    code = LEVELS_CODE[("reflection", r["reflection_subtype"])]
                elif level1 == "input" and r["therapist_input_subtype"] == "information":
                    code = Code.GI  # AnnoMI "information" is MITI Giving Information
            t = _seconds(r["timestamp"])
            utts.append(LabelledUtterance(role, r["utterance_text"], level1, code, turn, k,
                                          start=t, annomi=labels))
        if utts:
            dialogues.append(LabelledDialogue(
                tid, "annomi", utts,
                {"mi_quality": rows[0][1]["mi_quality"], "topic": rows[0][1]["topic"].strip()},
            ))
    if not dialogues:
        raise InputError(f"{name}: no labelled AnnoMI utterances")
    return dialogues


# ---------------------------------------------------------------- (c) reviewed exports
REVIEWED_COLUMNS = ("recording_id", "utterance_index", "speaker", "text", "code")


def read_reviewed(path: Path) -> list[LabelledDialogue]:
    """Read a reviewed-recording export (CSV or JSON, see module docstring)."""
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() == ".json" or raw.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name} line {exc.lineno}: invalid JSON ({exc.msg})") from exc
        items = data.get("utterances") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise InputError(f"{name}: expected a list of rows or {{\"utterances\": [...]}}")
        rows = [(i + 1, r) for i, r in enumerate(items)]
        where = "row"
    else:
        reader = csv.DictReader(raw.splitlines())
        missing = set(REVIEWED_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"{name}: missing columns {sorted(missing)}; need {REVIEWED_COLUMNS}")
        rows = [(reader.line_num, dict(r)) for r in reader]
        where = "line"
    recs: dict[str, list[tuple[int, Role, str, Code, int]]] = defaultdict(list)
    for n, r in rows:
        if not isinstance(r, dict) or any(c not in r for c in REVIEWED_COLUMNS):
            raise InputError(f"{name} {where} {n}: need fields {', '.join(REVIEWED_COLUMNS)}")
        role = _role_of(str(r["speaker"]))
        if role is None:
            raise InputError(f"{name} {where} {n}: unknown speaker {r['speaker']!r}")
        try:
            code = Code(str(r["code"]).upper())
            idx = int(r["utterance_index"])
        except ValueError:
            raise InputError(f"{name} {where} {n}: bad code or utterance_index") from None
        if code not in codes_for(role):
            raise InputError(f"{name} {where} {n}: code {code.value} not valid for {role.value}")
        text = str(r["text"]).strip()
        if not text:
            raise InputError(f"{name} {where} {n}: empty text")
        recs[str(r["recording_id"])].append((idx, role, text, code, n))
    out = []
    for rid, items in recs.items():
        items.sort(key=lambda x: x[0])
        utts = []
        turn, k, last = -1, 0, None
        for _, role, text, code, n in items:
            if role is not last:
                turn, k, last = turn + 1, 0, role
            else:
                k += 1
            utts.append(LabelledUtterance(role, text, CODE_LEVELS[code][0], code, turn, k,
                                          source_line=n))
        out.append(LabelledDialogue(rid, "reviewed", utts, {"file": name}))
    return out
