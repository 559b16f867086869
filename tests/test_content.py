"""Course content: the shipped course validates, and the validator reports
broken content precisely (file, line, field) without tracebacks."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from mitrain.content import (
    DISCIPLINES,
    SKILLS,
    ContentError,
    CourseContent,
    QuizContent,
    QuizItem,
    default_course_dir,
    load_course_dir,
    score_quiz,
)

# --------------------------------------------------------------- shipped course


@pytest.fixture(scope="module")
def course() -> CourseContent:
    return load_course_dir(default_course_dir())


def test_default_course_dir_is_inside_the_package() -> None:
    d = default_course_dir()
    assert d.name == "courses"
    assert d.parent.name == "mitrain"
    assert (d / "course.yaml").is_file()


def test_shipped_course_loads_without_problems(course: CourseContent) -> None:
    assert course.slug
    assert course.title == "Motivational Interviewing in family safeguarding"
    assert 0 < course.pass_mark <= 1


def test_shipped_module_counts_and_shape(course: CourseContent) -> None:
    assert len(course.modules) >= 9
    assert [m.order for m in course.modules] == sorted(m.order for m in course.modules)
    for m in course.modules:
        assert 2 <= len(m.lessons) <= 3, m.slug
        assert 5 <= len(m.quiz.items) <= 8, m.slug
        assert all(ls.minutes > 0 and len(ls.body_markdown) > 400 for ls in m.lessons), m.slug
    kinds = Counter(i.kind for m in course.modules for i in m.quiz.items)
    assert set(kinds) == {"single", "multiple", "complex_reflection"}


_CODE_RE = re.compile(r"`(Q_OPEN|Q_CLOSED|SR|CR|AF|SEEK|EMPHASIZE|GI|PWP|PERSUADE|CONFRONT)`")


# Issue 4's list of what the course covers, as words a module title must contain.
REQUIRED_TOPICS = ("spirit", "engaging", "open questions", "affirmations", "reflect",
                   "summaries", "change talk", "sustain talk", "discord", "righting reflex",
                   "toxic trio", "authority", "planning", "miti feedback")


def test_shipped_modules_cover_every_required_topic(course: CourseContent) -> None:
    titles = " | ".join(m.title.lower() for m in course.modules)
    assert [t for t in REQUIRED_TOPICS if t not in titles] == []


def test_every_module_has_an_annotated_worked_dialogue(course: CourseContent) -> None:
    for m in course.modules:
        text = "\n".join(ls.body_markdown for ls in m.lessons)
        practitioner_lines = [ln for ln in text.splitlines() if "**Practitioner" in ln]
        parent_lines = [ln for ln in text.splitlines()
                        if re.search(r"\*\*(Parent|Mum|Dad|[A-Z][a-z]+) ?(\([^)]*\))?:\*\*", ln)
                        and "**Practitioner" not in ln]
        assert practitioner_lines, f"{m.slug}: no worked dialogue"
        assert parent_lines, f"{m.slug}: dialogue has no parent lines"
        assert any(_CODE_RE.search(ln) for ln in practitioner_lines), \
            f"{m.slug}: practitioner lines are not annotated with MITI codes"


def test_complex_reflection_items_carry_the_parents_words(course: CourseContent) -> None:
    items = [i for m in course.modules for i in m.quiz.items if i.kind == "complex_reflection"]
    assert len(items) >= 3
    assert all(i.statement and len(i.correct) == 1 for i in items)


def test_shipped_prerequisites_follow_the_course(course: CourseContent) -> None:
    first = course.modules[0]
    assert course.prerequisites_for(first.slug) == list(first.prerequisites)
    if course.sequential:
        for prev, cur in zip(course.modules, course.modules[1:]):
            assert prev.slug in course.prerequisites_for(cur.slug)


def test_shipped_drill_counts(course: CourseContent) -> None:
    assert len(course.drills) >= 40
    per_discipline = Counter(d.discipline for d in course.drills)
    for disc in DISCIPLINES:
        assert per_discipline[disc] >= 8, disc
    assert {d.skill for d in course.drills} == set(SKILLS)
    for d in course.drills:
        assert 2 <= len(d.example_responses) <= 3, d.slug
    assert len({d.slug for d in course.drills}) == len(course.drills)


def test_shipped_skills_check(course: CourseContent) -> None:
    assert len(course.skills_check) == 10
    assert len(set(course.skills_check)) == 10
    skills = {course.drill(s).skill for s in course.skills_check}
    assert skills == set(SKILLS)
    assert {course.drill(s).discipline for s in course.skills_check} == set(DISCIPLINES)


def test_shipped_scenarios(course: CourseContent) -> None:
    assert len(course.scenarios) >= 8
    assert {s.discipline for s in course.scenarios} == set(DISCIPLINES)
    for s in course.scenarios:
        assert s.persona.name and s.persona.age >= 14 and s.persona.family
        assert s.practitioner_focus and s.client_good_mi and s.client_poor_mi
        assert 5 <= s.minutes <= 60


def test_loaded_content_is_frozen(course: CourseContent) -> None:
    with pytest.raises(AttributeError):
        course.title = "changed"  # type: ignore[misc]


# ------------------------------------------------------------ a tiny test course

COURSE = """\
slug: tiny
title: Tiny course
summary: For tests.
pass_mark: 0.75
sequential: true
"""

MODULE_1 = """\
slug: intro
title: Introduction
order: 1
summary: The start.
"""

MODULE_2 = """\
slug: next
title: Next steps
order: 2
summary: The follow-on.
prerequisites:
  - intro
pass_mark: 0.6
"""

LESSON = """\
---
slug: first
title: First lesson
order: 1
minutes: 10
---
# Hello

Body text.
"""

QUIZ_1 = """\
items:
  - id: intro-q1
    kind: single
    prompt: Pick one.
    options: [a, b, c]
    correct: 1
    explanation: Because b.
  - id: intro-q2
    kind: multiple
    prompt: Pick two.
    options:
      - a
      - b
      - c
    correct: [0, 2]
    explanation: Because a and c.
  - id: intro-q3
    kind: complex_reflection
    prompt: Which is a complex reflection?
    statement: I'm sick of you lot.
    options: [You're sick of us., It feels like we never leave you alone.]
    correct: 1
    explanation: It adds meaning.
"""

QUIZ_2 = """\
items:
  - id: next-q1
    kind: single
    prompt: Pick one.
    options: [a, b]
    correct: 0
    explanation: Because a.
"""


def _drill(slug: str, skill: str, code: str, discipline: str = "social_work") -> str:
    return f"""\
  - slug: {slug}
    discipline: {discipline}
    context: A home visit.
    client_statement: I don't need you here.
    skill: {skill}
    example_responses:
      - text: Model answer one.
        code: {code}
      - text: Model answer two.
        code: {code}
    tip: Keep it short.
"""


DRILLS = "drills:\n" + "".join([
    _drill("d-open", "open_question", "Q_OPEN"),
    _drill("d-sr", "simple_reflection", "SR", "domestic_abuse"),
    _drill("d-cr", "complex_reflection", "CR", "substance_misuse"),
    _drill("d-af", "affirmation", "AF", "mental_health"),
    _drill("d-sustain", "responding_to_sustain_talk", "CR"),
    _drill("d-change", "eliciting_change_talk", "Q_OPEN"),
]) + """\
skills_check:
  - d-open
  - d-sr
  - d-cr
  - d-af
  - d-sustain
  - d-change
"""

SCENARIOS = """\
scenarios:
  - slug: s-one
    title: One
    discipline: social_work
    persona:
      name: Kelly
      age: 29
      family: Two children.
    background: Background.
    practitioner_focus:
      - Open questions
    client_brief: Be wary.
    client_good_mi: Open up.
    client_poor_mi: Close down.
    opening_line: What now?
    minutes: 15
"""


def _write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    _write(root, "course.yaml", COURSE)
    _write(root, "modules/01-intro/module.yaml", MODULE_1)
    _write(root, "modules/01-intro/lessons/01-first.md", LESSON)
    _write(root, "modules/01-intro/quiz.yaml", QUIZ_1)
    _write(root, "modules/02-next/module.yaml", MODULE_2)
    _write(root, "modules/02-next/lessons/01-first.md", LESSON)
    _write(root, "modules/02-next/quiz.yaml", QUIZ_2)
    _write(root, "drills.yaml", DRILLS)
    _write(root, "scenarios.yaml", SCENARIOS)
    return root


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing needle."""
    hits = [i + 1 for i, ln in enumerate(text.splitlines()) if needle in ln]
    assert len(hits) >= nth, f"{needle!r} not found {nth} times"
    return hits[nth - 1]


def _edit(root: Path, rel: str, old: str, new: str, count: int = 1) -> str:
    p = root / rel
    text = p.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    text = text.replace(old, new, count)
    p.write_text(text, encoding="utf-8")
    return text


def _problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_course_dir(root)
    err = info.value
    lines = [str(p) for p in err.problems]
    # The exception message lists every problem, one per line.
    for ln in lines:
        assert ln in str(err)
    return lines


def test_tiny_course_loads(tiny: Path) -> None:
    c = load_course_dir(tiny)
    assert [m.slug for m in c.modules] == ["intro", "next"]
    intro, nxt = c.modules
    assert intro.pass_mark == 0.75          # course default
    assert nxt.pass_mark == 0.6             # module override
    assert c.prerequisites_for("next") == ["intro"]
    assert intro.lessons[0].body_markdown.startswith("# Hello")
    assert "slug:" not in intro.lessons[0].body_markdown
    q = intro.quiz.items
    assert [i.correct for i in q] == [[1], [0, 2], [1]]
    assert q[2].statement == "I'm sick of you lot." and q[0].statement is None
    assert c.skills_check[0] == "d-open"
    assert c.scenarios[0].persona.name == "Kelly"
    assert c.drill("d-cr").example_responses[0].code == "CR"


def test_sequential_flag_adds_previous_module(tiny: Path) -> None:
    _edit(tiny, "modules/02-next/module.yaml", "prerequisites:\n  - intro\n", "")
    c = load_course_dir(tiny)
    assert c.modules[1].prerequisites == []
    assert c.prerequisites_for("next") == ["intro"]
    _edit(tiny, "course.yaml", "sequential: true", "sequential: false")
    assert load_course_dir(tiny).prerequisites_for("next") == []


def test_correct_index_out_of_range(tiny: Path) -> None:
    text = _edit(tiny, "modules/01-intro/quiz.yaml", "correct: [0, 2]", "correct: [0, 5]")
    line = _line_of(text, "correct: [0, 5]")
    assert _problems(tiny) == [
        f"modules/01-intro/quiz.yaml:{line}: items[1].correct[1]: "
        "5 is not a valid option index (0–2)"]


def test_scalar_correct_out_of_range_names_the_field(tiny: Path) -> None:
    text = _edit(tiny, "modules/01-intro/quiz.yaml", "correct: 1\n", "correct: 3\n")
    line = _line_of(text, "correct: 3")
    assert _problems(tiny) == [
        f"modules/01-intro/quiz.yaml:{line}: items[0].correct: "
        "3 is not a valid option index (0–2)"]


def test_single_item_with_two_correct_answers(tiny: Path) -> None:
    text = _edit(tiny, "modules/02-next/quiz.yaml", "correct: 0", "correct: [0, 1]")
    line = _line_of(text, "correct: [0, 1]")
    probs = _problems(tiny)
    assert len(probs) == 1
    assert probs[0].startswith(f"modules/02-next/quiz.yaml:{line}: items[0].correct: ")
    assert "exactly one correct option, got 2" in probs[0]


def test_complex_reflection_item_needs_a_statement(tiny: Path) -> None:
    text = _edit(tiny, "modules/01-intro/quiz.yaml", "    statement: I'm sick of you lot.\n", "")
    line = _line_of(text, "- id: intro-q3")
    assert _problems(tiny) == [
        f"modules/01-intro/quiz.yaml:{line}: items[2].statement: required field is missing"]


def test_missing_required_field_points_at_the_mapping(tiny: Path) -> None:
    _edit(tiny, "modules/02-next/module.yaml", "title: Next steps\n", "")
    assert _problems(tiny) == [
        "modules/02-next/module.yaml:1: title: required field is missing"]


def test_wrong_type_in_lesson_front_matter_has_file_line(tiny: Path) -> None:
    text = _edit(tiny, "modules/02-next/lessons/01-first.md", "minutes: 10", "minutes: ten")
    line = _line_of(text, "minutes: ten")
    assert line == 5
    assert _problems(tiny) == [
        f"modules/02-next/lessons/01-first.md:{line}: minutes: "
        "expected a whole number, got text 'ten'"]


def test_lesson_without_front_matter(tiny: Path) -> None:
    _write(tiny, "modules/01-intro/lessons/02-bare.md", "# No front matter\n\nText.\n")
    probs = _problems(tiny)
    assert len(probs) == 1
    assert probs[0].startswith("modules/01-intro/lessons/02-bare.md:1: front matter: missing")


def test_lesson_with_empty_body(tiny: Path) -> None:
    p = _write(tiny, "modules/01-intro/lessons/02-empty.md",
               "---\nslug: empty\ntitle: Empty\norder: 2\nminutes: 5\n---\n\n   \n")
    assert p.exists()
    assert _problems(tiny) == [
        "modules/01-intro/lessons/02-empty.md:7: body: lesson body is empty"]


def test_duplicate_lesson_order_and_slug(tiny: Path) -> None:
    _write(tiny, "modules/01-intro/lessons/02-copy.md", LESSON)
    probs = _problems(tiny)
    assert "modules/01-intro/lessons/02-copy.md:2: slug: duplicate lesson slug 'first' " \
           "(first used at modules/01-intro/lessons/01-first.md:2)" in probs
    assert any(p.startswith("modules/01-intro/lessons/02-copy.md:4: order: duplicate lesson "
                            "order '1'") for p in probs)


def test_invalid_skill_value(tiny: Path) -> None:
    text = _edit(tiny, "drills.yaml", "skill: affirmation", "skill: affirming")
    line = _line_of(text, "skill: affirming")
    probs = _problems(tiny)
    assert probs[0].startswith(f"drills.yaml:{line}: drills[3].skill: 'affirming' is not one of:")
    # The skills check then no longer covers affirmation: reported, not crashed on.
    assert len(probs) <= 2


def test_invalid_discipline_and_code(tiny: Path) -> None:
    text = _edit(tiny, "drills.yaml", "discipline: mental_health", "discipline: psychiatry")
    text = _edit(tiny, "drills.yaml", "code: SR\n", "code: CONFRONT\n")
    probs = _problems(tiny)
    d_line = _line_of(text, "discipline: psychiatry")
    c_line = _line_of(text, "code: CONFRONT")
    assert any(p.startswith(f"drills.yaml:{d_line}: drills[3].discipline: 'psychiatry'")
               for p in probs)
    assert any(p.startswith(f"drills.yaml:{c_line}: drills[1].example_responses[0].code: "
                            "'CONFRONT' is not one of") for p in probs)


def test_drill_skill_must_match_model_answer_codes(tiny: Path) -> None:
    text = _edit(tiny, "drills.yaml", "code: CR\n", "code: SR\n", count=2)
    line = _line_of(text, "example_responses:", nth=3)
    assert _problems(tiny) == [
        f"drills.yaml:{line}: drills[2].example_responses: a 'complex_reflection' drill "
        "needs at least one model answer coded CR"]


def test_duplicate_drill_slug(tiny: Path) -> None:
    text = _edit(tiny, "drills.yaml", "slug: d-sr", "slug: d-open")
    second = _line_of(text, "slug: d-open", nth=2)
    first = _line_of(text, "slug: d-open", nth=1)
    probs = _problems(tiny)
    assert (f"drills.yaml:{second}: drills[1].slug: duplicate drill slug 'd-open' "
            f"(first used at drills.yaml:{first})") in probs


def test_skills_check_unknown_slug(tiny: Path) -> None:
    text = _edit(tiny, "drills.yaml", "  - d-change\n", "  - d-chnage\n")
    line = _line_of(text, "- d-chnage")
    probs = _problems(tiny)
    assert probs == [f"drills.yaml:{line}: skills_check[5]: unknown drill slug 'd-chnage'"]


def test_skills_check_must_cover_every_skill(tiny: Path) -> None:
    text = _edit(tiny, "drills.yaml", "  - d-af\n", "")
    line = _line_of(text, "skills_check:")
    assert _problems(tiny) == [
        f"drills.yaml:{line}: skills_check: does not cover every skill; missing: affirmation"]


def test_unknown_prerequisite(tiny: Path) -> None:
    text = _edit(tiny, "modules/02-next/module.yaml", "  - intro\n", "  - intro\n  - outro\n")
    line = _line_of(text, "- outro")
    assert _problems(tiny) == [
        f"modules/02-next/module.yaml:{line}: prerequisites[1]: unknown module slug 'outro'"]


def test_prerequisite_must_come_earlier(tiny: Path) -> None:
    _edit(tiny, "modules/01-intro/module.yaml", "summary: The start.\n",
          "summary: The start.\nprerequisites: [next]\n")
    probs = _problems(tiny)
    assert len(probs) == 1
    assert probs[0].startswith("modules/01-intro/module.yaml:5: prerequisites[0]: 'next' comes "
                               "later in the course")


def test_duplicate_quiz_id_across_modules(tiny: Path) -> None:
    _edit(tiny, "modules/02-next/quiz.yaml", "id: next-q1", "id: intro-q1")
    probs = _problems(tiny)
    assert probs == ["modules/02-next/quiz.yaml:2: items[0].id: duplicate quiz item id "
                     "'intro-q1' (first used at modules/01-intro/quiz.yaml:2)"]


def test_unknown_field_is_reported(tiny: Path) -> None:
    _edit(tiny, "modules/02-next/module.yaml", "prerequisites:", "prerequisite:")
    probs = _problems(tiny)
    assert probs[0].startswith("modules/02-next/module.yaml:5: prerequisite: unknown field")


def test_duplicate_yaml_key_is_reported(tiny: Path) -> None:
    _edit(tiny, "course.yaml", "summary: For tests.\n", "summary: For tests.\ntitle: Again\n")
    assert _problems(tiny) == [
        "course.yaml:4: title: duplicate key (the earlier value would be ignored)"]


def test_scenario_persona_problems(tiny: Path) -> None:
    text = _edit(tiny, "scenarios.yaml", "age: 29", "age: twenty")
    line = _line_of(text, "age: twenty")
    assert _problems(tiny) == [
        f"scenarios.yaml:{line}: scenarios[0].persona.age: expected a whole number, "
        "got text 'twenty'"]


def test_yaml_typo_gives_line_not_traceback(tiny: Path) -> None:
    # A missing closing bracket on line 5.
    text = _edit(tiny, "modules/01-intro/quiz.yaml", "options: [a, b, c]", "options: [a, b, c")
    assert _line_of(text, "options: [a, b, c") == 5
    probs = _problems(tiny)
    assert len(probs) == 1
    m = re.match(r"modules/01-intro/quiz\.yaml:(\d+): yaml: invalid YAML: (.+)", probs[0])
    assert m, probs[0]
    assert 5 <= int(m.group(1)) <= 6
    assert "Traceback" not in probs[0]


def test_yaml_indentation_typo(tiny: Path) -> None:
    _edit(tiny, "course.yaml", "title: Tiny course\n", "title: Tiny course\n  oops: 1\n")
    probs = _problems(tiny)
    assert len(probs) == 1
    assert re.match(r"course\.yaml:3: yaml: invalid YAML: .*mapping values are not allowed",
                    probs[0]), probs[0]


def test_all_problems_collected_across_files(tiny: Path) -> None:
    _edit(tiny, "course.yaml", "pass_mark: 0.75", "pass_mark: 75")
    _edit(tiny, "scenarios.yaml", "    minutes: 15\n", "")
    _edit(tiny, "modules/01-intro/quiz.yaml", "kind: multiple", "kind: many")
    probs = _problems(tiny)
    files = {p.split(":", 1)[0] for p in probs}
    assert files == {"course.yaml", "scenarios.yaml", "modules/01-intro/quiz.yaml"}
    assert "course.yaml:4: pass_mark: must be between 0 (exclusive) and 1, got 75" in probs
    assert "scenarios.yaml:2: scenarios[0].minutes: required field is missing" in probs
    assert any(p.startswith("modules/01-intro/quiz.yaml:9: items[1].kind: 'many'")
               for p in probs)


def test_missing_files_are_reported(tiny: Path) -> None:
    (tiny / "scenarios.yaml").unlink()
    shutil.rmtree(tiny / "modules/02-next/lessons")
    probs = _problems(tiny)
    assert "scenarios.yaml:1: (file): file is missing" in probs
    assert "modules/02-next/lessons:1: (directory): lessons directory is missing" in probs


def test_empty_file_is_reported(tiny: Path) -> None:
    _write(tiny, "modules/02-next/quiz.yaml", "")
    assert _problems(tiny) == ["modules/02-next/quiz.yaml:1: (document): file is empty"]


def test_missing_course_directory(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="does not exist"):
        load_course_dir(tmp_path / "nope")


def test_error_message_counts_problems(tiny: Path) -> None:
    _edit(tiny, "modules/02-next/module.yaml", "order: 2", "order: 1")
    with pytest.raises(ContentError) as info:
        load_course_dir(tiny)
    msg = str(info.value)
    assert msg.splitlines()[0].startswith("2 problems in course content")
    assert "modules/02-next/module.yaml:3: order: duplicate module order '1'" in msg


# ----------------------------------------------------------------------- scoring

QUIZ = QuizContent(items=[
    QuizItem("a", "single", "?", None, ["x", "y", "z"], [1], "y is right"),
    QuizItem("b", "multiple", "?", None, ["x", "y", "z", "w"], [0, 2], "x and z"),
    QuizItem("c", "complex_reflection", "?", "I'm fine.", ["x", "y"], [0], "x adds meaning"),
])


def test_score_all_correct() -> None:
    r = score_quiz(QUIZ, {"a": [1], "b": [2, 0], "c": [0]})
    assert r.score == 1.0
    assert r.correct_count == 3 and r.total == 3
    assert r.passed(0.8)
    assert [i.explanation for i in r.items] == ["y is right", "x and z", "x adds meaning"]


def test_partial_multiple_answer_counts_wrong() -> None:
    r = score_quiz(QUIZ, {"a": [1], "b": [0], "c": [0]})
    assert r.score == pytest.approx(2 / 3)
    item_b = r.items[1]
    assert item_b.id == "b" and item_b.correct is False
    assert item_b.chosen == [0] and item_b.expected == [0, 2]
    assert not r.passed(0.8)


def test_superset_answer_counts_wrong() -> None:
    r = score_quiz(QUIZ, {"a": [1], "b": [0, 1, 2], "c": [0]})
    assert [i.correct for i in r.items] == [True, False, True]


def test_missing_and_unknown_answers() -> None:
    r = score_quiz(QUIZ, {"a": [0], "zzz": [1]})
    assert r.score == 0.0
    assert [i.chosen for i in r.items] == [[0], [], []]


def test_duplicate_choices_do_not_matter() -> None:
    r = score_quiz(QUIZ, {"a": [1, 1], "b": [0, 2, 2], "c": [0]})
    assert r.score == 1.0


def test_empty_quiz_scores_zero_and_never_passes() -> None:
    r = score_quiz(QuizContent(items=[]), {})
    assert r.score == 0.0 and not r.passed(0.0)


def test_scores_shipped_quiz_with_its_own_answers(course: CourseContent) -> None:
    for m in course.modules:
        right = {i.id: list(i.correct) for i in m.quiz.items}
        assert score_quiz(m.quiz, right).score == 1.0
        wrong = {i.id: [(i.correct[0] + 1) % len(i.options)] for i in m.quiz.items}
        assert score_quiz(m.quiz, wrong).score < 1.0


# ------------------------------------------------------------------------ purity

def test_content_module_imports_only_yaml_and_stdlib() -> None:
    import ast

    from mitrain import content

    tree = ast.parse(Path(content.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "content.py must not import from the mitrain package"
            imported.add((node.module or "").split(".")[0])
    allowed = {"__future__", "re", "collections", "dataclasses", "pathlib", "typing", "yaml"}
    assert imported <= allowed, imported - allowed
