"""Three concrete suggestions drawn from a recording's MITI codes."""

from __future__ import annotations

from typing import Any


def suggestions(summary: dict[str, Any], limit: int = 3) -> list[str]:
    """Plain-English next steps, most important first, from a MITI summary dict."""
    c = summary.get("counts_volley") or summary["counts"]
    q_open, q_closed = c.get("Q_OPEN", 0), c.get("Q_CLOSED", 0)
    questions, reflections = q_open + q_closed, c.get("SR", 0) + c.get("CR", 0)
    ct, st = summary["counts"].get("CHANGE", 0), summary["counts"].get("SUSTAIN", 0)
    tips: list[str] = []
    if questions and reflections < questions:
        tips.append(f"You asked {questions} question{'s' * (questions != 1)} and reflected "
                    f"{reflections} time{'s' * (reflections != 1)}: try following each question "
                    f"with a reflection before you ask the next one.")
    if reflections and (summary.get("pct_complex_reflections") or 0) < 40:
        tips.append(f"{c.get('CR', 0)} of your {reflections} reflections were complex: try adding "
                    f"the feeling or meaning under the words (\"It sounds like you're worried "
                    f"that…\") rather than repeating them.")
    if questions and (summary.get("pct_open_questions") or 0) < 50:
        tips.append(f"{q_closed} of your {questions} questions were closed: turn them into open "
                    f"ones that start with \"what\" or \"how\".")
    pushing = summary.get("mi_non_adherent", 0)
    if pushing:
        tips.append(f"There {'were' if pushing != 1 else 'was'} {pushing} moment"
                    f"{'s' * (pushing != 1)} of persuading or confronting without permission: ask "
                    f"first (\"Would it be OK if I shared a concern?\") and leave the choice "
                    f"with the parent.")
    if ct + st and st > ct:
        tips.append(f"The parent's talk leaned towards staying the same ({st} sustain, {ct} "
                    f"change): when you hear change talk, reflect it back and ask for more "
                    f"(\"What else makes you want to…?\").")
    if not c.get("AF", 0):
        tips.append("You did not affirm: notice one strength or effort and name it "
                    "(\"You came today even though it was hard\").")
    share = (summary.get("talk_time_share") or {}).get("practitioner")
    if share is not None and share > 0.6:
        tips.append(f"You spoke for {round(share * 100)}% of the time: aim for the parent to do "
                    f"most of the talking.")
    # Fewer than ``limit`` problems: fill with what went well (still from the codes),
    # then general next steps, so the report always has ``limit`` suggestions.
    strengths = []
    if questions and reflections >= 2 * questions:
        strengths.append("Your reflections outnumber your questions at least two to one — "
                         "MITI's 'good' level. Keep listening this way.")
    if c.get("SEEK", 0) + c.get("EMPHASIZE", 0):
        strengths.append("You shared power by seeking the parent's ideas or emphasising their "
                         "choice. Keep doing that, especially when you must be clear about "
                         "concerns.")
    if questions and q_open >= q_closed:
        strengths.append(f"{q_open} of your {questions} questions were open. Keep inviting the "
                         f"parent to tell the story in their own words.")
    if reflections and c.get("CR", 0) * 2 >= reflections:
        strengths.append(f"{c.get('CR', 0)} of your {reflections} reflections were complex. Try "
                         f"a double-sided one next time (\"Part of you…, and part of you…\").")
    general = ["Listen for change talk (desire, ability, reasons, need) and reflect it when you "
               "hear it.",
               "Before you close, summarise the parent's own reasons for change and ask what "
               "they make of them."]
    for tip in [*strengths, *general]:
        if len(tips) >= limit:
            break
        tips.append(tip)
    return tips[:limit]
