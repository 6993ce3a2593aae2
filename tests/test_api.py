"""The one-call API and `ttjpa apply`: a model.pt as training writes it, applied to raw jets in any
order, agrees with the workflow's batched prediction on the padded arrays it builds itself;
files that cannot work are refused with their name and the fix."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import torch

from analysis import __version__, api, cli
from analysis.core.training import CheckpointError, TrainingSettings, train
from analysis.datasets import Table, target_labels, write_h5
from analysis.events.delphes import open_tree, read
from analysis.methods import networks
from analysis.topology import TOPOLOGY

from .conftest import REPO

COFFEA = Path(__file__).parent / "samples" / "coffea_delphes.root"
PT_MIN, ETA_MAX, MAX_JETS = 30.0, 2.4, 20
HYPERPARAMETERS = {
    "saja": {"features": ["log_pt", "log_energy", "log_mass", "eta", "cos_dphi", "sin_dphi", "btag"],
             "scaling": "standard", "pairwise": ["log_mass", "log_delta_r"], "decoding": "assignment",
             "d_k": 4, "heads": 2, "d_ffn": 16, "blocks": 1},
    "spanet": {"features": ["pt", "eta", "phi", "pt_ht", "btag"], "d_model": 8, "heads": 2, "d_ffn": 16, "blocks": 1,
               "d_tensor": 4},
}
"""A SAJA on derived and pairwise inputs, a SPA-NET reading pt_ht (which the API computes)."""


def random_jets(n_events: int, seed: int, min_jets: int = 0) -> ak.Array:
    """Unordered jets, some below the pT cut or beyond the eta cut, some events with more jets
    passing them than the model takes, some with fewer than six."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(min_jets, 35, n_events)
    total = int(counts.sum())
    flat = {"pt": rng.exponential(60, total) + 20, "eta": rng.uniform(-2.8, 2.8, total),
            "phi": rng.uniform(-np.pi, np.pi, total), "mass": rng.uniform(0, 30, total)}
    fields = {k: v.astype(np.float32) for k, v in flat.items()} | {"btag": rng.integers(0, 2, total).astype(np.int32)}
    return ak.unflatten(ak.zip(fields), counts)


def padded_inputs(jets: ak.Array, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """(x, mask, pt, the jets' original indices) as the datasets hold events, one event at a time:
    the jets within the cuts, the MAX_JETS leading in pT, pt_ht over all jets within the cuts."""
    n = len(jets)
    x, mask, pt = np.zeros((n, MAX_JETS, len(columns)), np.float32), np.zeros((n, MAX_JETS), bool), \
        np.zeros((n, MAX_JETS), np.float32)
    origins = []
    for e, event in enumerate(ak.to_list(jets)):
        kept = [i for i, jet in enumerate(event) if jet["pt"] > PT_MIN and abs(jet["eta"]) < ETA_MAX]
        kept = sorted(kept, key=lambda i: -event[i]["pt"])
        ht = np.float32(np.sum([np.float64(event[i]["pt"]) for i in kept]))
        origins.append(kept[:MAX_JETS])
        for j, i in enumerate(origins[-1]):
            jet = event[i] | {"pt_ht": np.float32(event[i]["pt"]) / ht}
            x[e, j] = [jet[c] for c in columns]
            mask[e, j], pt[e, j] = True, jet["pt"]
    return x, mask, pt, origins


@pytest.fixture(scope="module", params=sorted(HYPERPARAMETERS))
def model_file(request, tmp_path_factory) -> Path:
    """A model.pt as the training stage writes it (one epoch on random events)."""
    architecture, hp = request.param, HYPERPARAMETERS[request.param]
    torch.manual_seed(0)
    network = networks.build(architecture, hp)
    x, mask, pt, _ = padded_inputs(random_jets(64, seed=1, min_jets=14), network.inputs.columns)
    rng = np.random.default_rng(2)
    targets = np.stack([rng.permutation(int(n))[:len(TOPOLOGY.slots)] for n in mask.sum(axis=1)])
    network.inputs.fit(torch.from_numpy(x), torch.from_numpy(mask))
    method = networks.adapter(architecture)
    data = {"x": x, "mask": mask, "jet_pt": pt, "targets": targets, "jet_label": target_labels(targets, mask, TOPOLOGY)}
    tensors = method.tensors(data, method.hyperparameters(**hp), TOPOLOGY)
    out = tmp_path_factory.mktemp(architecture)
    train(network, method.loss, tensors, tensors, TrainingSettings(batch_size=32, max_epochs=1, device="cpu",
                                                                   progress=False), out,
          extra=networks.artifact_fields(architecture, hp, network, MAX_JETS, PT_MIN, ETA_MAX),
          provenance={"version": __version__, "config_hash": "0" * 64})
    return out / "model.pt"


def test_model_file_describes_itself(model_file):
    model = api.load(model_file)
    assert model.saved["classes"] == list(TOPOLOGY.class_names) and model.slots == TOPOLOGY.slot_names
    assert model.columns == model.network.inputs.columns and model.max_jets == MAX_JETS
    assert model.saved["version"] == __version__
    assert model.score_name in ("predictive entropy", "-log P(assignment)")


def test_assign_agrees_with_predict_on_the_padded_arrays(model_file):
    model = api.load(model_file)
    jets = random_jets(300, seed=3)
    out = model.assign(jets, batch_size=64)
    x, mask, pt, origins = padded_inputs(jets, model.columns)
    assert mask.sum(axis=1).max() == MAX_JETS and (mask.sum(axis=1) < 6).any(), "truncated and short events"
    slots, valid, score, _ = networks.predict(model.network, model.architecture, x, mask, pt)
    expected = np.array([[origin[s] if 0 <= s < len(origin) else -1 for s in row]
                         for row, origin in zip(slots.tolist(), origins, strict=True)])
    got = np.stack([ak.to_numpy(out.jets[slot]) for slot in TOPOLOGY.slot_names], axis=1)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(ak.to_numpy(out.valid), valid)
    np.testing.assert_array_equal(ak.to_numpy(out.score), score)
    assert valid.any() and ak.parameters(out.score)["__doc__"] == model.score_name


def test_assign_is_blind_to_the_order_of_the_jets(model_file):
    """The indices refer to the caller's order: shuffled jets give the same jets, valid and score."""
    model = api.load(model_file)
    jets = random_jets(200, seed=4)
    rng = np.random.default_rng(5)
    orders = [rng.permutation(n) for n in ak.to_numpy(ak.num(jets))]
    shuffled = jets[ak.Array(orders)]
    a, b = model.assign(jets), model.assign(shuffled)
    np.testing.assert_array_equal(ak.to_numpy(a.valid), ak.to_numpy(b.valid))
    np.testing.assert_array_equal(ak.to_numpy(a.score), ak.to_numpy(b.score))
    for slot in TOPOLOGY.slot_names:
        back = [order[i] if i >= 0 else -1 for order, i in zip(orders, ak.to_list(b.jets[slot]), strict=True)]
        assert back == ak.to_list(a.jets[slot])


def test_missing_jet_fields_are_named_with_the_model_file(model_file):
    model = api.load(model_file)
    jets = random_jets(5, seed=6)
    with pytest.raises(api.JetInputError, match=rf"{model_file}: no field\(s\) \['btag'\]"):
        model.assign(jets[["pt", "eta", "phi", "mass"]])
    with pytest.raises(api.JetInputError, match="an awkward array of events, each a list of jet records"):
        model.assign(jets.pt)


@pytest.mark.parametrize("change", ["classes", "slots", "max_jets"])
def test_a_model_file_of_another_topology_or_without_its_description_is_refused(model_file, tmp_path, change):
    saved = torch.load(model_file, weights_only=True)
    if change == "max_jets":
        del saved[change]
    else:
        saved[change] = saved[change][::-1]
    path = tmp_path / "model.pt"
    torch.save(saved, path)
    expected = "lacks \\['max_jets'\\]" if change == "max_jets" else f"trained with the jet {change}"
    with pytest.raises(CheckpointError, match=rf"{path}: {expected}.*retrain"):
        api.load(path)


# ----------------------------------------------------------------------------- the command line


def test_version_is_the_package_version_and_the_console_script_is_declared(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"ttjpa {__version__}\n"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"ttjpa": "analysis.cli:main"}
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "analysis.__version__"}


def test_every_argument_has_help():
    parser = cli._parser()
    commands = parser._subparsers._group_actions[0].choices
    for action in [*parser._actions, *(a for p in commands.values() for a in p._actions)]:
        assert action.help, f"{action.dest} has no help text"


def test_apply_on_a_real_delphes_file(model_file, tmp_path, capsys):
    output = tmp_path / "out" / "assignments.parquet"
    assert cli.main(["apply", str(model_file), str(COFFEA), "--output", str(output), "--device", "cpu"]) == 0
    out = ak.from_parquet(output)
    jets = read(COFFEA, {"Jet": ("PT", "Eta"), "Event": ("Number",)})
    assert len(out) == open_tree(COFFEA).num_entries == 25
    assert ak.to_list(out.event) == ak.to_list(jets["Event"].Number[:, 0])
    n_jets = ak.to_numpy(ak.num(jets["Jet"]))
    np.testing.assert_array_equal(ak.to_numpy(out.n_jets), n_jets)
    index = np.stack([ak.to_numpy(out.jets[slot]) for slot in TOPOLOGY.slot_names], axis=1)
    assert ((index >= -1) & (index < n_jets[:, None])).all()
    valid = ak.to_numpy(out.valid)
    assert all(len(set(row)) == 6 and min(row) >= 0 for row in index[valid].tolist())
    line = capsys.readouterr().out
    assert line == f"{output}: 25 events, {valid.mean():.1%} with a valid assignment (score: " \
                   f"{api.load(model_file).score_name}, lower = more confident)\n"


def test_apply_on_a_dataset_of_the_split(model_file, tmp_path):
    """A .h5 the split writes: the same assignments as the API on its stored jets."""
    jets = random_jets(40, seed=7, min_jets=6)
    kept = jets[(jets.pt > PT_MIN) & (abs(jets.eta) < ETA_MAX)]
    kept = kept[ak.argsort(kept.pt, ascending=False)][:, :MAX_JETS]
    columns = ("pt", "eta", "phi", "mass", "btag")
    x, mask, _, _ = padded_inputs(kept, columns)
    inputs = {c: x[..., i] for i, c in enumerate(columns)} | {"MASK": mask}
    inputs["pt_ht"] = inputs["pt"] / inputs["pt"].sum(axis=1, keepdims=True)
    n = len(kept)
    table = Table(inputs, np.full((n, 6), -1), {"sample": np.zeros(n, np.int8), "event": np.arange(n) + 100})
    write_h5(tmp_path / "test.h5", table, {}, ["ttbar"], TOPOLOGY)
    output = tmp_path / "assignments.parquet"
    assert cli.main(["apply", str(model_file), str(tmp_path / "test.h5"), "--output", str(output)]) == 0
    out = ak.from_parquet(output)
    assert ak.to_list(out.event) == list(range(100, 100 + n))
    stored = kept[list(columns)]
    stored["pt_ht"] = ak.unflatten(inputs["pt_ht"][mask], mask.sum(axis=1))
    expected = api.load(model_file).assign(stored)
    assert ak.to_list(out.jets) == ak.to_list(expected.jets)
    np.testing.assert_array_equal(ak.to_numpy(out.score), ak.to_numpy(expected.score))


@pytest.fixture(params=["missing file", "missing model", "not a model", "not a dataset", "output is a directory"])
def bad_apply(request, model_file, tmp_path):
    """(arguments, exit code, the one line on stderr; `(*)`: h5py's words, whatever they are)."""
    missing, other = tmp_path / "nope.root", tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = [1.0]
    cases = {
        "missing file": ([model_file, missing], 1, f"error: {missing}: no such file (FILE); check the path"),
        "missing model": ([missing, COFFEA], 1, f"error: {missing}: no such file (MODEL); check the path"),
        "not a model": ([COFFEA, COFFEA], 1, f"error: {COFFEA}: not a file that torch.save wrote (no zip archive), "
                        "so not a model file of this workflow's training; point to "
                        "results/<tag>/models/<model>/model.pt"),
        "not a dataset": ([model_file, other], 1, f"error: {other}: not a dataset of this workflow, which holds "
                          "INPUTS/Source, TARGETS and EXTRA (*); give a train/val/test .h5 that its split wrote, or "
                          "a Delphes ROOT file"),
        "output is a directory": ([model_file, COFFEA], 2, f"error: --output {tmp_path}: is a directory; give a file "
                                  f"name, e.g. {tmp_path / 'assignments.parquet'}"),
    }
    paths, code, line = cases[request.param]
    output = tmp_path if request.param == "output is a directory" else tmp_path / "out.parquet"
    return ["apply", *map(str, paths), "--output", str(output)], code, line


def test_apply_refuses_bad_paths_in_one_line(bad_apply, tmp_path, capsys):
    argv, code, line = bad_apply
    assert cli.main(argv) == code
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and re.fullmatch(re.escape(line).replace(re.escape("(*)"), r"\(.+\)"), lines[0])
    assert out == ""
    assert not (tmp_path / "out.parquet").exists()
