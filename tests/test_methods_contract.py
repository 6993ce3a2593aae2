"""The contract every method of the registry keeps: a network builds, learns, assigns in the
common format and has the abilities the registry claims; a baseline assigns in the common
format from its calibration. Parametrised over analysis.methods.REGISTRY, so a new method is
tested by adding it there."""
from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
import torch

from analysis import assignments, methods, paths
from analysis.core.kinematics import cascade_masses, four_vectors
from analysis.evaluation.attention import block_attention
from analysis.evaluation.metrics import Events
from analysis.evaluation.summary import method_metrics
from analysis.methods.baselines import KINEMATICS
from analysis.methods.chi2 import fit_widths
from analysis.methods.networks import adapter, load_inputs, predict, select_rows
from analysis.methods.transfer_functions import fit_all
from analysis.topology import MATCHED, TOPOLOGY

from .conftest import REPO, SNAKEMAKE
from .test_workflow import ENV

pytestmark = pytest.mark.xdist_group("pipeline")


def common_format(slots, valid, score, n_jets):
    """Slots (events, 6) of distinct real jets where valid, a finite score there."""
    assert slots.shape == (len(n_jets), 6) and np.issubdtype(slots.dtype, np.integer)
    assert valid.dtype == bool and score.shape == (len(n_jets),)
    chosen = slots[valid]
    assert (chosen >= 0).all() and (chosen < n_jets[valid, None]).all()
    assert all(len(set(row)) == 6 for row in chosen.tolist())
    assert np.isfinite(score[valid]).all()


def round_trip(entry, data, slots, valid, score, probabilities, tmp_path):
    """Written and read as an assignment file, the metrics carry the registry's score name and
    abilities."""
    path = tmp_path / "assignments.parquet"
    sample = data["samples"][0]
    rows = data["sample"] == 0
    per_jet = None
    if probabilities is not None:
        import awkward as ak

        mask = data["mask"][rows]
        per_jet = ak.unflatten(probabilities[rows][mask], mask.sum(axis=1))
    assignments.write_sample(path, sample, data, slots, valid, score, per_jet)
    out = method_metrics(Events.from_table(assignments.read(path)), entry.score_name, [sample])
    assert out["score_name"] == entry.score_name
    assert out["network"] == entry.probabilities
    assert ("valid_vs_threshold" in out) == entry.probabilities


@pytest.mark.parametrize("architecture", methods.network_names())
def test_network_contract(architecture, pipeline, sets, tmp_path):
    entry, network = methods.get(architecture), adapter(architecture)
    spec = next((s for s in pipeline.cfg.models.values() if s.architecture == architecture), None)
    assert spec is not None, f"config/test.yaml has no {architecture} model: add a small one (the workflow test runs it)"
    hyperparameters = {"features": list(spec.features), **spec.hyperparameters}
    hp = network.hyperparameters(**hyperparameters)
    torch.manual_seed(0)
    model = network.build(hyperparameters, TOPOLOGY)
    train_data = load_inputs(sets["train"], model)
    model.inputs.fit(torch.from_numpy(train_data["x"]), torch.from_numpy(train_data["mask"]))
    rows = network.training_rows(train_data, hp, TOPOLOGY)
    assert rows.dtype == bool and 0 < rows.sum() <= len(rows)
    batch = {k: v[:64] for k, v in network.tensors(select_rows(train_data, rows), hp, TOPOLOGY).items()}
    before = network.loss(model.eval(), batch).item()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):
        optimiser.zero_grad()
        network.loss(model.train(), batch).backward()
        optimiser.step()
    assert network.loss(model.eval(), batch).item() < before

    test = load_inputs(sets["test"], model)
    slots, valid, score, probabilities = predict(model, architecture, test["x"], test["mask"], test["jet_pt"])
    common_format(slots, valid, score, test["mask"].sum(axis=1))
    if entry.probabilities:
        sums = probabilities.sum(axis=-1)[test["mask"]]
        np.testing.assert_allclose(sums, 1.0, atol=1e-5)
    round_trip(entry, test, slots, valid, score, probabilities if entry.probabilities else None, tmp_path)

    if entry.onnx:  # the graph holds the decoding: the same assignments as torch on every test event
        from analysis.methods.export import compare, export

        export(model, architecture, tmp_path / "model.onnx")
        check = compare(model, architecture, tmp_path / "model.onnx", test["x"], test["mask"])
        assert check["events"] == len(test["x"]) and check["assignments_differing"] == 0
        assert check["max_abs_probability_difference"] < 1e-4 and check["max_abs_score_difference"] < 1e-4
    assert hasattr(network, "attention") == entry.attention
    if entry.attention:
        x, mask = test["x"][:20], test["mask"][:20]
        for weights in block_attention(model.eval(), architecture, x, mask):
            assert weights.shape == (20, x.shape[1], x.shape[1])
            np.testing.assert_allclose(weights.sum(axis=-1)[mask], 1.0, atol=1e-4)


def calibration(kind: str, train: dict) -> dict:
    """The baseline's calibration as its workflow rule fits it on the matched training events."""
    from analysis.stages.baselines import response_pairs

    matched = train["category"] == MATCHED
    if kind == "chi2":
        p4 = four_vectors(*(train[k][matched] for k in ("pt", "eta", "phi", "mass")))
        w, top = cascade_masses(p4, train["targets"][matched], TOPOLOGY.cascade_slots)
        from analysis.methods.chi2 import Chi2Settings

        return fit_widths(top.ravel(), w.ravel(), Chi2Settings())
    pairs = response_pairs(train, train["samples"][0])
    return json.loads(json.dumps(fit_all(pairs["jet_energy"], pairs["parton_energy"], pairs["is_b"], pairs["eta"])))


@pytest.mark.parametrize("btag_aware", [True, False])
@pytest.mark.parametrize("kind", methods.baseline_names())
def test_baseline_contract(kind, btag_aware, pipeline, sets, tmp_path):
    entry = methods.get(kind)
    assert not entry.probabilities and not entry.onnx and not entry.attention
    from analysis.stages.baselines import raw_inputs

    assign, settings = entry.adapter().assigner(pipeline.cfg, calibration(kind, raw_inputs(sets["train"])), 6,
                                                btag_aware)
    assert json.loads(json.dumps(settings))["btag_aware"] is btag_aware  # the provenance says which variant ran
    test = raw_inputs(sets["test"])
    part = slice(0, 60)
    n_real = test["mask"][part].sum(axis=1)
    slots, score = assign({k: test[k][part] for k in KINEMATICS}, n_real)
    valid = np.isfinite(score)
    common_format(slots, valid, score, n_real)
    assert (slots[~valid] == -1).all()
    rows = np.zeros(len(test["x"]), bool)
    rows[part] = True
    data = select_rows(test, rows)
    round_trip(entry, data, slots, valid, score, None, tmp_path)


def test_schema_knows_every_network_of_the_registry():
    """The config schema's architecture choices and per-architecture hyperparameter sections are
    the registry's networks (the schema keeps the defaults, and snakemake reads it without torch)."""
    import yaml

    from analysis.config import SCHEMA
    from analysis.config.sections import DISPLAY_KEYS

    schema = yaml.safe_load(SCHEMA.read_text())
    models = schema["properties"]["models"]["additionalProperties"]
    assert models["properties"]["architecture"]["enum"] == methods.network_names()
    dispatched = [rule["if"]["properties"]["architecture"]["const"] for rule in models["allOf"]]
    assert dispatched == methods.network_names()
    for rule in models["allOf"]:
        name = rule["if"]["properties"]["architecture"]["const"]
        assert rule["then"]["$ref"] == f"#/$defs/{name}_model" and f"{name}_model" in schema["$defs"]
        section = schema["$defs"][f"{name}_model"]["properties"]
        fields = set(methods.get(name).adapter().hyperparameters.__dataclass_fields__) - {"features"}
        assert set(section) - {"architecture", "features", *DISPLAY_KEYS} == fields


def test_every_baseline_of_the_registry_has_what_the_rule_baseline_reads():
    """The rule `baseline` plans every baseline's jobs from its registry entry: a calibration file
    named by a function of analysis.paths, threads and memory."""
    for kind in methods.baseline_names():
        entry = methods.get(kind)
        assert entry.calibration is not None and callable(getattr(paths, entry.calibration, None)), kind
        assert paths.calibration_file("test", kind) == getattr(paths, entry.calibration)("test")
        assert entry.threads >= 1 and entry.mem_mb > 0, kind
    with pytest.raises(ValueError, match="'saja' is not a baseline"):
        paths.calibration_file("test", "saja")


def test_every_baseline_gets_its_jobs_from_the_one_rule(tmp_path, test_config):
    """A dry run of config/test.yaml plans each baseline method of the config (`<kind>_<N>`) as a
    job of the rule `baseline`, reading its kind's calibration file from the registry and the test
    set, with the registry's threads and mem_mb, writing its assignment files and log where the
    results expect them: a new baseline needs a registry entry, not a rule (only its calibration
    has a rule)."""
    result = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                             str(REPO / "config" / "test.yaml"), "--dry-run", "--cores", "64"],
                            capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:\n)", result.stdout)[1:]:
        rule = re.match(r"rule (\w+):", block).group(1)
        job = dict(re.findall(r"^    (\w+): (.*)$", block, re.M))
        assert rule not in methods.baseline_names(), f"baseline {rule!r} has a rule of its own"
        if rule == "baseline":
            jobs[job["wildcards"].removeprefix("baseline=")] = job
    tag, planned = test_config.tag, test_config.baseline_methods()
    assert {method.kind for method in planned.values()} == set(methods.baseline_names()), \
        "config/test.yaml must run every baseline of the registry (the workflow test runs it)"
    assert set(jobs) == set(planned)
    for name, job in jobs.items():
        entry = methods.get(planned[name].kind)
        assert job["input"].split(", ") == [getattr(paths, entry.calibration)(tag), paths.dataset_file(tag, "test")]
        assert job["output"].split(", ") == [paths.assignment_file(tag, name, sample) for sample in test_config.samples]
        assert job["log"] == f"{paths.results_dir(tag)}/logs/baselines/{name}.log"
        assert int(job.get("threads", 1)) == entry.threads, name
        resources = dict(item.split("=", 1) for item in job["resources"].split(", "))
        assert int(resources["mem_mb"]) == entry.mem_mb, name
