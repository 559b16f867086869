"""Inter-rater agreement on MITI codes and scores (pure functions, no models).

- :func:`cohen_kappa` — Cohen's κ for two raters over nominal labels:
  κ = (p_o − p_e) / (1 − p_e), p_e from each rater's own marginals. ``None``
  when there are no pairs or p_e = 1 (both raters used one and the same label:
  κ is undefined there, not 1).
- :func:`code_agreement` — κ over product codes (all, practitioner, client), per
  code *family* (the coder's level-1 groups: question, reflection, input, other,
  client talk) and the confusion matrix.
  Per family, ``kappa`` is the κ of "in this family or not" over that speaker's
  utterances (does the rater see a question here?) and ``within_kappa`` the κ of
  the exact code among utterances both raters put in the family (open vs closed,
  simple vs complex, ...).
- :func:`icc` — intraclass correlation (Shrout & Fleiss 1979) for n targets
  rated by the same k raters: ICC(2,1) two-way random effects, absolute
  agreement, single rater (the default: are two trainers interchangeable?), or
  ICC(3,1) two-way mixed, consistency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any, Literal

from coding.corpus import CODE_LEVELS, LEVEL1_CLIENT, LEVEL1_PRACTITIONER
from coding.types import CLIENT_CODES, PRACTITIONER_CODES, Code

FAMILIES: dict[str, tuple[Code, ...]] = {
    **{lv: tuple(c for c in PRACTITIONER_CODES if CODE_LEVELS[c][0] == lv)
       for lv in LEVEL1_PRACTITIONER},
    LEVEL1_CLIENT: CLIENT_CODES,
}
CODE_ORDER: tuple[str, ...] = tuple(c.value for c in Code)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's κ of two raters' labels for the same items (see module docstring)."""
    if len(a) != len(b):
        raise ValueError(f"rater sequences differ in length ({len(a)} vs {len(b)})")
    n = len(a)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def confusion_matrix(a: Sequence[str], b: Sequence[str],
                     labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Counts of (rater a label, rater b label): ``matrix[i][j]`` = a said labels[i], b labels[j].

    Labels default to the codes that occur, in :class:`Code` order (others after, sorted).
    """
    if len(a) != len(b):
        raise ValueError(f"rater sequences differ in length ({len(a)} vs {len(b)})")
    if labels is None:
        seen = set(a) | set(b)
        labels = [c for c in CODE_ORDER if c in seen] + sorted(seen - set(CODE_ORDER))
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for x, y in zip(a, b):
        if x in index and y in index:
            matrix[index[x]][index[y]] += 1
    return {"labels": list(labels), "matrix": matrix}


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def family_of(code: str) -> str | None:
    """The family (level-1 group) of a product code, or None if unknown."""
    try:
        return CODE_LEVELS[Code(code)][0]
    except ValueError:
        return None


def code_agreement(a: Sequence[str], b: Sequence[str]) -> dict[str, Any]:
    """Agreement between two raters' product codes for the same utterances.

    Returns ``n``, ``percent_agreement``, ``kappa`` (all codes), ``kappa_practitioner``,
    ``kappa_client`` (pairs where rater a's code is a practitioner / client code),
    ``families`` {name: {kappa, within_kappa, n, n_within}} and ``confusion``
    (rows: rater a, columns: rater b).
    """
    if len(a) != len(b):
        raise ValueError(f"rater sequences differ in length ({len(a)} vs {len(b)})")
    a, b = list(a), list(b)
    n = len(a)
    client = {c.value for c in CLIENT_CODES}
    p_idx = [i for i in range(n) if a[i] not in client]
    c_idx = [i for i in range(n) if a[i] in client]
    families: dict[str, dict[str, Any]] = {}
    for fam, codes in FAMILIES.items():
        members = {c.value for c in codes}
        idx = c_idx if fam == LEVEL1_CLIENT else p_idx
        ia = [a[i] in members for i in idx]
        ib = [b[i] in members for i in idx]
        within = [i for i in idx if a[i] in members and b[i] in members]
        families[fam] = {
            # every client utterance is client talk: presence κ says nothing there
            "kappa": None if fam == LEVEL1_CLIENT else _round(cohen_kappa(ia, ib)),
            "within_kappa": _round(cohen_kappa([a[i] for i in within], [b[i] for i in within])),
            "n": len(idx),
            "n_within": len(within),
        }
    return {
        "n": n,
        "percent_agreement": _round(100.0 * sum(x == y for x, y in zip(a, b)) / n, 2) if n else None,
        "kappa": _round(cohen_kappa(a, b)),
        "kappa_practitioner": _round(cohen_kappa([a[i] for i in p_idx], [b[i] for i in p_idx])),
        "kappa_client": _round(cohen_kappa([a[i] for i in c_idx], [b[i] for i in c_idx])),
        "families": families,
        "confusion": confusion_matrix(a, b),
    }


def icc(ratings: Sequence[Sequence[float]],
        form: Literal["ICC(2,1)", "ICC(3,1)"] = "ICC(2,1)") -> float | None:
    """Intraclass correlation of ``ratings[target][rater]`` (Shrout & Fleiss 1979).

    ICC(2,1) = (MSR − MSE) / (MSR + (k−1)·MSE + k·(MSC − MSE)/n);
    ICC(3,1) = (MSR − MSE) / (MSR + (k−1)·MSE), with MSR/MSC/MSE the two-way
    ANOVA mean squares for targets (rows), raters (columns) and error.
    ``None`` with fewer than 2 targets or raters, or a zero denominator (no variance).
    """
    rows = [list(map(float, r)) for r in ratings]
    n = len(rows)
    k = len(rows[0]) if rows else 0
    if n < 2 or k < 2:
        return None
    if any(len(r) != k for r in rows):
        raise ValueError("every target needs a rating from every rater")
    grand = sum(map(sum, rows)) / (n * k)
    row_means = [sum(r) / k for r in rows]
    col_means = [sum(r[j] for r in rows) / n for j in range(k)]
    ss_total = sum((x - grand) ** 2 for r in rows for x in r)
    ss_rows = k * sum((m - grand) ** 2 for m in row_means)
    ss_cols = n * sum((m - grand) ** 2 for m in col_means)
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    if form == "ICC(2,1)":
        den = msr + (k - 1) * mse + k * (msc - mse) / n
    elif form == "ICC(3,1)":
        den = msr + (k - 1) * mse
    else:
        raise ValueError(f"unknown ICC form {form!r}")
    if abs(den) < 1e-12:
        return None
    return (msr - mse) / den
