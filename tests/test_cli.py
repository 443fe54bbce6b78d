"""The command line: help on every subcommand; bad input gives one clear line and exit 2."""

import subprocess
import sys

import pytest
from conftest import make_project

from analysis.cli import build_parser, main

SUBCOMMANDS = ["ingest", "check-data", "las", "summary", "run", "refresh", "index", "validate", "synth", "papers"]


def run_cli(args, root=None):
    env = None
    if root is not None:
        import os

        env = {**os.environ, "ANALYSIS_PROJECT_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "analysis.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def test_top_level_help_lists_every_command():
    out = run_cli(["--help"])
    assert out.returncode == 0
    for name in SUBCOMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: analysis " + name in capsys.readouterr().out


def test_parser_knows_every_subcommand():
    actions = [a for a in build_parser()._actions if a.dest == "command"]
    assert set(actions[0].choices) == set(SUBCOMMANDS)


def test_unknown_la_suggests_close_matches(built):
    p, _ = built
    out = run_cli(["summary", "--la", "Stokton-on-Tees"], root=p.root)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "Stockton-on-Tees (E06000004, 808)" in out.stderr


def test_summary_shows_published_figures(built):
    p, _ = built
    out = run_cli(["summary", "--la", "808"], root=p.root)
    assert out.returncode == 0, out.stderr
    assert "Stockton-on-Tees (E06000004, 808)" in out.stdout
    assert "per 10,000" in out.stdout


def test_missing_raw_file_is_one_line_naming_the_file(tmp_path):
    root = make_project(tmp_path, copy_raw=True)
    (root / "data/raw/public/dfe_cla/la_cla_placement_stability_2021_2025.csv").unlink()
    out = run_cli(["ingest"], root=root)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and out.stderr.startswith("error: ")
    assert "la_cla_placement_stability_2021_2025.csv" in out.stderr and "missing" in out.stderr


def test_renamed_column_in_a_new_drop_names_file_and_column(tmp_path):
    root = make_project(tmp_path, copy_raw=True)
    target = root / "data/raw/public/dfe_cla/la_cla_on_31_march_la_of_placement_netgain_2020_2024.csv"
    text = target.read_text(encoding="utf-8-sig")
    target.write_text(text.replace(",characteristic,", ",category,", 1), encoding="utf-8")
    assert run_cli(["check-data", "--write"], root=root).returncode == 0  # as a maintainer adding a file would
    out = run_cli(["ingest"], root=root)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "la_cla_on_31_march_la_of_placement_netgain_2020_2024.csv" in out.stderr and "'characteristic'" in out.stderr


def test_check_data_reports_a_changed_file(tmp_path):
    root = make_project(tmp_path, copy_raw=True)
    target = root / "data/raw/public/population_lookups/sn_model_2025_wide.csv"
    target.write_bytes(target.read_bytes() + b"\n")
    out = run_cli(["check-data"], root=root)
    assert out.returncode == 2 and "sn_model_2025_wide.csv" in out.stderr and "checksum differs" in out.stderr


@pytest.mark.parametrize("args", [["--workers", "0"], ["--workers", "-3"], ["--timeout", "0"], ["--workers", "two"]])
def test_worker_and_timeout_counts_are_checked(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "01", *args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and ("give 1 or more" in err or "not a whole number" in err), err


def test_a_closed_pipe_ends_quietly(built):
    """`analysis las | head -2` ended in a BrokenPipeError traceback (in a project with its processed data)."""
    import os
    import shutil
    from pathlib import Path

    exe = shutil.which("analysis") or str(Path(sys.executable).parent / "analysis")
    env = {**os.environ, "ANALYSIS_PROJECT_ROOT": str(built[0].root)}
    done = subprocess.run(f"'{exe}' las --all | head -2", shell=True, capture_output=True, text=True, timeout=300, env=env)
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
