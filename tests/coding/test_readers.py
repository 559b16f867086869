from __future__ import annotations

from pathlib import Path

import pytest

from coding.errors import InputError
from coding.readers import read_transcript
from coding.types import Role


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_plain_text_prefixes_and_continuation(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.txt", "Practitioner: Hello there.\nHow are you?\n\nclient: Fine.\n"
               "T: Good to hear.\nc: Thanks.\nC: Really.\n")
    turns = read_transcript(p)
    assert [t.role for t in turns] == [Role.PRACTITIONER, Role.CLIENT, Role.PRACTITIONER, Role.CLIENT]
    assert turns[0].text == "Hello there. How are you?"
    assert turns[3].text == "Thanks. Really."  # consecutive same-speaker lines merge


def test_unknown_speaker_names_file_and_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "transcript.txt", "P: Hi.\nC: Hello.\n\n\n\n\nX: who am I\n")
    with pytest.raises(InputError, match=r"transcript\.txt line 7: unknown speaker 'X'.*P:/C:"):
        read_transcript(p)


def test_csv_with_and_without_header(tmp_path: Path) -> None:
    a = read_transcript(_write(tmp_path, "a.csv", "speaker,text,start,end\nP,Hi,0,1.5\nC,Hello,1.5,2\n"))
    b = read_transcript(_write(tmp_path, "b.csv", "practitioner,\"Hi, you\"\nclient,Hello\n"))
    assert a[0].start == 0.0 and a[0].end == 1.5 and a[1].role is Role.CLIENT
    assert b[0].text == "Hi, you"


def test_csv_bad_time_has_line_number(tmp_path: Path) -> None:
    p = _write(tmp_path, "a.csv", "speaker,text,start,end\nP,Hi,0,1\nC,Hello,soon,2\n")
    with pytest.raises(InputError, match=r"a\.csv line 3: start 'soon'"):
        read_transcript(p)


def test_json_merges_same_speaker(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.json", '{"utterances": [{"speaker": "practitioner", "text": "Hi.", "start": 0, "end": 1},'
               '{"speaker": "practitioner", "text": "How are you?", "start": 1, "end": 2},'
               '{"speaker": "client", "text": "Fine.", "start": 2, "end": 3}]}')
    turns = read_transcript(p)
    assert len(turns) == 2
    assert turns[0].text == "Hi. How are you?" and turns[0].start == 0 and turns[0].end == 2


def test_webvtt_voice_tags(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n<v Practitioner>How are you?</v>\n\n"
               "00:00:04.000 --> 00:00:05.000\n<v Client>Not bad.\n")
    turns = read_transcript(p)
    assert turns[0].role is Role.PRACTITIONER and turns[0].start == 1.0 and turns[0].end == 3.5
    assert turns[1].text == "Not bad."


def test_srt_prefixes(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.srt", "1\n00:00:01,000 --> 00:00:02,000\nPractitioner: Hello.\n\n"
               "2\n00:01:02,500 --> 00:01:03,000\nClient: Hi.\n")
    turns = read_transcript(p)
    assert turns[1].role is Role.CLIENT and turns[1].start == 62.5


def test_srt_cue_without_speaker(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.srt", "1\n00:00:01,000 --> 00:00:02,000\nHello.\n")
    with pytest.raises(InputError, match=r"t\.srt line 3: cue has no speaker"):
        read_transcript(p)


@pytest.mark.parametrize("content,pattern", [
    ("", "empty transcript"),
    ("\n\n  \n", "empty transcript"),
    ("P: Hi.\nP: Anyone there?\n", "only one speaker"),
    ("Hello there\nP: Hi\n", r"line 1: text before any speaker"),
])
def test_bad_transcripts(tmp_path: Path, content: str, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        read_transcript(_write(tmp_path, "t.txt", content))


def test_non_utf8(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.txt", "P: Hi\nC: caf\xe9 latte\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"t\.txt line 2: not UTF-8"):
        read_transcript(p)


def test_ten_megabyte_single_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "big.txt", "P: " + "blah " * (2 * 1024 * 1024) + "\nC: ok\n")
    with pytest.raises(InputError, match=r"big\.txt line 1: line is .* characters long"):
        read_transcript(p)
