"""The pseudonymisation key lives outside the project: a project folder given to someone else carries no key,
and cannot reverse a pseudonym (issue 27)."""

from __future__ import annotations

import shutil
import stat

import pytest
from conftest import make_project

from analysis.config import paths as make_paths
from analysis.io import privacy


@pytest.fixture
def no_env_key(monkeypatch, tmp_path):
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    monkeypatch.setenv(privacy.KEY_DIR_ENV, str(tmp_path / "my-config"))
    return tmp_path / "my-config"


def _files_hold(root, text: str) -> list[str]:
    return [str(f) for f in root.rglob("*") if f.is_file() and text.encode() in f.read_bytes()]


def test_the_key_is_created_outside_the_project_owner_only(no_env_key, tmp_path):
    p = make_paths(make_project(tmp_path / "project"))
    key = privacy.get_key(p)
    path = privacy.key_path(p)
    assert path.is_file() and path.parent == no_env_key and not path.is_relative_to(p.root)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert privacy.get_key(p) == key, "the same key on every use"
    assert _files_hold(p.root, key.decode()) == []


def test_a_copied_project_without_the_key_cannot_reverse_a_pseudonym(no_env_key, tmp_path, monkeypatch):
    p = make_paths(make_project(tmp_path / "project"))
    pseudonym = privacy.pseudonyms(["A1"], privacy.get_key(p), "E06000004")[0]
    shutil.copytree(p.root, tmp_path / "copy", symlinks=True)
    monkeypatch.setenv(privacy.KEY_DIR_ENV, str(tmp_path / "someone-else"))  # another person's machine
    copy = make_paths(tmp_path / "copy")
    assert _files_hold(copy.root, privacy.get_key(p).decode()) == []
    theirs = privacy.get_key(copy)
    assert theirs != privacy.get_key(p)
    assert privacy.pseudonyms(["A1"], theirs, "E06000004")[0] != pseudonym, "their key gives other pseudonyms: ours cannot be reversed"


def test_a_key_left_in_the_project_by_an_older_version_is_moved_out(no_env_key, tmp_path):
    p = make_paths(make_project(tmp_path / "project"))
    legacy = p.root / privacy.LEGACY_KEY_FILE
    legacy.parent.mkdir(parents=True)
    legacy.write_text("an-older-key-0123456789abcdef\n")
    assert privacy.get_key(p) == b"an-older-key-0123456789abcdef", "the same key, so the same pseudonyms"
    assert not legacy.exists() and privacy.key_path(p).is_file()
