"""Crystal Ball transfer functions: normalisation and closure on samples of known parameters."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from analysis.methods.transfer_functions import (
    ResponseModel,
    crystal_ball_logpdf,
    fit_all,
    fit_category,
    fit_crystal_ball,
)


def sample(params, n, rng, window=(-1.0, 1.0)):
    """Accept-reject from the Crystal Ball restricted to `window`."""
    out = []
    peak = np.exp(crystal_ball_logpdf(np.array([params[0]]), *params))[0]
    while sum(len(o) for o in out) < n:
        x = rng.uniform(*window, 4 * n)
        keep = rng.uniform(size=x.size) * peak < np.exp(crystal_ball_logpdf(x, *params))
        out.append(x[keep])
    return np.concatenate(out)[:n]


@pytest.mark.parametrize("alpha,n", [(1.0, 3.0), (2.0, 10.0)])
def test_density_is_normalised(alpha, n):
    total, _ = quad(lambda x: np.exp(crystal_ball_logpdf(np.array(x), 0.05, 0.15, alpha, n)), -200, 5, limit=200)
    assert total == pytest.approx(1.0, abs=2e-3)


def test_fit_recovers_known_parameters():
    true = (-0.05, 0.12, 1.2, 4.0)
    fitted = fit_crystal_ball(sample(true, 60_000, np.random.default_rng(0)))
    assert fitted["valid"]
    assert fitted["mean"] == pytest.approx(true[0], abs=0.003)
    assert fitted["sigma"] == pytest.approx(true[1], rel=0.03)
    assert fitted["alpha"] == pytest.approx(true[2], rel=0.1)
    assert fitted["n"] == pytest.approx(true[3], rel=0.3)


def test_energy_dependence_is_recovered():
    """Responses drawn with sigma(E) = sqrt(0.05^2 + 1/E) and mean(E) = -0.02 - 2/E."""
    rng = np.random.default_rng(1)
    truth = ResponseModel(m0=-0.02, m1=-2.0, s0=0.05, s1=1.0, s2=0.0, alpha=1.5, n=5.0)
    energy = rng.uniform(40, 600, 30_000)
    jets = np.empty_like(energy)
    for low in range(40, 600, 40):
        inside = (energy >= low) & (energy < low + 40)
        mean, sigma, alpha, n = truth.parameters(np.array([low + 20.0]))
        x = sample((mean[0], sigma[0], alpha, n), int(inside.sum()), rng)
        jets[inside] = energy[inside] * (1 + x)
    model, bins = fit_category(jets, energy)
    for e in (60.0, 150.0, 400.0):
        got, want = model.parameters(np.array([e])), truth.parameters(np.array([e]))
        assert got[1][0] == pytest.approx(want[1][0], rel=0.1)   # sigma
        assert got[0][0] == pytest.approx(want[0][0], abs=0.01)  # mean
    assert len(bins) == 6 and all(b["valid"] for b in bins)


def test_a_category_with_too_few_jets_borrows_from_its_flavour_then_from_all():
    rng = np.random.default_rng(2)
    n = 1200
    energy = rng.uniform(40, 400, n)
    jets = energy * (1 + rng.normal(0, 0.1, n))
    is_b = np.arange(n) < 150                             # 150 b jets, all in the barrel
    eta = np.where(np.arange(n) < 600, 0.5, 2.0)          # the light jets split barrel / endcap
    eta[:150] = 0.5
    eta[:20] = 2.0                                         # but 20 b jets in the endcap
    fitted = fit_all(jets, energy, is_b, eta)
    assert fitted["b_barrel"]["jets_from"] == "own" and fitted["b_barrel"]["pairs"] == 130
    assert fitted["b_endcap"]["jets_from"] == "flavour" and fitted["b_endcap"]["pairs"] == 150
    assert fitted["light_endcap"]["jets_from"] == "own" and fitted["light_endcap"]["pairs"] == 600
    with pytest.raises(ValueError, match="generate more events"):
        fit_all(jets[:10], energy[:10], is_b[:10], eta[:10])
