"""coding must stay usable alone: it never imports flask, sqlalchemy or mitrain."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, sys
import coding
for m in pkgutil.walk_packages(coding.__path__, "coding."):
    importlib.import_module(m.name)
bad = sorted(n for n in sys.modules if n.split(".")[0] in ("flask", "sqlalchemy", "mitrain"))
print("BAD:" + ",".join(bad))
print("SPACY_LOADED:" + str(__import__("coding.segment").segment._nlp is not None))
"""


def test_coding_imports_no_web_stack() -> None:
    res = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert "BAD:\n" in res.stdout, res.stdout
    assert "SPACY_LOADED:False" in res.stdout  # heavy models load on first use, not on import
