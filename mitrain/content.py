"""Course content as data: load and validate ``courses/`` (YAML + Markdown).

Pure module: pyyaml and the standard library only, so the CLI, the web app, a
sync job and the tests can all use it. Markdown is kept as text here; rendering
is the web layer's job.

Layout of a course directory::

    course.yaml                      slug, title, summary, pass_mark, sequential
    modules/NN-slug/module.yaml      slug, title, order, summary, [pass_mark], [prerequisites]
    modules/NN-slug/lessons/*.md     YAML front matter (slug, title, order, minutes) + body
    modules/NN-slug/quiz.yaml        items: [{id, kind, prompt, [statement], options, correct,
                                              explanation}]
    drills.yaml                      drills: [...], skills_check: [drill slugs]
    scenarios.yaml                   scenarios: [...]

Validation collects every problem before failing, and :class:`ContentError`
lists each one as ``file:line: field: problem`` so an author can fix the lot
in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CODES",
    "DISCIPLINES",
    "QUIZ_KINDS",
    "SKILLS",
    "ContentError",
    "ContentProblem",
    "CourseContent",
    "DrillContent",
    "ExampleResponse",
    "LessonContent",
    "ModuleContent",
    "Persona",
    "QuizContent",
    "QuizItem",
    "QuizItemResult",
    "QuizResult",
    "ScenarioContent",
    "default_course_dir",
    "load_course_dir",
    "score_quiz",
]

# Same values as mitrain.models.Discipline (minus "other"); duplicated so this
# module stays free of SQLAlchemy.
DISCIPLINES: tuple[str, ...] = ("social_work", "domestic_abuse", "substance_misuse",
                                "mental_health")
SKILLS: tuple[str, ...] = ("open_question", "simple_reflection", "complex_reflection",
                           "affirmation", "responding_to_sustain_talk", "eliciting_change_talk")
QUIZ_KINDS: tuple[str, ...] = ("single", "multiple", "complex_reflection")
# Codes a *model answer* may carry: MITI 4.2.1 practitioner codes that are
# MI-consistent (same spelling as coding.types.Code). Persuade, Confront and
# closed questions are never offered as model answers.
CODES: tuple[str, ...] = ("Q_OPEN", "SR", "CR", "AF", "SEEK", "EMPHASIZE", "GI", "PWP")
# A drill that practises a named skill must show at least one answer of that kind.
_SKILL_NEEDS_CODE: dict[str, set[str]] = {
    "open_question": {"Q_OPEN"},
    "simple_reflection": {"SR"},
    "complex_reflection": {"CR"},
    "affirmation": {"AF"},
}
DEFAULT_PASS_MARK = 0.8

_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class LessonContent:
    slug: str
    title: str
    order: int
    minutes: int
    body_markdown: str


@dataclass(frozen=True)
class QuizItem:
    id: str
    kind: str                  # one of QUIZ_KINDS
    prompt: str
    statement: str | None      # the parent's words (complex_reflection items)
    options: list[str]
    correct: list[int]         # indices into options, sorted
    explanation: str


@dataclass(frozen=True)
class QuizContent:
    items: list[QuizItem]


@dataclass(frozen=True)
class ModuleContent:
    slug: str
    title: str
    order: int
    summary: str
    pass_mark: float           # the module's own, else the course default
    prerequisites: list[str]   # module slugs, as written in module.yaml
    lessons: list[LessonContent]
    quiz: QuizContent


@dataclass(frozen=True)
class ExampleResponse:
    text: str
    code: str                  # one of CODES


@dataclass(frozen=True)
class DrillContent:
    slug: str
    discipline: str            # one of DISCIPLINES
    context: str
    client_statement: str
    skill: str                 # one of SKILLS
    example_responses: list[ExampleResponse]
    tip: str


@dataclass(frozen=True)
class Persona:
    name: str
    age: int
    family: str


@dataclass(frozen=True)
class ScenarioContent:
    slug: str
    title: str
    discipline: str
    persona: Persona
    background: str
    practitioner_focus: list[str]   # what the practitioner should practise
    client_brief: str               # how the "client" player plays the parent
    client_good_mi: str             # ... when met with good MI
    client_poor_mi: str             # ... when met with the righting reflex
    opening_line: str | None
    minutes: int


@dataclass(frozen=True)
class CourseContent:
    slug: str
    title: str
    summary: str
    pass_mark: float
    sequential: bool           # each module also requires the one before it
    modules: list[ModuleContent]
    drills: list[DrillContent]
    skills_check: list[str]    # drill slugs, in order
    scenarios: list[ScenarioContent]

    def module(self, slug: str) -> ModuleContent:
        for m in self.modules:
            if m.slug == slug:
                return m
        raise KeyError(slug)

    def drill(self, slug: str) -> DrillContent:
        for d in self.drills:
            if d.slug == slug:
                return d
        raise KeyError(slug)

    def prerequisites_for(self, slug: str) -> list[str]:
        """Modules that must be passed first: the listed ones, plus the previous
        module when the course is sequential."""
        mods = self.modules
        idx = next((i for i, m in enumerate(mods) if m.slug == slug), None)
        if idx is None:
            raise KeyError(slug)
        out = list(mods[idx].prerequisites)
        if self.sequential and idx > 0 and mods[idx - 1].slug not in out:
            out.append(mods[idx - 1].slug)
        return out


# ------------------------------------------------------------------------ errors

@dataclass(frozen=True)
class ContentProblem:
    file: str      # relative to the course directory, with forward slashes
    line: int      # 1-based
    field: str     # e.g. items[3].correct
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.problem}"


class ContentError(Exception):
    """Course content failed validation; ``problems`` holds every issue found."""

    def __init__(self, problems: Iterable[ContentProblem], root: Path | None = None):
        self.problems: list[ContentProblem] = sorted(
            problems, key=lambda p: (p.file, p.line, p.field))
        self.root = root
        where = f" in {root}" if root else ""
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in course content{where}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


# ---------------------------------------------------------------- YAML with lines

Path_ = tuple[str | int, ...]


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


class _Issues:
    def __init__(self) -> None:
        self.items: list[ContentProblem] = []

    def add(self, file: str, line: int, path: Path_ | str, problem: str) -> None:
        fld = path if isinstance(path, str) else _fmt(path)
        self.items.append(ContentProblem(file, line, fld, problem))


class _Doc:
    """A YAML document's data plus the line of every mapping key and list item."""

    def __init__(self, rel: str, data: Any, lines: dict[Path_, int]):
        self.rel = rel
        self.data = data
        self.lines = lines

    def line(self, path: Path_) -> int:
        # Fall back to the nearest enclosing node that we know about.
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], dupes: list[tuple[Path_, int]],
          offset: int) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            kline = key_node.start_mark.line + 1 + offset
            if key in seen:
                dupes.append((path + (key,), kline))
            seen.add(key)
            lines[path + (key,)] = kline
            _walk(value_node, path + (key,), lines, dupes, offset)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1 + offset
            _walk(item, path + (i,), lines, dupes, offset)


def _parse_yaml(text: str, rel: str, issues: _Issues, offset: int = 0) -> _Doc | None:
    """Parse one YAML document, recording line numbers; report syntax errors."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 + offset) if mark else 1 + offset
        problem = ": ".join(s for s in (exc.context, exc.problem) if s) or "invalid YAML"
        issues.add(rel, line, "yaml", f"invalid YAML: {problem}")
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        issues.add(rel, 1 + offset, "yaml", f"invalid YAML: {exc}")
        return None
    finally:
        loader.dispose()
    if node is None:
        issues.add(rel, 1 + offset, "(document)", "file is empty")
        return None
    lines: dict[Path_, int] = {(): node.start_mark.line + 1 + offset}
    dupes: list[tuple[Path_, int]] = []
    _walk(node, (), lines, dupes, offset)
    for path, line in dupes:
        issues.add(rel, line, path, "duplicate key (the earlier value would be ignored)")
    return _Doc(rel, data, lines)


# -------------------------------------------------------------- field readers

_MISSING = object()


class _Map:
    """Typed access to one YAML mapping, reporting problems with file and line."""

    def __init__(self, doc: _Doc, path: Path_, value: Any, issues: _Issues,
                 allowed: Iterable[str]):
        self.doc, self.path, self.issues = doc, path, issues
        self.ok = isinstance(value, dict)
        self.value: dict[Any, Any] = value if self.ok else {}
        if not self.ok:
            self.issues.add(doc.rel, doc.line(path), path,
                            f"expected a mapping of fields, got {_kind(value)}")
            return
        allowed = set(allowed)
        for key in self.value:
            if key not in allowed:
                self.issues.add(doc.rel, doc.line(path + (key,)), path + (key,),
                                f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def line(self, key: str | None = None) -> int:
        return self.doc.line(self.path + ((key,) if key is not None else ()))

    def error(self, key: str | Path_, problem: str) -> None:
        sub = (key,) if isinstance(key, str) else tuple(key)
        self.issues.add(self.doc.rel, self.doc.line(self.path + sub), self.path + sub, problem)

    def _raw(self, key: str, required: bool) -> Any:
        if key in self.value and self.value[key] is not None:
            return self.value[key]
        if required and self.ok:
            if key in self.value:
                self.error(key, "is empty")
            else:
                self.issues.add(self.doc.rel, self.line(), self.path + (key,),
                                "required field is missing")
        return _MISSING

    def text(self, key: str, required: bool = True) -> str | None:
        v = self._raw(key, required)
        if v is _MISSING:
            return None
        if not isinstance(v, str):
            self.error(key, f"expected text, got {_kind(v)}")
            return None
        if not v.strip():
            self.error(key, "must not be blank")
            return None
        return v.strip()

    def slug(self, key: str = "slug", pattern: re.Pattern[str] = _SLUG_RE) -> str | None:
        v = self.text(key)
        if v is not None and not pattern.match(v):
            self.error(key, f"'{v}' is not a valid slug (lower-case letters, digits and hyphens)")
            return None
        return v

    def integer(self, key: str, required: bool = True, minimum: int = 0) -> int | None:
        v = self._raw(key, required)
        if v is _MISSING:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self.error(key, f"expected a whole number, got {_kind(v)}")
            return None
        if v < minimum:
            self.error(key, f"must be at least {minimum}, got {v}")
            return None
        return v

    def fraction(self, key: str, required: bool = True) -> float | None:
        v = self._raw(key, required)
        if v is _MISSING:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.error(key, f"expected a number between 0 and 1, got {_kind(v)}")
            return None
        if not 0 < v <= 1:
            self.error(key, f"must be between 0 (exclusive) and 1, got {v}")
            return None
        return float(v)

    def boolean(self, key: str, default: bool) -> bool:
        v = self._raw(key, False)
        if v is _MISSING:
            return default
        if not isinstance(v, bool):
            self.error(key, f"expected true or false, got {_kind(v)}")
            return default
        return v

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        v = self.text(key)
        if v is not None and v not in choices:
            self.error(key, f"'{v}' is not one of: {', '.join(choices)}")
            return None
        return v

    def seq(self, key: str, required: bool = True, min_len: int = 1) -> list[Any] | None:
        v = self._raw(key, required)
        if v is _MISSING:
            return [] if not required else None
        if not isinstance(v, list):
            self.error(key, f"expected a list, got {_kind(v)}")
            return None
        if len(v) < min_len:
            self.error(key, f"needs at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
            return None
        return v

    def texts(self, key: str, required: bool = True, min_len: int = 1) -> list[str] | None:
        items = self.seq(key, required, min_len)
        if items is None:
            return None
        out: list[str] = []
        for i, v in enumerate(items):
            if not isinstance(v, str) or not v.strip():
                self.error((key, i), f"expected non-blank text, got {_kind(v)}")
                return None
            out.append(v.strip())
        return out

    def sub(self, key: str, allowed: Iterable[str]) -> _Map | None:
        v = self._raw(key, True)
        if v is _MISSING:
            return None
        return _Map(self.doc, self.path + (key,), v, self.issues, allowed)


def _kind(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return f"{str(v).lower()} (a true/false value)"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, str):
        return f"text '{v[:30]}'"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    return type(v).__name__


def _check_unique(values: list[tuple[Any, _Map, str]], issues: _Issues, what: str) -> None:
    """Report every repeat of a value (slug, id, order) after its first use."""
    first: dict[Any, tuple[_Map, str]] = {}
    for value, m, key in values:
        if value is None:
            continue
        if value in first:
            fm, _ = first[value]
            m.error(key, f"duplicate {what} '{value}' (first used at {fm.doc.rel}:{fm.line(key)})")
        else:
            first[value] = (m, key)


# ---------------------------------------------------------------------- loaders

_COURSE_FIELDS = ("slug", "title", "summary", "pass_mark", "sequential")
_MODULE_FIELDS = ("slug", "title", "order", "summary", "pass_mark", "prerequisites")
_LESSON_FIELDS = ("slug", "title", "order", "minutes")
_QUIZ_ITEM_FIELDS = ("id", "kind", "prompt", "statement", "options", "correct", "explanation")
_DRILL_FIELDS = ("slug", "discipline", "context", "client_statement", "skill",
                 "example_responses", "tip")
_SCENARIO_FIELDS = ("slug", "title", "discipline", "persona", "background",
                    "practitioner_focus", "client_brief", "client_good_mi", "client_poor_mi",
                    "opening_line", "minutes")


@dataclass
class _ModuleHead:
    module: ModuleContent | None
    map: _Map
    slug: str | None
    order: int | None
    prerequisites: list[str] | None


class _Loader:
    def __init__(self, root: Path):
        self.root = root
        self.issues = _Issues()
        # Quiz item ids are unique across the whole course: attempts store answers by id.
        self._quiz_ids: list[tuple[str | None, _Map]] = []

    def rel(self, p: Path) -> str:
        return p.relative_to(self.root).as_posix()

    def read_yaml(self, p: Path) -> _Doc | None:
        rel = self.rel(p)
        if not p.is_file():
            self.issues.add(rel, 1, "(file)", "file is missing")
            return None
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.issues.add(rel, 1, "(file)", f"cannot read file: {exc}")
            return None
        return _parse_yaml(text, rel, self.issues)

    # ---- course

    def load(self) -> CourseContent:
        if not self.root.is_dir():
            raise ContentError([ContentProblem(str(self.root), 1, "(directory)",
                                               "course directory does not exist")])
        doc = self.read_yaml(self.root / "course.yaml")
        slug = title = summary = None
        pass_mark, sequential = DEFAULT_PASS_MARK, False
        if doc is not None:
            m = _Map(doc, (), doc.data, self.issues, _COURSE_FIELDS)
            slug, title, summary = m.slug(), m.text("title"), m.text("summary")
            pm = m.fraction("pass_mark", required=False)
            pass_mark = pm if pm is not None else DEFAULT_PASS_MARK
            sequential = m.boolean("sequential", False)

        modules = self.load_modules(pass_mark)
        _check_unique([(qid, m, "id") for qid, m in self._quiz_ids], self.issues,
                      "quiz item id")
        drills, skills_check = self.load_drills()
        scenarios = self.load_scenarios()
        if self.issues.items:
            raise ContentError(self.issues.items, self.root)
        assert slug and title and summary
        return CourseContent(slug, title, summary, pass_mark, sequential, modules, drills,
                             skills_check, scenarios)

    # ---- modules

    def load_modules(self, default_pass: float) -> list[ModuleContent]:
        mdir = self.root / "modules"
        if not mdir.is_dir():
            self.issues.add("modules", 1, "(directory)", "modules directory is missing")
            return []
        loaded = [self.load_module(d, default_pass) for d in sorted(
            p for p in mdir.iterdir() if p.is_dir() and not p.name.startswith("."))]
        if not loaded:
            self.issues.add("modules", 1, "(directory)", "no modules found")
        # Uniqueness and prerequisites use module.yaml's own fields, so a broken
        # lesson or quiz elsewhere in a module does not cause knock-on errors.
        _check_unique([(h.slug, h.map, "slug") for h in loaded], self.issues, "module slug")
        _check_unique([(h.order, h.map, "order") for h in loaded], self.issues, "module order")
        order_of = {h.slug: h.order for h in loaded if h.slug is not None}
        for h in loaded:
            for i, p in enumerate(h.prerequisites or []):
                if p == h.slug:
                    h.map.error(("prerequisites", i), "a module cannot require itself")
                elif p not in order_of:
                    h.map.error(("prerequisites", i), f"unknown module slug '{p}'")
                elif h.order is not None and (order_of[p] or 0) >= h.order:
                    h.map.error(("prerequisites", i),
                                f"'{p}' comes later in the course (order {order_of[p]}); "
                                "prerequisites must come earlier")
        return sorted((h.module for h in loaded if h.module), key=lambda x: x.order)

    def load_module(self, d: Path, default_pass: float) -> _ModuleHead:
        doc = self.read_yaml(d / "module.yaml")
        if doc is None:
            m = _Map(_Doc(self.rel(d / "module.yaml"), None, {}), (), {}, self.issues, ())
            self.load_lessons(d / "lessons")
            self.load_quiz(d / "quiz.yaml")
            return _ModuleHead(None, m, None, None, None)
        m = _Map(doc, (), doc.data, self.issues, _MODULE_FIELDS)
        slug, title, summary = m.slug(), m.text("title"), m.text("summary")
        order = m.integer("order", minimum=1)
        pm = m.fraction("pass_mark", required=False)
        prereqs = m.texts("prerequisites", required=False, min_len=0)
        lessons = self.load_lessons(d / "lessons")
        quiz = self.load_quiz(d / "quiz.yaml")
        module = None
        if (slug and title and summary and order is not None and lessons is not None
                and quiz is not None and prereqs is not None):
            module = ModuleContent(slug, title, order, summary,
                                   pm if pm is not None else default_pass, list(prereqs),
                                   lessons, quiz)
        return _ModuleHead(module, m, slug, order, prereqs)

    # ---- lessons

    def load_lessons(self, ldir: Path) -> list[LessonContent] | None:
        if not ldir.is_dir():
            self.issues.add(self.rel(ldir), 1, "(directory)", "lessons directory is missing")
            return None
        files = sorted(ldir.glob("*.md"))
        if not files:
            self.issues.add(self.rel(ldir), 1, "(directory)", "no lessons (*.md) found")
            return None
        got: list[tuple[LessonContent | None, _Map | None]] = [self.load_lesson(f) for f in files]
        maps = [(ls, m) for ls, m in got if m is not None]
        _check_unique([(ls.slug if ls else None, m, "slug") for ls, m in maps],
                      self.issues, "lesson slug")
        _check_unique([(ls.order if ls else None, m, "order") for ls, m in maps],
                      self.issues, "lesson order")
        if any(ls is None for ls, _ in got):
            return None
        return sorted((ls for ls, _ in got if ls), key=lambda x: x.order)

    def load_lesson(self, f: Path) -> tuple[LessonContent | None, _Map | None]:
        rel = self.rel(f)
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.issues.add(rel, 1, "(file)", f"cannot read file: {exc}")
            return None, None
        lines = text.splitlines(keepends=True)
        if not lines or lines[0].strip() != "---":
            self.issues.add(rel, 1, "front matter",
                            "missing: a lesson must start with '---', YAML fields "
                            "(slug, title, order, minutes), then '---'")
            return None, None
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is None:
            self.issues.add(rel, 1, "front matter", "not closed: no second '---' line")
            return None, None
        doc = _parse_yaml("".join(lines[1:end]), rel, self.issues, offset=1)
        if doc is None:
            return None, None
        m = _Map(doc, (), doc.data, self.issues, _LESSON_FIELDS)
        slug, title = m.slug(), m.text("title")
        order, minutes = m.integer("order", minimum=1), m.integer("minutes", minimum=1)
        body = "".join(lines[end + 1:]).strip("\n")
        if not body.strip():
            self.issues.add(rel, end + 2, "body", "lesson body is empty")
            return None, m
        if None in (slug, title, order, minutes):
            return None, m
        assert slug and title and order is not None and minutes is not None
        return LessonContent(slug, title, order, minutes, body + "\n"), m

    # ---- quiz

    def load_quiz(self, f: Path) -> QuizContent | None:
        doc = self.read_yaml(f)
        if doc is None:
            return None
        top = _Map(doc, (), doc.data, self.issues, ("items",))
        raw = top.seq("items")
        if raw is None:
            return None
        items: list[QuizItem] = []
        maps: list[tuple[str | None, _Map]] = []
        failed = False
        for i, it in enumerate(raw):
            m = _Map(doc, ("items", i), it, self.issues, _QUIZ_ITEM_FIELDS)
            item = self.quiz_item(m)
            maps.append((item.id if item else (it.get("id") if isinstance(it, dict) else None),
                         m))
            if item is None:
                failed = True
            else:
                items.append(item)
        self._quiz_ids.extend(maps)
        return None if failed else QuizContent(items)

    def quiz_item(self, m: _Map) -> QuizItem | None:
        if not m.ok:
            return None
        qid = m.slug("id", _ID_RE)
        kind = m.choice("kind", QUIZ_KINDS)
        prompt, explanation = m.text("prompt"), m.text("explanation")
        statement = m.text("statement", required=kind == "complex_reflection")
        options = m.texts("options", min_len=2)
        correct = self.correct_indices(m, options, kind)
        if None in (qid, kind, prompt, explanation, options, correct):
            return None
        if kind == "complex_reflection" and statement is None:
            return None
        assert qid and kind and prompt and explanation and options is not None
        assert correct is not None
        return QuizItem(qid, kind, prompt, statement, options, correct, explanation)

    def correct_indices(self, m: _Map, options: list[str] | None, kind: str | None
                        ) -> list[int] | None:
        raw = m._raw("correct", True)
        if raw is _MISSING:
            return None
        values = raw if isinstance(raw, list) else [raw]
        paths: list[Path_] = ([("correct", i) for i in range(len(values))]
                              if isinstance(raw, list) else [("correct",)])
        ok = True
        out: list[int] = []
        for v, p in zip(values, paths):
            if isinstance(v, bool) or not isinstance(v, int):
                m.error(p, f"expected an option index (a whole number), got {_kind(v)}")
                ok = False
            elif options is not None and not 0 <= v < len(options):
                m.error(p, f"{v} is not a valid option index (0–{len(options) - 1})")
                ok = False
            elif v in out:
                m.error(p, f"option {v} is listed twice")
                ok = False
            else:
                out.append(v)
        if not values:
            m.error("correct", "needs at least one correct option")
            return None
        if ok and kind in ("single", "complex_reflection") and len(out) != 1:
            m.error("correct", f"a '{kind}' item needs exactly one correct option, "
                               f"got {len(out)}")
            ok = False
        if ok and kind == "multiple" and options is not None and len(out) == len(options):
            m.error("correct", "every option is correct; a 'multiple' item needs at least "
                               "one wrong option")
            ok = False
        return sorted(out) if ok else None

    # ---- drills

    def load_drills(self) -> tuple[list[DrillContent], list[str]]:
        doc = self.read_yaml(self.root / "drills.yaml")
        if doc is None:
            return [], []
        top = _Map(doc, (), doc.data, self.issues, ("drills", "skills_check"))
        raw = top.seq("drills") or []
        drills: list[DrillContent] = []
        maps: list[tuple[str | None, _Map, str]] = []
        for i, it in enumerate(raw):
            m = _Map(doc, ("drills", i), it, self.issues, _DRILL_FIELDS)
            d = self.drill(m)
            if d is not None:
                drills.append(d)
            maps.append((d.slug if d else (it.get("slug") if isinstance(it, dict) else None),
                         m, "slug"))
        _check_unique(maps, self.issues, "drill slug")

        check = top.texts("skills_check") or []
        known = {d.slug for d in drills} | {s for s, _, _ in maps if isinstance(s, str)}
        seen: set[str] = set()
        for i, s in enumerate(check):
            if s not in known:
                top.error(("skills_check", i), f"unknown drill slug '{s}'")
            elif s in seen:
                top.error(("skills_check", i), f"'{s}' is listed twice")
            seen.add(s)
        if check and len(check) == len(seen) and all(s in known for s in check):
            by_slug = {d.slug: d for d in drills}
            covered = {by_slug[s].skill for s in check if s in by_slug}
            missing = [s for s in SKILLS if s not in covered]
            if missing and len(by_slug) == len(maps):
                top.error("skills_check", "does not cover every skill; missing: "
                                          + ", ".join(missing))
        return drills, check

    def drill(self, m: _Map) -> DrillContent | None:
        if not m.ok:
            return None
        slug = m.slug()
        discipline = m.choice("discipline", DISCIPLINES)
        context, statement, tip = m.text("context"), m.text("client_statement"), m.text("tip")
        skill = m.choice("skill", SKILLS)
        raw = m.seq("example_responses")
        responses: list[ExampleResponse] | None = []
        if raw is not None:
            for i, r in enumerate(raw):
                rm = _Map(m.doc, m.path + ("example_responses", i), r, self.issues,
                          ("text", "code"))
                text, code = rm.text("text"), rm.choice("code", CODES)
                if text is None or code is None:
                    responses = None
                elif responses is not None:
                    responses.append(ExampleResponse(text, code))
        else:
            responses = None
        if responses and skill in _SKILL_NEEDS_CODE:
            need = _SKILL_NEEDS_CODE[skill]
            if not any(r.code in need for r in responses):
                m.error("example_responses",
                        f"a '{skill}' drill needs at least one model answer coded "
                        + " or ".join(sorted(need)))
                responses = None
        if None in (slug, discipline, context, statement, tip, skill, responses):
            return None
        assert slug and discipline and context and statement and tip and skill and responses
        return DrillContent(slug, discipline, context, statement, skill, responses, tip)

    # ---- scenarios

    def load_scenarios(self) -> list[ScenarioContent]:
        doc = self.read_yaml(self.root / "scenarios.yaml")
        if doc is None:
            return []
        top = _Map(doc, (), doc.data, self.issues, ("scenarios",))
        raw = top.seq("scenarios") or []
        out: list[ScenarioContent] = []
        maps: list[tuple[str | None, _Map, str]] = []
        for i, it in enumerate(raw):
            m = _Map(doc, ("scenarios", i), it, self.issues, _SCENARIO_FIELDS)
            s = self.scenario(m)
            if s is not None:
                out.append(s)
            maps.append((s.slug if s else (it.get("slug") if isinstance(it, dict) else None),
                         m, "slug"))
        _check_unique(maps, self.issues, "scenario slug")
        return out

    def scenario(self, m: _Map) -> ScenarioContent | None:
        if not m.ok:
            return None
        slug, title = m.slug(), m.text("title")
        discipline = m.choice("discipline", DISCIPLINES)
        pm = m.sub("persona", ("name", "age", "family"))
        persona = None
        if pm is not None and pm.ok:
            name, age, family = pm.text("name"), pm.integer("age", minimum=14), pm.text("family")
            if name and age is not None and family:
                persona = Persona(name, age, family)
        background = m.text("background")
        focus = m.texts("practitioner_focus")
        brief, good, poor = m.text("client_brief"), m.text("client_good_mi"), m.text(
            "client_poor_mi")
        opening = m.text("opening_line", required=False)
        minutes = m.integer("minutes", minimum=1)
        if None in (slug, title, discipline, persona, background, focus, brief, good, poor,
                    minutes):
            return None
        assert slug and title and discipline and persona and background and focus
        assert brief and good and poor and minutes is not None
        return ScenarioContent(slug, title, discipline, persona, background, focus, brief, good,
                               poor, opening, minutes)


def load_course_dir(path: Path | str) -> CourseContent:
    """Load and validate one course directory.

    Raises :class:`ContentError` listing every problem found (``file:line: field:
    problem``); never a bare YAML traceback.
    """
    return _Loader(Path(path)).load()


def default_course_dir() -> Path:
    """The course shipped with the package (``mitrain/courses/``)."""
    return Path(__file__).resolve().parent / "courses"


# ---------------------------------------------------------------------- scoring

@dataclass(frozen=True)
class QuizItemResult:
    id: str
    correct: bool
    chosen: list[int]
    expected: list[int]
    explanation: str


@dataclass(frozen=True)
class QuizResult:
    score: float                      # 0..1, share of items answered exactly right
    items: list[QuizItemResult] = field(default_factory=list)

    @property
    def correct_count(self) -> int:
        return sum(1 for r in self.items if r.correct)

    @property
    def total(self) -> int:
        return len(self.items)

    def passed(self, pass_mark: float) -> bool:
        return self.total > 0 and self.score + 1e-9 >= pass_mark


def score_quiz(quiz: QuizContent, answers: Mapping[str, Iterable[int]]) -> QuizResult:
    """Mark a quiz. An item is right only when the chosen options are exactly the
    correct set: a partial answer to a 'multiple' item counts as wrong. Missing
    answers are wrong; answers to unknown item ids are ignored."""
    results: list[QuizItemResult] = []
    for item in quiz.items:
        chosen = sorted({int(a) for a in answers.get(item.id, ())})
        results.append(QuizItemResult(item.id, chosen == sorted(item.correct), chosen,
                                      list(item.correct), item.explanation))
    score = (sum(r.correct for r in results) / len(results)) if results else 0.0
    return QuizResult(score, results)
