"""check-input certifies only what the workflow can read: files truncated by a copy, a corrupt
basket, a file Delphes never closed and NaN jets are each one line naming the file, the cause and
the fix, the same line the stages give; and every failure of the command line is one line and a
non-zero exit, never a traceback."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from analysis import cli, inspect
from analysis.events.delphes import JET_KINEMATICS, DelphesInputError, iterate, read
from analysis.inspect import check_file, write_report
from analysis.partons import PARTON_FIELDS
from analysis.selection import Layout, SkimError
from analysis.stages import generate as generate_stage
from analysis.stages.skim import run_skim

from .conftest import REPO, files_config
from .delphes_builders import write_collections, write_unclosed

NAN_EVENT = 123


def truncated(source: Path, path: Path, fraction: float) -> Path:
    """A copy cut short, as by a failed transfer or a full disk."""
    shutil.copyfile(source, path)
    os.truncate(path, int(source.stat().st_size * fraction))
    return path


def corrupt_basket(source: Path, path: Path, branch: str, basket: int) -> tuple[int, int]:
    """A copy with 64 bytes of one compressed basket of `branch` overwritten (a bad disk block);
    returns the basket's entries [first, stop)."""
    shutil.copyfile(source, path)
    found = uproot.open(source)["Delphes"][branch]
    seek = int(found.member("fBasketSeek")[basket])
    data = bytearray(path.read_bytes())
    nbytes, _, objlen, _, keylen = struct.unpack_from(">ihiIh", data, seek)  # the basket's TKey
    assert nbytes - keylen < objlen, "the basket is not compressed: nothing to corrupt"
    data[seek + keylen + 9 + 16:seek + keylen + 9 + 80] = b"\xff" * 64  # past ROOT's 9-byte block header
    path.write_bytes(bytes(data))
    return tuple(int(e) for e in found.basket_entry_start_stop(basket))


def with_nan_jet(source: Path, path: Path, event: int) -> Path:
    """What the skim reads of `source`, with the first jet's pT of `event` set to NaN."""
    arrays = read(source, {"Event": ("Number", "Weight"), "Jet": JET_KINEMATICS, "Particle": PARTON_FIELDS})
    jets = arrays["Jet"]
    counts = ak.to_numpy(ak.num(jets.PT))
    assert counts[event] > 0
    pt = ak.to_numpy(ak.flatten(jets.PT)).copy()
    pt[counts[:event].sum()] = np.nan
    arrays["Jet"] = ak.with_field(jets, ak.unflatten(pt, counts), "PT")
    return write_collections(path, arrays)


# ----------------------------------------------------------------------------- bad files


def expected_truncated(path: Path, source: Path, percent: int) -> str:
    return (f"{path}: truncated: {path.stat().st_size} of {source.stat().st_size} bytes on disk ({percent} %). "
            "Re-copy it or rerun Delphes for it.")


@pytest.fixture
def truncated_50(tmp_path, ttbar_file):
    path = truncated(ttbar_file, tmp_path / "half.root", 0.5)
    return path, expected_truncated(path, ttbar_file, 50)


@pytest.fixture
def truncated_90(tmp_path, ttbar_file):
    path = truncated(ttbar_file, tmp_path / "most.root", 0.9)
    return path, expected_truncated(path, ttbar_file, 90)


@pytest.fixture
def unclosed(tmp_path, ttbar_file):
    path = write_unclosed(ttbar_file, tmp_path / "unclosed.root")
    return path, (f"{path}: was not closed: its header has no key list (ROOT writes it when the file is closed), "
                  f"though the file holds {path.stat().st_size} bytes. Delphes (or the copy) did not finish; "
                  "rerun it.")


@pytest.fixture
def nan_jets(tmp_path, ttbar_file):
    path = with_nan_jet(ttbar_file, tmp_path / "nan.root", NAN_EVENT)
    return path, (f"{path}: Jet.PT has 1 NaN or infinite value(s), first in event number {NAN_EVENT}. The file is "
                  "damaged or was written by a faulty job: regenerate it or remove it from the sample.")


@pytest.fixture
def corrupt_jet_pt(tmp_path, ttbar_file):
    """The last basket, so the entries named are not simply the first ones."""
    path = tmp_path / "corrupt.root"
    baskets = uproot.open(ttbar_file)["Delphes"]["Jet/Jet.PT"].num_baskets
    first, stop = corrupt_basket(ttbar_file, path, "Jet/Jet.PT", baskets - 1)
    assert first > 0
    return path, (f"{path}: corrupt basket in branch Jet/Jet.PT at entries {first}-{stop - 1} (zlib.error: Error -3 "
                  "while decompressing data")


BAD = ["truncated_50", "truncated_90", "unclosed", "nan_jets", "corrupt_jet_pt"]


def assert_same(error: str, expected: str) -> None:
    """Exact, but for the corrupt basket whose decompressor's words follow the cause."""
    if expected.endswith("decompressing data"):
        assert error.startswith(expected), error
        assert error.endswith("). Re-copy the file, or rerun Delphes for it if the original is damaged too."), error
    else:
        assert error == expected


@pytest.mark.parametrize("bad", BAD)
def test_check_input_names_file_cause_and_fix(bad, request, ttbar_file, capsys):
    path, expected = request.getfixturevalue(bad)
    assert not check_file(path).usable
    assert_same(check_file(path).error, expected)
    assert cli.main(["check-input", str(ttbar_file), str(path)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"OK {ttbar_file}: 1000 events\n"), "a good file beside a bad one is still OK"
    [line] = err.splitlines()
    assert line.startswith("UNUSABLE ")
    assert_same(line.removeprefix("UNUSABLE "), expected)
    assert "Traceback" not in out + err


@pytest.mark.parametrize("bad", ["truncated_50", "truncated_90", "unclosed", "corrupt_jet_pt"])
def test_every_stage_reads_the_same_verdict(bad, request):
    """The checks live in the one reader (open_tree, read_tree), so the skim's stream stops with
    check-input's words, not with uproot's."""
    path, expected = request.getfixturevalue(bad)
    with pytest.raises(DelphesInputError) as err:
        for _ in iterate([path], Layout(jet_extras=(), has_particles=True).spec(), step_size=300):
            pass
    assert_same(str(err.value), expected)


def test_skim_refuses_nan_jets_in_the_same_words(tmp_path, nan_jets):
    path, expected = nan_jets
    cfg = files_config(tmp_path, {"ttbar": path})
    with pytest.raises(SkimError) as err:
        run_skim(cfg, {"files": [path]}, {"skim": tmp_path / "skim.parquet", "cutflow": tmp_path / "cutflow.json"},
                 {"sample": "ttbar"})
    assert str(err.value) == expected


def test_scan_reads_every_entry_past_the_census(tmp_path, ttbar_file, monkeypatch):
    """A damaged Particle basket after the events the parton finder looks at is still found,
    and small steps find the same NaN event (memory is bounded by the step, not the file)."""
    monkeypatch.setattr(inspect, "PARTON_CENSUS_EVENTS", 100)
    path = tmp_path / "particles.root"
    first, stop = corrupt_basket(ttbar_file, path, "Particle/Particle.PT", 1)
    assert first >= 100
    assert check_file(path).error.startswith(
        f"{path}: corrupt basket in branch Particle/Particle.PT at entries {first}-{stop - 1} (zlib.error")
    nan_path = with_nan_jet(ttbar_file, tmp_path / "nan.root", NAN_EVENT)
    whole = check_file(nan_path).error
    monkeypatch.setattr(inspect, "SCAN_STEP", 64)
    monkeypatch.setattr(inspect, "RECORD_SCAN_STEP", 32)
    assert check_file(nan_path).error == whole
    assert check_file(ttbar_file).usable


def test_sample_with_a_bad_file_is_refused_naming_it(tmp_path, ttbar_file, truncated_90):
    path, expected = truncated_90
    output = tmp_path / "check_input.json"
    with pytest.raises(DelphesInputError) as err:
        write_report([ttbar_file, path], output, sample="user")
    assert str(err.value) == f"sample 'user' has unusable input files:\n{expected}"
    assert not output.exists()


# ----------------------------------------------------------------------------- the command line


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def generate_args(config: Path | str = REPO / "config" / "test.yaml", sample: str = "qcd", chunk: str = "0",
                  output: Path | str = "unused.root") -> list[str]:
    return ["generate", "--config", str(config), "--sample", sample, "--chunk", chunk, "--output", str(output)]


def broken(text: str, line: int, replacement: str) -> str:
    lines = text.splitlines()
    lines[line - 1] = replacement
    return "\n".join(lines) + "\n"


def test_yaml_syntax_error_names_the_config_and_the_line(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(broken((REPO / "config" / "test.yaml").read_text(), 3, "seed: 1: 2"))
    code, _, err = run(capsys, *generate_args(config))
    assert code == 2
    assert err == (f"error: {config}: YAML syntax error at line 3, column 8: mapping values are not allowed here. "
                   "Fix the syntax there.\n")


def test_yaml_syntax_error_in_the_detector_card_names_the_card(tmp_path, capsys):
    card = tmp_path / "card.yaml"
    card.write_text(broken((REPO / "config" / "detector_cms.yaml").read_text(), 2, "  - ["))
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**raw, "detector_card": str(card)}))
    code, _, err = run(capsys, *generate_args(config))
    assert code == 2
    assert err.startswith(f"error: {card}: YAML syntax error at line ")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(("args", "expected"), [
    (dict(sample="nope"), "no generated sample 'nope'; have ['dijet', 'dijet_vincia', 'qcd', 'ttbar', 'ttbar_a14']"),
    (dict(chunk="99"), "sample 'qcd' has chunks 0 to 1 (its `chunks` times its pT-hat bins), not 99"),
    (dict(chunk="-1"), "sample 'qcd' has chunks 0 to 1 (its `chunks` times its pT-hat bins), not -1"),
    (dict(config="missing.yaml"), "config file missing.yaml not found"),
])
def test_config_and_sample_errors_are_one_line(capsys, args, expected):
    code, _, err = run(capsys, *generate_args(**args))
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith("error: ") and line.endswith(expected)


def test_config_that_is_a_folder(tmp_path, capsys):
    code, _, err = run(capsys, *generate_args(config=tmp_path))
    assert (code, err) == (2, f"error: {tmp_path}: Is a directory; a config file is a readable YAML file\n")


def test_output_that_cannot_be_written_fails_before_generating(tmp_path, capsys, monkeypatch):
    def no_generation(*args, **kwargs):
        raise AssertionError("generation started")

    monkeypatch.setattr(generate_stage, "run_generate", no_generation)
    code, _, err = run(capsys, *generate_args(output=tmp_path))
    assert (code, err) == (2, f"error: --output {tmp_path}: is a directory; give a file name, e.g. "
                              f"{tmp_path}/events.root\n")
    (tmp_path / "plain").write_text("")
    code, _, err = run(capsys, *generate_args(output=tmp_path / "plain" / "x.root"))
    assert (code, err) == (2, f"error: --output {tmp_path}/plain/x.root: {tmp_path}/plain is a file, not a folder; "
                              "choose another --output\n")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere (`unshare -U` runs the tests without it)")
def test_output_folder_not_writable(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run(capsys, *generate_args(output=locked / "sub" / "x.root"))
    finally:
        locked.chmod(0o700)
    assert (code, err) == (2, f"error: --output {locked}/sub/x.root: the folder {locked} is not writable; choose "
                              "another --output or fix the folder's permissions\n")


def test_output_folder_still_missing_is_made(tmp_path, capsys):
    output = tmp_path / "new" / "folder" / "qcd.root"
    code, out, _ = run(capsys, *generate_args(chunk="1", output=output))
    assert code == 0 and output.exists()
    assert out.startswith(f"{output}: 200 events, sigma = ")  # one pT-hat bin of the test config's qcd


def test_interrupt_exits_130_without_traceback(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate_stage, "run_generate", interrupted)
    assert run(capsys, *generate_args()) == (130, "", "interrupted\n")
    monkeypatch.setattr(inspect, "check_file", interrupted)
    assert run(capsys, "check-input", "x.root") == (130, "", "interrupted\n")


def test_input_error_outside_a_report_is_one_line(capsys, monkeypatch):
    def refused(path, topology):
        raise DelphesInputError(f"{path}: refused. Fix it.")

    monkeypatch.setattr(inspect, "check_file", refused)
    assert run(capsys, "check-input", "x.root") == (1, "", "error: x.root: refused. Fix it.\n")


def test_reader_leaving_the_pipe_is_no_error(ttbar_file):
    """`check-input FILES | head`: stdout closed before the first report."""
    process = subprocess.Popen([sys.executable, "-m", "analysis", "check-input", str(ttbar_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1 and err == ""


def test_good_file_still_ok(ttbar_file, capsys):
    code, out, err = run(capsys, "check-input", str(ttbar_file))
    assert code == 0 and err == ""
    assert out.startswith(f"OK {ttbar_file}: 1000 events\n")
