"""The networks on the t tbar H topology (config/topology/tth_allhad.yaml): SAJA's six classes and
SPA-NET's two triplet heads and symmetric Higgs pair head; losses and decodings blind to every
symmetry of the topology, the always-valid decodings equal to an exhaustive search, the ONNX
graphs equal to torch, and both networks learning a planted rule."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from analysis import assignments, topology
from analysis.core.training import TrainingSettings, train
from analysis.datasets import target_labels
from analysis.methods import networks
from analysis.methods.decoding import best_valid_assignment
from analysis.methods.export import compare, export
from analysis.methods.saja import Saja, SajaHyperparameters, saja_loss
from analysis.methods.spanet import Spanet, SpanetHyperparameters, head_layout, resolve, resolve_jointly, spanet_loss
from analysis.topology import ROOT

TTH = topology.load(ROOT / "config" / "topology" / "tth_allhad.yaml")
FEATURES = ("pt", "eta", "phi", "mass", "btag")
SWAPS = {"t <-> tbar": [3, 4, 5, 0, 1, 2, 6, 7], "q <-> q' (top)": [0, 2, 1, 3, 4, 5, 6, 7],
         "q <-> q' (antitop)": [0, 1, 2, 3, 5, 4, 6, 7], "b <-> b (Higgs)": [0, 1, 2, 3, 4, 5, 7, 6]}


def spanet_model(seed: int = 0, **changes) -> Spanet:
    torch.manual_seed(seed)
    hp = SpanetHyperparameters(features=FEATURES, d_model=16, heads=2, d_ffn=32, blocks=1, d_tensor=8, dropout=0.0,
                               **changes)
    return Spanet(hp, TTH).eval()


def saja_model(seed: int = 0, **changes) -> Saja:
    torch.manual_seed(seed)
    hp = SajaHyperparameters(features=FEATURES, d_k=4, heads=2, d_ffn=32, blocks=1, dropout=0.0, **changes)
    return Saja(hp, TTH).eval()


def jets(n_events: int, n_jets: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    x = np.stack([rng.uniform(30, 300, (n_events, n_jets)), rng.uniform(-2.4, 2.4, (n_events, n_jets)),
                  rng.uniform(-np.pi, np.pi, (n_events, n_jets)), rng.uniform(4, 30, (n_events, n_jets)),
                  rng.integers(0, 2, (n_events, n_jets))], axis=-1).astype(np.float32)
    return torch.from_numpy(x), torch.ones(n_events, n_jets, dtype=torch.bool)


def test_heads_and_classes_follow_the_topology():
    assert head_layout(TTH) == (((0, 1, 2), 1), ((3, 4, 5), 1), ((6, 7), 0))
    x, mask = jets(3, 10)
    with torch.no_grad():
        top, antitop, higgs = spanet_model(triplet_masses=True)(x, mask)
        logits = saja_model()(x, mask)
    assert top.shape == antitop.shape == (3, 10, 10, 10) and higgs.shape == (3, 10, 10)
    torch.testing.assert_close(higgs, higgs.transpose(1, 2))  # b <-> b of the Higgs by construction
    torch.testing.assert_close(higgs.exp().flatten(1).sum(1), torch.ones(3))
    assert torch.isinf(higgs[:, torch.arange(10), torch.arange(10)]).all()  # two distinct jets
    assert logits.shape == (3, 10, 6)  # b1, W1, b2, W2, H, other


def truth_rows(n_events: int, n_jets: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([rng.permutation(n_jets)[:8] for _ in range(n_events)]))


def test_spanet_loss_is_blind_to_every_symmetry_and_masks_incomplete_particles():
    x, mask = jets(6, 10)
    with torch.no_grad():
        log_p = spanet_model()(x, mask)
    targets = truth_rows(6, 10, seed=1)
    targets[4, 6] = -1  # the Higgs not reconstructable
    targets[5, [0, 4]] = -1  # neither top
    reference = spanet_loss(log_p, targets, TTH)
    for name, order in SWAPS.items():
        torch.testing.assert_close(spanet_loss(log_p, targets[:, order], TTH), reference, msg=name)
    # event 5 (only the Higgs complete): its loss is -log(2 P(b b)) of the Higgs head
    alone = -(log_p[2][5, targets[5, 6], targets[5, 7]] + np.log(2))
    torch.testing.assert_close(spanet_loss([h[5:] for h in log_p], targets[5:], TTH), alone)


def test_saja_loss_is_blind_to_every_symmetry():
    x, mask = jets(5, 10)
    with torch.no_grad():
        logits = saja_model()(x, mask)
    targets = truth_rows(5, 10, seed=2)
    reference = None
    for name, order in {"none": list(range(8)), **SWAPS}.items():
        labels = torch.from_numpy(target_labels(targets[:, order].numpy(), mask.numpy(), TTH)).long()
        loss = saja_loss(logits, labels, mask, TTH)
        reference = loss if reference is None else reference
        torch.testing.assert_close(loss, reference, msg=name)


def slot_gain(log_p: np.ndarray, rows: np.ndarray) -> np.ndarray:
    event = np.arange(len(rows))[:, None]
    return (log_p[event, rows, list(TTH.slot_classes)] - log_p[event, rows, TTH.other_class]).sum(axis=1)


def test_always_valid_decoding_equals_the_exhaustive_search():
    rng = np.random.default_rng(3)
    n_jets = 9
    logits = rng.normal(scale=2.0, size=(30, n_jets, 6))
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    pt = rng.uniform(30, 300, size=(30, n_jets))
    slots, valid = (t.numpy() for t in best_valid_assignment(torch.from_numpy(log_p), torch.ones(30, n_jets, dtype=torch.bool),
                                                              torch.from_numpy(pt), TTH))
    assert valid.all() and all(len(set(row)) == 8 for row in slots.tolist())
    every = np.array(list(itertools.permutations(range(n_jets), 8)))
    best = np.array([slot_gain(np.repeat(log_p[e:e + 1], len(every), axis=0), every).max() for e in range(30)])
    np.testing.assert_allclose(slot_gain(log_p, slots), best, rtol=1e-10)
    rows = np.arange(30)
    for a, b in ((1, 2), (4, 5), (6, 7)):  # the harder parton first in each interchangeable pair
        assert (pt[rows, slots[:, a]] >= pt[rows, slots[:, b]]).all()


def test_heads_choose_in_order_of_confidence_without_sharing_jets():
    n = 9
    top = torch.full((1, n, n, n), -40.0)
    antitop = torch.full((1, n, n, n), -40.0)
    higgs = torch.full((1, n, n), -40.0)
    top[0, 0, 1, 2] = top[0, 0, 2, 1] = np.log(0.2)
    antitop[0, 3, 4, 5] = antitop[0, 3, 5, 4] = np.log(0.3)
    higgs[0, 0, 6] = higgs[0, 6, 0] = np.log(0.45)  # the most confident, wants top's b jet 0
    higgs[0, 7, 8] = higgs[0, 8, 7] = np.log(0.04)
    top[0, 7, 1, 2] = top[0, 7, 2, 1] = np.log(0.1)  # top's best without jet 0
    (t, tbar, h), lp = resolve([top, antitop, higgs])
    assert set(h[0].tolist()) == {0, 6} and tbar[0].tolist()[0] == 3 and set(tbar[0, 1:].tolist()) == {4, 5}
    assert t[0, 0] == 7 and set(t[0, 1:].tolist()) == {1, 2}
    np.testing.assert_allclose(lp[0].numpy(), np.log([0.2, 0.6, 0.9]), rtol=1e-5)


def test_joint_choice_gives_up_the_most_confident_head_when_the_event_gains():
    """The greedy case above with a better Higgs pair (7, 8): the top keeping its b jet 0 and the
    Higgs taking (7, 8) (0.2 x 0.3 x 0.3) beats the greedy choice (0.45 x 0.3 x 0.1)."""
    n = 9
    top, antitop, higgs = torch.full((1, n, n, n), -40.0), torch.full((1, n, n, n), -40.0), torch.full((1, n, n), -40.0)
    top[0, 0, 1, 2] = top[0, 0, 2, 1] = np.log(0.2)
    top[0, 7, 1, 2] = top[0, 7, 2, 1] = np.log(0.1)
    antitop[0, 3, 4, 5] = antitop[0, 3, 5, 4] = np.log(0.3)
    higgs[0, 0, 6] = higgs[0, 6, 0] = np.log(0.45)
    higgs[0, 7, 8] = higgs[0, 8, 7] = np.log(0.3)
    assert resolve([top, antitop, higgs])[0][2][0].tolist() == [0, 6]
    (t, tbar, h), lp = resolve_jointly([top, antitop, higgs], head_layout(TTH))
    assert t[0].tolist()[0] == 0 and set(t[0, 1:].tolist()) == {1, 2} and set(h[0].tolist()) == {7, 8}
    np.testing.assert_allclose(lp[0].numpy(), np.log([0.4, 0.6, 0.6]), rtol=1e-5)


def test_joint_decoding_equals_the_exhaustive_search():
    """With every unordered tuple kept (K = 168 triplets at 8 jets) the joint decoding is the best
    of all 8! ways to fill the eight slots with the eight jets."""
    with torch.no_grad():
        x, mask = jets(4, 8, seed=6)
        log_p = spanet_model(seed=1)(x, mask)
    (top, antitop, higgs), _ = resolve_jointly(log_p, head_layout(TTH), combinations=168 ** 3)
    every = torch.tensor(list(itertools.permutations(range(8))))
    rows = torch.arange(4)
    best = torch.stack([(log_p[0][e, every[:, 0], every[:, 1], every[:, 2]] + log_p[1][e, every[:, 3], every[:, 4], every[:, 5]]
                         + log_p[2][e, every[:, 6], every[:, 7]]).max() for e in range(4)])
    found = log_p[0][rows, *top.T] + log_p[1][rows, *antitop.T] + log_p[2][rows, *higgs.T]
    torch.testing.assert_close(found, best)
    assert all(len(set(row)) == 8 for row in torch.cat([top, antitop, higgs], dim=1).tolist())


@pytest.mark.parametrize("architecture", ["saja", "spanet", "spanet_joint"])
def test_onnx_graph_assigns_as_torch(architecture, tmp_path):
    model = {"saja": lambda: saja_model(decoding="assignment"), "spanet": lambda: spanet_model(triplet_masses=True),
             "spanet_joint": lambda: spanet_model(triplet_masses=True, decoding="assignment")}[architecture]()
    architecture = architecture.removesuffix("_joint")
    x, mask = jets(40, 11, seed=4)
    mask[:5, 9:] = False  # events of 9 jets
    model.inputs.fit(x, mask)
    export(model, architecture, tmp_path / "model.onnx")
    check = compare(model, architecture, tmp_path / "model.onnx", x.numpy(), mask.numpy())
    assert check["assignments_differing"] == 0 and check["max_abs_probability_difference"] < 1e-4


def planted(n: int, n_jets: int, seed: int) -> dict:
    """Events whose decay products carry their particle in a feature: jets of the top 1, the
    top 2 and the Higgs are flagged 1, -1 and 2, the b jets marked by a second feature."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, n_jets, 5)).astype(np.float32)
    targets = np.stack([rng.permutation(n_jets)[:8] for _ in range(n)])
    rows = np.arange(n)[:, None]
    x[..., 4] = 0.0
    x[rows, targets[:, :3], 4], x[rows, targets[:, 3:6], 4], x[rows, targets[:, 6:], 4] = 1.0, -1.0, 2.0
    x[rows, targets[:, [0, 3, 6, 7]], 3] = 2.0
    mask = np.ones((n, n_jets), bool)
    return {"x": x, "mask": mask, "targets": targets, "jet_pt": x[..., 0], "category": np.zeros(n, np.int8),
            "jet_label": target_labels(targets, mask, TTH)}


@pytest.mark.parametrize("architecture", ["saja", "spanet"])
def test_learns_a_planted_rule(architecture, tmp_path):
    data = planted(400, 9, seed=0)
    hp = {"features": ["pt", "eta", "phi", "pt_ht", "btag"], "dropout": 0.0, "d_ffn": 32, "blocks": 1, "heads": 2}
    hp.update({"d_k": 8, "decoding": "assignment"} if architecture == "saja" else {"d_model": 16, "d_tensor": 8})
    torch.manual_seed(0)
    model = networks.build(architecture, hp, TTH)
    method = networks.adapter(architecture)
    tensors = method.tensors(data, method.hyperparameters(**hp), TTH)
    settings = TrainingSettings(batch_size=64, learning_rate=3e-3, max_epochs=40, early_stopping=40, device="cpu",
                                progress=False)
    train(model, method.loss, tensors, tensors, settings, tmp_path)
    slots, valid, score, _ = networks.predict(model.eval(), architecture, data["x"], data["mask"], data["jet_pt"])
    assert valid.all() and np.isfinite(score).all()
    assert assignments.correct(slots, data["targets"], TTH).mean() > 0.9


@pytest.mark.parametrize("hyperparameters", [SpanetHyperparameters, SajaHyperparameters])
def test_an_unknown_decoding_is_refused_by_name(hyperparameters):
    with pytest.raises(ValueError, match="decoding 'joint'"):
        hyperparameters(features=FEATURES, decoding="joint")
