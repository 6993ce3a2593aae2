"""Quark/gluon taggers: invariance under constituent order and padding, the input features
against hand computations, learning a synthetic quark/gluon separation, and build()."""
from __future__ import annotations

import math

import pytest
import torch

from analysis.qg.tagger import (
    CONSTITUENT_FEATURES,
    PAIR_FEATURES,
    RAW_CONSTITUENT_FIELDS,
    ParticleTransformer,
    ShapeTagger,
    build,
    constituent_features,
    pair_features,
)

TINY = dict(d_model=16, heads=2, blocks=1, class_blocks=1, d_ffn=32, d_pair=8, dropout=0.0)


@pytest.fixture
def deterministic():
    """As in training on CPU."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def jets(n_jets: int, max_constituents: int, quark: bool, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic jets (raw, mask): quarks have fewer, harder and narrower constituents than gluons."""
    low, high = (4, 16) if quark else (8, max_constituents + 1)
    counts = torch.randint(low, high, (n_jets, 1), generator=generator)
    mask = torch.arange(max_constituents)[None, :] < counts
    u = torch.rand(n_jets, max_constituents, generator=generator)
    weights = (u ** (2 if quark else 1)) * mask
    pt = weights / weights.sum(dim=1, keepdim=True)
    width = 0.15 if quark else 0.2
    deta = width * torch.randn(n_jets, max_constituents, generator=generator)
    dphi = width * torch.randn(n_jets, max_constituents, generator=generator)
    eta_jet = 2 * torch.rand(n_jets, 1, generator=generator) - 1
    charged = (torch.rand(n_jets, max_constituents, generator=generator) < 0.6).float()
    photon = (1 - charged) * (torch.rand(n_jets, max_constituents, generator=generator) < 0.7).float()
    raw = torch.stack([pt, pt * torch.cosh(eta_jet + deta), deta, dphi, charged, photon], dim=-1)
    return raw * mask[..., None], mask


def random_jets(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    raw_q, mask_q = jets(2, 16, True, generator)
    raw_g, mask_g = jets(2, 16, False, generator)
    return torch.cat([raw_q, raw_g]), torch.cat([mask_q, mask_g])


def transformer(**hyperparameters) -> ParticleTransformer:
    """A transformer in eval mode whose pair bias (zero at initialisation) is switched on."""
    torch.manual_seed(0)
    model = ParticleTransformer(**hyperparameters)
    for p in model.pair_embed[-1].parameters():
        torch.nn.init.normal_(p, std=0.5)
    return model.eval()


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Probability that a random positive outscores a random negative (Mann-Whitney; no ties)."""
    ranks = torch.empty(len(scores))
    ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=torch.float)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    return float((ranks[labels.bool()].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fit(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor, steps: int) -> None:
    """Adam on the binary cross entropy, batches of 128 drawn at random; leaves the model in eval mode."""
    torch.manual_seed(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        index = torch.randint(len(labels), (128,))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(*(x[index] for x in inputs)), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def test_field_counts():
    assert (len(RAW_CONSTITUENT_FIELDS), len(CONSTITUENT_FEATURES), len(PAIR_FEATURES)) == (6, 7, 4)


def test_transformer_is_blind_to_constituent_order():
    model = transformer()
    raw, mask = random_jets()
    order = torch.rand(mask.shape).argsort(dim=1)
    shuffled_raw = raw.gather(1, order[..., None].expand_as(raw))
    shuffled_mask = mask.gather(1, order)
    assert not torch.equal(shuffled_mask, mask)
    with torch.no_grad():
        torch.testing.assert_close(model(shuffled_raw, shuffled_mask), model(raw, mask), atol=1e-5, rtol=1e-5)


def test_padded_constituents_have_no_influence():
    model = transformer()
    raw, mask = random_jets()
    garbage = 1e4 * torch.randn(len(raw), 7, raw.shape[-1])
    garbage[:, 0, 0], garbage[:, 1, 2] = float("inf"), float("nan")
    padded_raw = torch.cat([raw, garbage], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(len(mask), 7, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        out = model(padded_raw, padded_mask)
        assert out.isfinite().all()
        torch.testing.assert_close(out, model(raw, mask), atol=1e-5, rtol=1e-5)


def test_pair_features_known_answers():
    # a and b straddle phi = +-pi (raw dphi_ab = 6.0, wrapped 6.0 - 2 pi); c is a plain pair; d is padding
    pt, deta, dphi = (0.6, 0.2, 0.1, 7.0), (0.1, -0.2, 0.0, 3.0), (3.0, -3.0, 0.5, 1.0)
    raw = torch.tensor([[[p, 9.0, e, f, 1.0, 0.0] for p, e, f in zip(pt, deta, dphi, strict=True)]])
    mask = torch.tensor([[True, True, True, False]])
    features = pair_features(raw, mask)[0]
    assert features.shape == (4, 4, len(PAIR_FEATURES))

    def expected(a: int, b: int) -> list[float]:
        dphi_ab = (dphi[a] - dphi[b] + math.pi) % (2 * math.pi) - math.pi
        delta = math.hypot(deta[a] - deta[b], dphi_ab)
        # massless four-vectors in the jet frame
        p = [(pt[i] * math.cos(dphi[i]), pt[i] * math.sin(dphi[i]), pt[i] * math.sinh(deta[i]),
              pt[i] * math.cosh(deta[i])) for i in (a, b)]
        px, py, pz, e = (p[0][k] + p[1][k] for k in range(4))
        pt_min = min(pt[a], pt[b])
        return [math.log(delta), math.log(e ** 2 - px ** 2 - py ** 2 - pz ** 2), math.log(pt_min * delta),
                pt_min / (pt[a] + pt[b])]

    assert math.exp(features[0, 1, 0]) == pytest.approx(math.hypot(0.3, 6.0 - 2 * math.pi), rel=1e-5)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        torch.testing.assert_close(features[a, b], torch.tensor(expected(a, b)), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(features, features.transpose(0, 1), atol=1e-6, rtol=1e-6)
    assert (features.diagonal(dim1=0, dim2=1) == 0).all()
    assert (features[3] == 0).all() and (features[:, 3] == 0).all()


def test_pair_features_finite_for_coincident_and_padded_constituents():
    raw = torch.tensor([[[0.5, 0.5, 0.1, 0.2, 1.0, 0.0], [0.5, 0.5, 0.1, 0.2, 1.0, 0.0],
                         [float("nan"), 0.0, 0.0, 0.0, 0.0, 0.0]]])
    features = pair_features(raw, torch.tensor([[True, True, False]]))
    assert features.isfinite().all()
    assert features[0, 0, 1, 0] == pytest.approx(math.log(1e-8), rel=1e-6)


def test_constituent_features():
    raw = torch.tensor([[[0.5, 1.5, 0.3, -0.4, 1.0, 0.0], [0.1, 0.2, -0.05, 0.12, 0.0, 1.0],
                         [1e6, float("nan"), 5.0, 9.0, 3.0, 3.0]]])
    mask = torch.tensor([[True, True, False]])
    features = constituent_features(raw, mask)[0]
    column = {name: features[:, i] for i, name in enumerate(CONSTITUENT_FEATURES)}
    torch.testing.assert_close(column["dr"][:2], torch.tensor([0.5, 0.13]))
    torch.testing.assert_close(column["log_pt_rel"][:2], torch.log(torch.tensor([0.5, 0.1])))
    torch.testing.assert_close(column["log_e_rel"][:2], torch.log(torch.tensor([1.5, 0.2])))
    torch.testing.assert_close(features[:2, [2, 3, 5, 6]], raw[0, :2, 2:])
    assert (features[2] == 0).all()


def test_taggers_learn_a_synthetic_quark_gluon_separation(deterministic):
    generator = torch.Generator().manual_seed(2)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raw_q, mask_q = jets(n, 24, True, generator)
        raw_g, mask_g = jets(n, 24, False, generator)
        return torch.cat([raw_q, raw_g]), torch.cat([mask_q, mask_g]), torch.cat([torch.ones(n), torch.zeros(n)])

    def shapes(raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Multiplicity / 10, pT_D and girth."""
        pt = raw[..., 0]
        girth = (pt * torch.hypot(raw[..., 2], raw[..., 3])).sum(dim=1)
        return torch.stack([mask.sum(dim=1) / 10, pt.pow(2).sum(dim=1).sqrt(), 10 * girth], dim=1)

    raw, mask, labels = sample(512)
    test_raw, test_mask, test_labels = sample(256)
    torch.manual_seed(0)
    model = ParticleTransformer(**TINY).eval()
    with torch.no_grad():
        assert auc(model(test_raw, test_mask), test_labels) < 0.9  # the separation below is learnt
    fit(model, (raw, mask), labels, steps=150)
    with torch.no_grad():
        assert auc(model(test_raw, test_mask), test_labels) > 0.9
    torch.manual_seed(0)
    baseline = ShapeTagger(3, hidden=16, layers=2, dropout=0.0).eval()
    with torch.no_grad():
        assert auc(baseline(shapes(test_raw, test_mask)), test_labels) < 0.9
    fit(baseline, (shapes(raw, mask),), labels, steps=300)
    with torch.no_grad():
        assert auc(baseline(shapes(test_raw, test_mask)), test_labels) > 0.9


def test_build():
    model = build("particle_transformer", TINY)
    assert isinstance(model, ParticleTransformer)
    assert len(model.particle_blocks) == 1
    assert isinstance(build("shapes", {"n_features": 4}), ShapeTagger)
    with pytest.raises(ValueError, match="particle_transformer.*shapes"):
        build("particle_net", {})


def test_default_size_and_shapes():
    model = ParticleTransformer().eval()
    assert 20_000 < sum(p.numel() for p in model.parameters()) < 60_000
    raw, mask = random_jets()
    with torch.no_grad():
        assert model(raw, mask).shape == (len(raw),)
    assert ShapeTagger(5)(torch.randn(8, 5)).shape == (8,)
