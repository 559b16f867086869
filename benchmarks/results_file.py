"""Where the benchmarks write their JSON results (``benchmarks/results/``, gitignored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(results: dict[str, Any], out: str | Path) -> Path:
    """Write ``results`` as indented JSON to ``out`` (folders made as needed); say where."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return path
