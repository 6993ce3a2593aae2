"""The stages layer: one analysis/stages module per rules file, each rule's script a call of its
run_<rule>(cfg, input, output, wildcards), and the provenance every stage shares (stage_run)."""
from __future__ import annotations

import importlib
import re

import pytest

from analysis.core.provenance import meta_path, read_meta, sha256, stage_run

from .conftest import REPO

RULES = REPO / "workflow" / "rules"
CALL = "(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)"


def rules_with_scripts() -> list[tuple[str, str, str]]:
    """(rules file, rule, script name) of every rule that runs a script."""
    found = []
    for smk in sorted(RULES.glob("*.smk")):
        for rule, script in re.findall(r'^rule (\w+):\n(?:    .*\n|\n)*?    script:\n\s+"\.\./scripts/(\w+)\.py"',
                                       smk.read_text(), re.M):
            found.append((smk.stem, rule, script))
    return found


def test_every_rules_file_with_scripts_was_found():
    assert {smk for smk, _, _ in rules_with_scripts()} == {"generate", "skim", "match", "split", "train",
                                                           "baselines", "imported", "evaluate", "qg"}
    assert len(rules_with_scripts()) == 24


@pytest.mark.parametrize(("smk", "rule", "script"), rules_with_scripts())
def test_a_rules_script_calls_its_stage_and_builds_no_path(smk, rule, script):
    """workflow/rules/<smk>.smk rule <rule> -> workflow/scripts/<rule>.py -> analysis.stages.<smk>.run_<rule>,
    which gets the rule's own files: no script rebuilds a path."""
    assert script == rule
    text = (REPO / "workflow" / "scripts" / f"{script}.py").read_text()
    assert f"from analysis.stages.{smk} import run_{rule}\n" in text
    assert f"run_{rule}{CALL}" in text
    assert "paths" not in text and len(text.splitlines()) <= 15
    assert callable(getattr(importlib.import_module(f"analysis.stages.{smk}"), f"run_{rule}"))


def test_stage_run_sweeps_first_and_writes_the_sidecars_of_a_finished_block(tmp_path):
    source, first, second = tmp_path / "in.txt", tmp_path / "a.json", tmp_path / "b.json"
    source.write_text("input")
    stale = tmp_path / ".a.json.tmp-17"
    stale.write_text("a killed job's")
    with stage_run("t", "stage", {"k": 1}, [first, second], inputs=[source]) as run:
        assert not stale.exists()
        first.write_text("1")
        second.write_text("2")
        run.record(second, extra={"own": True})
        run.extra = {"shared": True}
    meta = read_meta(first)
    assert (meta["stage"], meta["tag"], meta["config"], meta["shared"]) == ("stage", "t", {"k": 1}, True)
    assert meta["inputs"] == {str(source): sha256(source)} and meta["sha256"] == sha256(first)
    assert read_meta(second)["own"] and "shared" not in read_meta(second)


def test_stage_run_writes_no_sidecar_when_its_block_fails(tmp_path):
    output = tmp_path / "a.json"
    with pytest.raises(RuntimeError), stage_run("t", "stage", {}, [output]):
        output.write_text("half")
        raise RuntimeError("failed")
    assert not meta_path(output).exists()
