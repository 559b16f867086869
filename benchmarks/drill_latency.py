"""Benchmark drill feedback latency after warm-up. Prints and writes JSON.

    .venv/bin/python benchmarks/drill_latency.py [--model-dir DIR] [--repeat 1] [--out FILE]

Runs in a throw-away instance with the shipped course synced and one signed-in
practitioner (CSRF off, as in the tests). After one warm-up answer (which loads
or trains the coder, and loads Whisper), it measures:

1. **typed, end-to-end**: every shipped drill x every example answer, as a Flask
   test-client POST to ``/learn/drills/<slug>`` (form, coder, judging, the
   ``drill_attempts`` write and the rendered page);
2. **typed, coder only**: the same answers through ``MitiCoder.code_turns``
   (parent statement + answer), without the web layer or the database;
3. **spoken**: a few espeak-ng clips (WebM/Opus, as a browser sends), end-to-end
   as a POST to ``/learn/drills/<slug>/spoken`` (temporary file, decode,
   Whisper, coding, DB write) and transcription alone (decode + Whisper).

Also reported: of the example answers labelled with a code that hits their drill's
skill, how many the coder judges as hits; and how many answers get their labelled
code (a sanity check of the content and the coder, not a benchmark of either).
Target (issue 4): typed feedback < 1 s.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results_file import write_results

from coding.types import Role, Turn
from mitrain import create_app
from mitrain.content import default_course_dir, load_course_dir
from mitrain.db import get_db
from mitrain.migrate import upgrade
from mitrain.models import Drill, UserRole
from mitrain.services import speech
from mitrain.services.coder import get_coder
from mitrain.services.content_sync import sync_course
from mitrain.services.drills import SKILL_TARGETS, judge
from tests.factories import PASSWORD, make_user
from tests.recording_factories import spoken_clip

TARGET_TYPED_S = 1.0
SPOKEN = [("open_question", "What would you like to be different for the children?"),
          ("simple_reflection", "You are worried about what the school will say."),
          ("affirmation", "You have worked really hard to get the children to school on time.")]


def stats(samples: list[float]) -> dict[str, float]:
    """p50 / p95 / max / mean in milliseconds."""
    a = np.asarray(samples) * 1000
    return {"n": len(samples), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1), "max_ms": round(float(a.max()), 1),
            "mean_ms": round(float(a.mean()), 1)}


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds taken by ``fn(*args, **kwargs)``, and its result."""
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", default=None, help="coder artefacts (default: the app's)")
    ap.add_argument("--repeat", type=int, default=1, help="passes over all drill answers")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "drill_latency.json"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mitrain-bench-"))
    config: dict[str, Any] = {"INSTANCE_PATH": str(work / "instance"), "TESTING": True,
                              "WTF_CSRF_ENABLED": False}
    if args.model_dir:
        config["MODEL_DIR"] = args.model_dir
    app = create_app(config)
    engine = get_db(app).engine
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as db:
        sync_course(db, load_course_dir(default_course_dir()))
        user = make_user(db, UserRole.PRACTITIONER)
        drills = list(db.scalars(select(Drill).where(Drill.active.is_(True)).order_by(Drill.id)))
    client = app.test_client()
    resp = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302, "sign-in failed"
    answers = [(d.slug, d.skill, d.client_statement, r["text"], r["code"])
               for d in drills for r in d.example_responses]
    print(f"{len(drills)} drills, {len(answers)} example answers")

    # Warm-up: the first answer loads (or trains) the coder and spaCy.
    first = answers[0]
    warm_typed, _ = timed(lambda: client.post(f"/learn/drills/{first[0]}",
                                              data={"response": first[3]}))
    print(f"warm-up (coder load or training): {warm_typed:.2f} s")

    typed, coder_only, hits, on_target, code_agree = [], [], 0, 0, 0
    with app.app_context():
        coder = get_coder()
        for _ in range(args.repeat):
            for slug, skill, statement, text, code in answers:
                dt, resp = timed(client.post, f"/learn/drills/{slug}",
                                 data={"response": text})
                assert resp.status_code == 200, (slug, resp.status_code)
                typed.append(dt)
                dt, coded = timed(coder.code_turns,
                                  [Turn(Role.CLIENT, statement), Turn(Role.PRACTITIONER, text)])
                coder_only.append(dt)
                mine = [(c.utterance.text, c.code.value, float(c.confidence)) for c in coded
                        if c.utterance.role is Role.PRACTITIONER]
                got, _, hit, _ = judge(skill, mine)
                if code in SKILL_TARGETS.get(skill, frozenset()):  # a model answer of the skill
                    on_target += 1
                    hits += hit
                code_agree += got == code

    # Spoken: clips as a browser would send them.
    clips: list[tuple[str, str, bytes]] = []
    slug_of: dict[str, str] = {}
    for d in drills:
        slug_of.setdefault(d.skill, d.slug)
    for i, (skill, text) in enumerate(SPOKEN):
        path = spoken_clip(work / f"clip{i}.webm", text)
        clips.append((slug_of[skill], text, path.read_bytes()))
    with app.app_context():
        from coding.transcribe import get_transcriber
        cfg = app.config
        whisper = get_transcriber(cfg["WHISPER_ENGINE"], cfg["WHISPER_MODEL"],
                                  cpu_threads=cfg["WHISPER_THREADS"])
        load_s, _ = timed(getattr(whisper, "load", lambda: None))  # the same instance drills use
    print(f"Whisper load: {load_s:.2f} s")

    def post_clip(slug: str, data: bytes) -> Any:
        return client.post(f"/learn/drills/{slug}/spoken", content_type="multipart/form-data",
                           data={"audio": (io.BytesIO(data), "answer.webm")})

    post_clip(*clips[0][::2])  # warm-up (VAD model, first decode)
    spoken_e2e, transcribe_only, heard = [], [], []
    for _ in range(3):
        for slug, text, data in clips:
            dt, resp = timed(post_clip, slug, data)
            assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
            spoken_e2e.append(dt)
            with app.test_request_context():
                dt, h = timed(speech.transcribe_clip, io.BytesIO(data), filename="answer.webm")
            transcribe_only.append(dt)
            heard.append({"said": text, "heard": h.text, "audio_s": h.duration})

    res: dict[str, Any] = {
        "drills": len(drills), "answers": len(answers), "repeat": args.repeat,
        "warmup_s": round(warm_typed, 2), "whisper_load_s": round(load_s, 2),
        "typed_end_to_end": stats(typed), "typed_coder_only": stats(coder_only),
        "spoken_end_to_end": stats(spoken_e2e), "spoken_transcribe_only": stats(transcribe_only),
        "spoken_clip_seconds": sorted({h["audio_s"] for h in heard}),
        "heard": heard[: len(clips)],
        "example_answers_hitting_their_skill": f"{hits} of {on_target}",
        "example_answers_coded_as_labelled": f"{code_agree} of {len(typed)}",
        "target_typed_s": TARGET_TYPED_S,
        "typed_meets_target": bool(max(typed) < TARGET_TYPED_S),
        "environment": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                        "whisper_threads": app.config["WHISPER_THREADS"]},
    }
    for key in ("typed_end_to_end", "typed_coder_only", "spoken_end_to_end",
                "spoken_transcribe_only"):
        s = res[key]
        print(f"{key:24s} n={s['n']:3d}  p50 {s['p50_ms']:7.1f} ms  p95 {s['p95_ms']:7.1f} ms  "
              f"max {s['max_ms']:7.1f} ms")
    print(f"example answers hitting their skill: {res['example_answers_hitting_their_skill']}; "
          f"coded as labelled: {res['example_answers_coded_as_labelled']}")
    for h in res["heard"]:
        print(f"  said  {h['said']!r}\n  heard {h['heard']!r}")
    get_db(app).engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    write_results(res, args.out)


if __name__ == "__main__":
    main()
