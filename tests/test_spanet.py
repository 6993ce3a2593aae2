"""SPA-NET: symmetries built into the weights, masking, the loss and collision resolution (greedy
and joint)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from analysis.core.training import TrainingSettings, train
from analysis.methods.networks import predict
from analysis.methods.spanet import ADAPTER as SPANET
from analysis.methods.spanet import (
    Spanet,
    SpanetHyperparameters,
    head_layout,
    jet_marginals,
    particle_balance,
    resolve,
    resolve_jointly,
    spanet_loss,
)
from analysis.topology import TOPOLOGY


def small_model(seed=0):
    torch.manual_seed(seed)
    return Spanet(SpanetHyperparameters(features=("pt", "eta", "phi", "pt_ht", "btag"), d_model=16, heads=2, d_ffn=32, blocks=1, d_tensor=8,
                                        dropout=0.0)).eval()


def stacked(model, x, mask):
    """The t tbar model's two triplet heads as one (batch, heads, jets, jets, jets) tensor."""
    return torch.stack(model(x, mask), dim=1)


def test_triplet_distribution_is_symmetric_in_the_w_quarks_and_normalised():
    with torch.no_grad():
        log_p = stacked(small_model(), torch.randn(2, 8, 5), torch.ones(2, 8, dtype=torch.bool))
    torch.testing.assert_close(log_p, log_p.transpose(3, 4))
    torch.testing.assert_close(log_p.exp().flatten(2).sum(-1), torch.ones(2, 2))
    idx = torch.arange(8)
    assert torch.isinf(log_p[:, :, idx, idx, :]).all()  # a jet is used once per triplet


def test_permutation_equivariance_and_padding():
    model = small_model()
    x, mask = torch.randn(3, 7, 5), torch.ones(3, 7, dtype=torch.bool)
    perm = torch.randperm(7)
    with torch.no_grad():
        log_p = stacked(model, x, mask)
        permuted = stacked(model, x[:, perm], mask[:, perm])
        torch.testing.assert_close(permuted, log_p[:, :, perm][:, :, :, perm][:, :, :, :, perm], atol=1e-5, rtol=1e-4)
        padded = stacked(model, torch.cat([x, 50 * torch.randn(3, 4, 5)], 1),
                         torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], 1))
    torch.testing.assert_close(padded[:, :, :7, :7, :7], log_p, atol=1e-5, rtol=1e-4)
    assert torch.isinf(padded[:, :, 7:]).all()


def test_loss_blind_to_top_order_and_masks_incomplete_tops():
    with torch.no_grad():
        heads = small_model()(torch.randn(2, 8, 5), torch.ones(2, 8, dtype=torch.bool))
    log_p = torch.stack(heads, dim=1)
    targets = torch.tensor([[0, 1, 2, 3, 4, 5], [6, 7, 1, -1, 2, 3]])
    swapped = torch.cat([targets[:, 3:], targets[:, :3]], dim=1)
    torch.testing.assert_close(spanet_loss(heads, targets), spanet_loss(heads, swapped))
    # event 2 has one complete top: its loss is that top's best head, -log(2 P)
    event2 = min(-(log_p[1, h, 6, 7, 1] + np.log(2)) for h in (0, 1))
    event1 = min(-(log_p[0, 0, 0, 1, 2] + log_p[0, 1, 3, 4, 5]), -(log_p[0, 1, 0, 1, 2] + log_p[0, 0, 3, 4, 5]))
    event1 = (event1 - 2 * np.log(2)) / 2
    assert spanet_loss(heads, targets).item() == pytest.approx(((event1 + event2) / 2).item(), rel=1e-5)


def test_collisions_keep_the_more_confident_head():
    n = 6
    log_p = torch.full((1, 2, n, n, n), -30.0)
    log_p[0, 0, 0, 1, 2] = log_p[0, 0, 0, 2, 1] = np.log(0.4)   # head 1 wants (0, 1, 2)
    log_p[0, 1, 0, 1, 2] = log_p[0, 1, 0, 2, 1] = np.log(0.3)   # head 2 too, less sure
    log_p[0, 1, 3, 4, 5] = log_p[0, 1, 3, 5, 4] = np.log(0.2)   # its best free triplet
    (first, second), _ = resolve(list(log_p.unbind(dim=1)))
    assert first[0].tolist() == [0, 1, 2] and second[0, 0] == 3 and set(second[0, 1:].tolist()) == {4, 5}


def test_joint_decoding_equals_the_exhaustive_search_at_six_jets():
    """At six jets a top has 60 unordered triplets, fewer than the 89 the joint decoding keeps
    per head for t tbar: it searches every combination, so it must find the best of all 720 ways
    to put the six jets into the six slots."""
    with torch.no_grad():
        log_p = small_model(seed=2)(torch.randn(20, 6, 5) * 2, torch.ones(20, 6, dtype=torch.bool))
    (top, antitop), _ = resolve_jointly(log_p, head_layout(TOPOLOGY))
    every = torch.tensor(list(itertools.permutations(range(6))))
    rows = torch.arange(20)[:, None]
    best = (log_p[0][rows, every[:, 0], every[:, 1], every[:, 2]]
            + log_p[1][rows, every[:, 3], every[:, 4], every[:, 5]]).max(dim=1).values
    found = log_p[0][torch.arange(20), *top.T] + log_p[1][torch.arange(20), *antitop.T]
    torch.testing.assert_close(found, best)
    greedy = resolve(log_p)[1].sum(dim=1)
    assert (found + 2 * np.log(2) >= greedy - 1e-5).all()


def test_jet_marginals_are_probabilities():
    with torch.no_grad():
        mask = torch.ones(2, 7, dtype=torch.bool)
        marginals = jet_marginals(small_model()(torch.randn(2, 7, 5), mask), mask)
    torch.testing.assert_close(marginals.sum(-1), torch.ones(2, 7))
    # each head places one b and two W jets
    torch.testing.assert_close(marginals[..., 0].sum(-1), torch.ones(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(marginals[..., 1].sum(-1), 2 * torch.ones(2), atol=1e-5, rtol=0)


def test_learns_a_planted_rule(tmp_path):
    """Jets flagged by a feature are the decay products: SPA-NET finds them and the slots."""
    rng = np.random.default_rng(0)
    n, jets = 400, 8
    x = rng.uniform(size=(n, jets, 5)).astype(np.float32)
    targets = np.stack([rng.permutation(jets)[:6] for _ in range(n)])
    x[..., 4] = 0.0
    rows = np.arange(n)[:, None]
    x[rows, targets[:, :3], 4] = 1.0   # top 1's jets
    x[rows, targets[:, 3:], 4] = -1.0  # top 2's jets
    x[rows, targets[:, [0, 3]], 3] = 2.0  # b jets
    data = {"x": x, "mask": np.ones((n, jets), bool), "targets": targets, "jet_pt": x[..., 0]}
    model = small_model()
    tensors = SPANET.tensors(data, model.hp, model.topology)
    settings = TrainingSettings(batch_size=64, learning_rate=3e-3, max_epochs=40, early_stopping=40,
                                device="cpu", progress=False)
    train(model, SPANET.loss, tensors, tensors, settings, tmp_path)
    slots, valid, score, _ = predict(model.eval(), "spanet", x, data["mask"], x[..., 0])
    from analysis.assignments import correct

    assert valid.all() and np.isfinite(score).all()
    assert correct(slots, targets).mean() > 0.9


def test_particle_balance_weighs_rare_classes_up_and_respects_the_top_symmetry():
    both, first, second = [0, 1, 2, 3, 4, 5], [0, 1, 2, -1, 4, 5], [0, -1, 2, 3, 4, 5]
    targets = np.array([both] * 80 + [first] * 15 + [second] * 5)
    weights = particle_balance(targets)
    assert weights.mean() == pytest.approx(1.0)
    assert len(set(weights[80:].tolist())) == 1  # t only and tbar only: one class (20 events)
    assert weights[80] > weights[0]
    # uniform weights change nothing
    log_p = small_model()(torch.randn(100, 7, 5), torch.ones(100, 7, dtype=torch.bool))
    t = torch.from_numpy(targets)
    torch.testing.assert_close(spanet_loss(log_p, t, weight=torch.ones(100)), spanet_loss(log_p, t))
