"""The networks' inputs (analysis.methods.inputs): the detector's symmetries, agreement with the
numpy kinematics, the paper's min-max scaling, and equivariance of the networks that use them."""
from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch

from analysis.core.kinematics import four_vectors, invariant_mass
from analysis.methods.inputs import PAIRWISE, JetInputs, input_columns, pair_mass_squared
from analysis.methods.networks import load_inputs
from analysis.methods.saja import Saja, SajaHyperparameters
from analysis.methods.spanet import Spanet, SpanetHyperparameters, triplet_log_masses

PHYSICS = ("log_pt", "log_energy", "log_mass", "eta", "cos_dphi", "sin_dphi", "btag")


RAW_COLUMNS = ("pt", "eta", "phi", "mass", "btag")


def in_order(raw: torch.Tensor, inputs: JetInputs) -> torch.Tensor:
    """The `jets()` columns in the order `inputs` reads them."""
    return raw[..., [RAW_COLUMNS.index(c) for c in inputs.columns]]


def jets(n_events: int = 16, n_jets: int = 9, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw (pt, eta, phi, mass, btag) jets, pT-ordered, 6 to n_jets real per event, zero-padded."""
    rng = np.random.default_rng(seed)
    pt = np.sort(rng.exponential(60, (n_events, n_jets)) + 30, axis=1)[:, ::-1]
    raw = np.stack([pt, rng.uniform(-2.4, 2.4, pt.shape), rng.uniform(-math.pi, math.pi, pt.shape),
                    rng.uniform(2, 25, pt.shape), rng.integers(0, 2, pt.shape)], axis=-1).astype(np.float32)
    mask = np.arange(n_jets)[None, :] < rng.integers(6, n_jets + 1, n_events)[:, None]
    return torch.from_numpy(raw * mask[..., None]), torch.from_numpy(mask)


def transformed(raw: torch.Tensor, rotation: float = 0.0, reflect: bool = False) -> torch.Tensor:
    out = raw.clone()
    out[..., 2] = torch.remainder(raw[..., 2] + rotation + math.pi, 2 * math.pi) - math.pi
    if reflect:
        out[..., 1] = -raw[..., 1]
    return out


def test_columns_are_what_the_features_need():
    assert input_columns(("pt", "eta", "phi", "pt_ht", "btag")) == ("pt", "eta", "phi", "pt_ht", "btag")
    assert input_columns(("log_pt", "cos_dphi", "btag"), ("log_mass",)) == ("btag", "pt", "phi", "eta", "mass")


@pytest.mark.parametrize("rotation, reflect", [(0.7, False), (-2.9, False), (0.0, True), (1.3, True)])
def test_pairwise_and_physics_features_respect_the_detector_symmetries(rotation, reflect):
    inputs = JetInputs(PHYSICS, "standard", PAIRWISE)
    raw, mask = jets()
    x, pairs = inputs(in_order(raw, inputs), mask)
    x2, pairs2 = inputs(in_order(transformed(raw, rotation, reflect), inputs), mask)
    torch.testing.assert_close(pairs2, pairs, atol=2e-4, rtol=1e-4)
    invariant = [i for i, f in enumerate(PHYSICS) if f != "eta" and not (reflect and f == "sin_dphi")]
    torch.testing.assert_close(x2[..., invariant], x[..., invariant], atol=2e-4, rtol=1e-4)
    assert torch.isfinite(pairs).all() and torch.isfinite(x).all()
    assert (pairs[~JetInputs.pair_mask(mask)] == 0).all() and (x[~mask] == 0).all()


def test_pair_and_triplet_masses_agree_with_the_four_vectors():
    raw, mask = jets(n_events=4, n_jets=7, seed=3)
    pt, eta, phi, mass = (raw[..., i] for i in range(4))
    p4 = four_vectors(*(v.double().numpy() for v in (pt, eta, phi, mass)))
    m2 = pair_mass_squared(pt.double(), eta.double(), phi.double(), mass.double()).numpy()
    inputs = JetInputs(("pt",), pairwise=(), four_momentum=True)
    log_m = triplet_log_masses(inputs, in_order(raw, inputs).double(), mask).numpy()
    for event in range(4):
        for i, j, k in [(0, 1, 2), (3, 5, 1), (6, 2, 4)]:
            if not mask[event, [i, j, k]].all():
                continue
            m_ij = invariant_mass(p4[event, i] + p4[event, j])
            np.testing.assert_allclose(np.sqrt(m2[event, i, j]), m_ij, rtol=1e-6)
            m_ijk = invariant_mass(p4[event, i] + p4[event, j] + p4[event, k])
            m_jk = invariant_mass(p4[event, j] + p4[event, k])
            np.testing.assert_allclose(log_m[event, i, j, k, 0], np.log(m_ijk / 100), rtol=1e-6)
            np.testing.assert_allclose(log_m[event, i, j, k, 1], np.log(m_jk / 100), rtol=1e-6)


@pytest.mark.xdist_group("pipeline")
def test_minmax_scaling_is_the_papers_on_the_training_set(sets):
    """Fitted in the model, the min-max ranges are those the split stores in SCALING."""
    model = Saja(SajaHyperparameters(features=("pt", "eta", "phi", "pt_ht", "btag"), d_k=4, heads=2, d_ffn=8, blocks=1))
    train = load_inputs(sets["train"], model)
    model.inputs.fit(torch.from_numpy(train["x"]), torch.from_numpy(train["mask"]))
    with h5py.File(sets["train"]) as h5:
        for i, name in enumerate(model.inputs.features):
            if name == "btag":
                assert (model.inputs.offset[i], model.inputs.scale[i]) == (0, 1)
                continue
            low, high = h5["SCALING"][name][()]
            np.testing.assert_allclose([model.inputs.offset[i], model.inputs.offset[i] + model.inputs.scale[i]],
                                       [low, high], rtol=1e-6)


def physics_saja() -> Saja:
    torch.manual_seed(0)
    return Saja(SajaHyperparameters(features=PHYSICS, d_k=4, heads=2, d_ffn=16, blocks=2, dropout=0.0,
                                    scaling="standard", pairwise=PAIRWISE, augment=True)).eval()


def physics_spanet() -> Spanet:
    torch.manual_seed(0)
    return Spanet(SpanetHyperparameters(features=PHYSICS, d_model=8, heads=2, d_ffn=16, blocks=1, d_tensor=4,
                                        dropout=0.0, scaling="standard", pairwise=PAIRWISE, augment=True,
                                        triplet_masses=True)).eval()


@pytest.mark.parametrize("build", [physics_saja, physics_spanet])
def test_networks_with_physics_inputs_are_permutation_equivariant(build):
    model = build()
    raw, mask = jets(n_events=5, n_jets=8, seed=1)
    raw = in_order(raw, model.inputs)
    model.inputs.fit(raw, mask)
    perm = torch.randperm(8)
    with torch.no_grad():
        out, permuted = model(raw, mask), model(raw[:, perm], mask[:, perm])
    if isinstance(model, Spanet):  # the t tbar heads, stacked: (events, tops, jets, jets, jets)
        out, permuted = torch.stack(out, dim=1), torch.stack(permuted, dim=1)
        expected = out[:, :, perm][:, :, :, perm][:, :, :, :, perm]
        torch.testing.assert_close(out, out.transpose(3, 4))  # q1 <-> q2
    else:
        expected = out[:, perm]
    real = torch.isfinite(expected)
    torch.testing.assert_close(permuted[real], expected[real], atol=1e-4, rtol=1e-4)
    assert torch.equal(torch.isfinite(permuted), real)


def test_augmentation_only_mirrors_whole_events_while_training():
    model = physics_saja()
    raw, mask = jets(n_events=64, seed=2)
    raw = in_order(raw, model.inputs)
    mirrored = model.inputs._mirrored(raw)
    for i, name in enumerate(model.inputs.columns):
        if name in ("eta", "phi"):
            flipped = (mirrored[..., i] == -raw[..., i]).all(dim=1)
            kept = (mirrored[..., i] == raw[..., i]).all(dim=1)
            assert (flipped | kept).all() and flipped.any() and kept.any()
        else:
            assert torch.equal(mirrored[..., i], raw[..., i])
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(raw, mask), model(raw, mask))
