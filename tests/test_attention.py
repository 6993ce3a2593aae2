"""Fig. 12's attention averages: rows stay normalised and do not depend on the jets' order."""
from __future__ import annotations

import numpy as np
import torch

from analysis.evaluation.attention import block_attention, folded
from analysis.methods.saja import Saja, SajaHyperparameters


def test_folded_attention_is_normalised_and_blind_to_jet_order():
    torch.manual_seed(0)
    model = Saja(SajaHyperparameters(features=("pt", "eta", "phi", "pt_ht", "btag"), d_k=8, heads=4, d_ffn=32, blocks=2, dropout=0.0)).eval()
    rng = np.random.default_rng(0)
    n, jets = 20, 10
    x = rng.normal(size=(n, jets, 5)).astype(np.float32)
    mask = np.arange(jets)[None, :] < rng.integers(7, jets + 1, n)[:, None]
    targets = np.array([rng.permutation(int(m.sum()))[:6] for m in mask])
    reference = [folded(w, targets, mask) for w in block_attention(model, "saja", x * mask[..., None], mask)]
    for block in reference:
        np.testing.assert_allclose(block[:, :6].sum(axis=2), 1.0, rtol=1e-5)
        has_others = mask.sum(axis=1) > 6
        np.testing.assert_allclose(block[has_others, 6].sum(axis=1), 1.0, rtol=1e-5)
    order = np.stack([np.r_[rng.permutation(int(m.sum())), np.arange(int(m.sum()), jets)] for m in mask])
    rows = np.arange(n)[:, None]
    inverse = np.argsort(order, axis=1)
    shuffled = [folded(w, inverse[rows, targets], mask[rows, order])
                for w in block_attention(model, "saja", (x * mask[..., None])[rows, order], mask[rows, order])]
    for a, b in zip(reference, shuffled, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
