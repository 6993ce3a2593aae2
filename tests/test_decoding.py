"""The always-valid decoding: it equals exhaustive search, is equivariant under jet
permutations and blind to t <-> tbar, and agrees with argmax decoding where that is valid."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from analysis.methods.decoding import best_valid_assignment as decode
from analysis.methods.decoding import slots_from_classes
from analysis.topology import TOPOLOGY

N_CLASSES = 5


def best_valid_assignment(log_p: np.ndarray, mask: np.ndarray, pt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slots, valid = decode(torch.from_numpy(log_p), torch.from_numpy(mask), torch.from_numpy(pt))
    return slots.numpy(), valid.numpy()


def slots_from_jet_classes(classes: np.ndarray, mask: np.ndarray, pt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slots, valid = slots_from_classes(torch.from_numpy(classes), torch.from_numpy(mask), torch.from_numpy(pt))
    return slots.numpy(), valid.numpy()


def random_events(n_events: int, n_jets: int, seed: int):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n_events, n_jets, N_CLASSES))
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return log_p, np.ones((n_events, n_jets), bool), rng.uniform(30, 300, size=(n_events, n_jets))


def gain(log_p: np.ndarray, slots: np.ndarray) -> np.ndarray:
    per_slot, other = list(TOPOLOGY.slot_classes), TOPOLOGY.other_class
    rows = np.arange(len(slots))[:, None]
    return (log_p[rows, slots, per_slot] - log_p[rows, slots, other]).sum(axis=1)


@pytest.mark.parametrize("n_jets", [6, 7, 8])
def test_equals_exhaustive_search(n_jets):
    log_p, mask, pt = random_events(100, n_jets, seed=n_jets)
    slots, valid = best_valid_assignment(log_p, mask, pt)
    assert valid.all()
    every = np.array(list(itertools.permutations(range(n_jets), 6)))
    best = np.stack([gain(log_p[[e] * len(every)], every).max() for e in range(len(log_p))])
    np.testing.assert_allclose(gain(log_p, slots), best, rtol=1e-12)
    assert all(len(set(row)) == 6 for row in slots.tolist())
    rows = np.arange(len(slots))
    for a, b in ((1, 2), (4, 5)):  # q1 is the harder W jet
        assert (pt[rows, slots[:, a]] >= pt[rows, slots[:, b]]).all()


def test_equivariant_under_jet_permutations_and_blind_to_top_swap():
    log_p, mask, pt = random_events(200, 8, seed=1)
    slots, _ = best_valid_assignment(log_p, mask, pt)
    perm = np.random.default_rng(2).permutation(8)
    permuted, _ = best_valid_assignment(log_p[:, perm], mask[:, perm], pt[:, perm])
    np.testing.assert_array_equal(perm[permuted], slots)
    swapped, _ = best_valid_assignment(log_p[..., [2, 3, 0, 1, 4]], mask, pt)  # b1 <-> b2, W1 <-> W2
    np.testing.assert_array_equal(swapped, slots[:, [3, 4, 5, 0, 1, 2]])


def test_agrees_with_argmax_where_argmax_is_valid_and_pads_are_never_chosen():
    log_p, mask, pt = random_events(500, 9, seed=3)
    mask[::3, 7:] = False
    argmax, valid = slots_from_jet_classes(np.where(mask, log_p.argmax(axis=-1), N_CLASSES - 1), mask, pt)
    slots, always = best_valid_assignment(log_p, mask, pt)
    assert always.all() and valid.any()
    np.testing.assert_array_equal(slots[valid], argmax[valid])
    rows = np.arange(len(slots))[:, None]
    assert mask[rows, slots].all()


def test_too_few_jets_is_invalid():
    log_p, mask, pt = random_events(4, 6, seed=4)
    mask[:, 5] = False
    slots, valid = best_valid_assignment(log_p, mask, pt)
    assert not valid.any() and (slots == -1).all()


def test_saja_decodes_as_its_hyperparameters_say():
    from analysis.methods.networks import predict
    from analysis.methods.saja import Saja, SajaHyperparameters

    torch.manual_seed(0)
    x = torch.rand(50, 9, 5).numpy()
    mask = np.ones((50, 9), bool)
    mask[:10, 5:] = False  # five jets: no valid assignment either way
    pt = np.random.default_rng(0).uniform(30, 300, size=(50, 9))
    out = {}
    for decoding in ("argmax", "assignment"):
        torch.manual_seed(0)
        model = Saja(SajaHyperparameters(features=("pt", "eta", "phi", "pt_ht", "btag"), d_k=4, heads=2, d_ffn=16, blocks=1, decoding=decoding)).eval()
        out[decoding] = predict(model, "saja", x, mask, pt)
    slots, valid, entropy, probabilities = out["assignment"]
    np.testing.assert_array_equal(valid, mask.sum(axis=1) >= 6)
    expected, _ = best_valid_assignment(np.log(probabilities), mask, pt)
    np.testing.assert_array_equal(slots, expected)
    argmax_slots, argmax_valid, argmax_entropy, _ = out["argmax"]
    np.testing.assert_array_equal(argmax_entropy, entropy)
    np.testing.assert_array_equal(argmax_slots[argmax_valid], slots[argmax_valid])


def test_onnx_graph_decodes_as_torch_for_any_number_of_jets(tmp_path):
    """The dynamic programme runs as loops over the jets inside the ONNX graph: the same
    assignments as torch for events of another size than the one exported, with padding."""
    import onnxruntime

    class Decoder(torch.nn.Module):
        def forward(self, log_p, mask, pt):
            return decode(log_p, mask, pt)

    log_p, mask, pt = random_events(4, 7, seed=5)
    torch.onnx.export(Decoder(), tuple(torch.from_numpy(a) for a in (log_p, mask, pt)), str(tmp_path / "d.onnx"),
                      input_names=["log_p", "mask", "pt"], output_names=["slots", "valid"], opset_version=17,
                      dynamic_axes={name: {0: "events", 1: "jets"} for name in ("log_p", "mask", "pt")}, dynamo=False)
    session = onnxruntime.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"])
    for n_jets in (6, 9, 14):
        log_p, mask, pt = random_events(300, n_jets, seed=n_jets)
        mask[::4, 6:] = False
        mask[1::7, 5:] = False  # five jets: never valid
        slots, valid = best_valid_assignment(log_p, mask, pt)
        theirs = session.run(None, {"log_p": log_p, "mask": mask, "pt": pt})
        np.testing.assert_array_equal(theirs[0], slots)
        np.testing.assert_array_equal(theirs[1], valid)
        assert valid.sum() == (mask.sum(axis=1) >= 6).sum()
