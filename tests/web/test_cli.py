import re
from pathlib import Path

from click.testing import CliRunner

from mitrain.cli import main


def test_init_demo_creates_organisation_once_with_random_passwords(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("MITRAIN_MODEL_DIR", str(tmp_path / "models"))
    first = CliRunner().invoke(main, ["init", "--demo"])
    assert first.exit_code == 0, first.output
    assert "upgraded empty ->" in first.output
    logins = re.findall(r"^\s+(\w+)\s+(\S+@\S+)\s+(\S+)$", first.output, re.MULTILINE)
    assert {role for role, _, _ in logins} == {"admin", "trainer", "lead", "practitioner"}
    assert len(logins) >= 7
    passwords = [p for _, _, p in logins]
    assert len(set(passwords)) == len(passwords) and all(len(p) >= 20 for p in passwords)
    second = CliRunner().invoke(main, ["init", "--demo"])
    assert "up to date" in second.output and "Demo organisation created" not in second.output
    # a different instance gets different passwords: nothing is fixed
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", str(tmp_path / "other"))
    third = CliRunner().invoke(main, ["init", "--demo"])
    assert not set(passwords) & set(re.findall(r"^\s+\w+\s+\S+@\S+\s+(\S+)$", third.output, re.MULTILINE))


def test_every_command_has_help() -> None:
    for args in (["--help"], ["init", "--help"], ["serve", "--help"], ["worker", "--help"],
                 ["users", "import", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output, args


def test_serve_refuses_an_unmigrated_database(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", str(tmp_path / "empty"))
    result = CliRunner().invoke(main, ["serve", "--port", "5999"])
    assert result.exit_code != 0 and "run `mitrain init` first" in result.output
