"""Bulk CSV import of people: all or nothing, row-by-row errors, idempotent."""

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mitrain.models import Discipline, User, UserRole
from mitrain.services import ServiceError
from mitrain.services.imports import import_people

from ..factories import make_team, make_user

GOOD = (b"name,email,team,discipline,role\n"
        b"Amy Shaw,amy@example.org,North,social work,practitioner\n"
        b"Ben Ali,ben@example.org,north,Domestic Abuse,practitioner\n"
        b"Cat Doe,cat@example.org,South,mental_health,trainer\n")


@pytest.fixture
def teams(db):
    return make_team(db, "North"), make_team(db, "South")


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(User))


def test_good_file_imports_everyone(db, teams) -> None:
    report = import_people(db, GOOD)
    assert report.ok and len(report.created) == 3
    ben = db.scalar(select(User).where(User.email == "ben@example.org"))
    assert ben.team.name == "North" and ben.discipline is Discipline.DOMESTIC_ABUSE
    assert ben.role is UserRole.PRACTITIONER and ben.password_hash is None


def test_reimporting_the_same_file_changes_nothing(db, teams) -> None:
    import_people(db, GOOD)
    again = import_people(db, GOOD)
    assert again.ok and again.created == [] and again.updated == []
    assert len(again.unchanged) == 3 and _count(db) == 3


def test_changed_row_updates_that_person(db, teams) -> None:
    import_people(db, GOOD)
    changed = GOOD.replace(b"Amy Shaw,amy@example.org,North", b"Amy Shaw,amy@example.org,South")
    report = import_people(db, changed)
    assert report.updated == ["amy@example.org"] and len(report.unchanged) == 2


@pytest.mark.parametrize("row, message", [
    (b",x@example.org,North,other,practitioner", "name is empty"),
    (b"X,not-an-email,North,other,practitioner", "not a valid email address"),
    (b"X,x@example.org,Nowhere,other,practitioner", "unknown team 'Nowhere'"),
    (b"X,x@example.org,North,plumbing,practitioner", "unknown discipline 'plumbing'"),
    (b"X,x@example.org,North,other,boss", "unknown role 'boss'"),
    (b"X,amy@example.org,North,other,practitioner", "amy@example.org is already on line 2"),
    (b"X,x@example.org,North,other", "expected 5 values, found 4"),
])
def test_each_bad_row_is_reported_and_nothing_is_imported(db, teams, row, message) -> None:
    report = import_people(db, GOOD + row + b"\n")
    assert not report.ok
    assert [(e.line, message in e.message) for e in report.errors] == [(5, True)]
    assert _count(db) == 0  # the three good rows were not imported either


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty"),
    (b"name,email,team\nA,a@example.org,North\n", "missing discipline, role"),
    (b"name,email,team,discipline,role,extra\n", "unexpected 'extra'"),
    (b"name,email,team,discipline,role\n", "no people in it"),
    ("name,email,team,discipline,role\nZoë,z@example.org,North,other,practitioner\n"
     .encode("latin-1"), "not UTF-8"),
])
def test_malformed_files_get_a_clear_message(db, teams, data, message) -> None:
    with pytest.raises(ServiceError, match=message):
        import_people(db, data)
    assert _count(db) == 0


def test_utf8_with_bom_from_excel_is_accepted(db, teams) -> None:
    assert import_people(db, b"\xef\xbb\xbf" + GOOD).ok


def test_import_page_shows_row_errors_then_imports(client, auth, db, teams) -> None:
    admin = make_user(db, UserRole.ADMIN)
    auth.login(admin)
    bad = client.post("/admin/import", data={"file": (io.BytesIO(GOOD + b"Y,bad,North,other,lead\n"),
                                                      "people.csv")},
                      content_type="multipart/form-data").get_data(as_text=True)
    assert "Nothing was imported" in bad and "&#39;bad&#39; is not a valid email address" in bad
    assert _count(db) == 1
    ok = client.post("/admin/import", data={"file": (io.BytesIO(GOOD), "people.csv")},
                     content_type="multipart/form-data").get_data(as_text=True)
    assert "3 created, 0 updated, 0 unchanged" in ok
    none = client.post("/admin/import", data={}, content_type="multipart/form-data")
    assert "Choose a CSV file" in none.get_data(as_text=True)


def test_cli_import(app, db, teams, tmp_path: Path, monkeypatch) -> None:
    from mitrain.cli import main
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("MITRAIN_MODEL_DIR", app.config["MODEL_DIR"])
    good = tmp_path / "people.csv"
    good.write_bytes(GOOD)
    result = CliRunner().invoke(main, ["users", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    result = CliRunner().invoke(main, ["users", "import", str(good)])
    assert "0 created, 0 updated, 3 unchanged" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(GOOD + b"Q,q@example.org,North,other,chief\n")
    result = CliRunner().invoke(main, ["users", "import", str(bad)])
    assert result.exit_code == 1 and "line 5: unknown role 'chief'" in result.output
    assert "Traceback" not in result.output
