"""A KLFitter-style kinematic likelihood for all-hadronic t tbar (Erdmann et al., NIM A 748 (2014) 18).

For one jet-parton assignment the partons take the jets' directions and free energies E_i; the
likelihood is

    L = prod_i W_i(E_jet,i | E_i) x BW(m_qq; m_W, G_W) BW(m_q'q'; m_W, G_W) BW(m_bqq; m_t, G_t) BW(m_b'q'q'; m_t, G_t)

with the Crystal Ball transfer functions W (analysis.methods.transfer_functions), relativistic
Breit-Wigners, m_W fixed and the widths at the topology's values (analysis.topology) and m_t
floated (common to both tops). -log L is minimised over the six energies (as log-scale factors
of the jet energies) and m_t, within `bounds`.

-log L has several minima (narrow Breit-Wigners against wide transfer functions), so where a fit
starts decides where it ends: `starts` scans for the best basins first. Batched: every (event,
assignment, start) is one row of a tensor, and projected Levenberg-Marquardt steps with per-row
gradients and 7 x 7 Hessians (autograd) run on all rows together. `fit_one` is the per-row
iminuit (MIGRAD) reference of the same function from the same starts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from analysis.core.kinematics import energy_of
from analysis.methods.baselines import Assigner
from analysis.methods.permutations import btag_allowed, table
from analysis.methods.transfer_functions import ResponseModel, category, crystal_ball_logpdf, models_from
from analysis.topology import TOPOLOGY

if TYPE_CHECKING:
    from analysis.config import Config

TOP, W = TOPOLOGY.cascade_resonances
TOPS = TOPOLOGY.cascade_slots
"""The (b, q1, q2) slots of each top."""
N_SLOTS = len(TOPOLOGY.slots)
N_PARAMETERS = N_SLOTS + 1
"""The parton energies (as log-scale factors) and m_t."""


@dataclass(frozen=True)
class LikelihoodSettings:
    """Masses and widths in GeV (the topology's); parton energies stay within `energy_factor` of
    their jet's."""

    m_w: float = W.mass
    width_w: float = W.width
    width_top: float = TOP.width
    iterations: int = 200
    energy_factor: float = 5.0
    top_mass_range: tuple[float, float] = (100.0, 1000.0)


def log_breit_wigner(m: torch.Tensor, mass: torch.Tensor, width: float) -> torch.Tensor:
    """log of the normalised relativistic Breit-Wigner in m."""
    gamma = mass * torch.sqrt(mass**2 + width**2)
    k = 2 * math.sqrt(2) * mass * width * gamma / (math.pi * torch.sqrt(mass**2 + gamma))
    return torch.log(k) - torch.log((m**2 - mass**2) ** 2 + (mass * width) ** 2)


class Likelihood:
    """-log L per row: theta (rows, N_PARAMETERS), jets (rows, slots, 4: E, ux, uy, uz) in slot
    order, category (rows, slots) of each slot's transfer function. Written for whole batches."""

    def __init__(self, models: list[ResponseModel], settings: LikelihoodSettings):
        self.s = settings
        self.table = torch.tensor([[m.m0, m.m1, m.s0, m.s1, m.s2, m.alpha, m.n] for m in models],
                                  dtype=torch.float64)
        self.parton_mass = torch.tensor(TOPOLOGY.parton_masses, dtype=torch.float64)

    def __call__(self, theta: torch.Tensor, jets: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        return self.per_top(theta, jets, cats).sum(dim=-1)

    def per_top(self, theta: torch.Tensor, jets: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        """(rows, 2): each top's share of -log L, its three transfer functions and its two
        Breit-Wigners; the shares depend on each other only through m_t."""
        energy_jet, direction = jets[..., 0], jets[..., 1:]
        energy = energy_jet * torch.exp(theta[..., :N_SLOTS])
        m_top = theta[..., N_SLOTS]
        momentum = torch.sqrt(torch.clamp(energy**2 - self.parton_mass.to(theta.dtype) ** 2, min=1e-9))[..., None] * direction
        p4 = torch.cat([momentum, energy[..., None]], dim=-1)
        p = self.table.to(theta.dtype)[cats]
        mean = p[..., 0] + p[..., 1] / energy
        sigma = torch.sqrt(p[..., 2] ** 2 + p[..., 3] ** 2 / energy + p[..., 4] ** 2 / energy**2)
        x = (energy_jet - energy) / energy
        log_w = crystal_ball_logpdf(x, mean, sigma, p[..., 5], p[..., 6]) - torch.log(energy)
        m_w = torch.full_like(m_top, self.s.m_w)
        shares = []
        for b, q1, q2 in TOPS:
            w = p4[..., q1, :] + p4[..., q2, :]
            top = w + p4[..., b, :]
            shares.append(log_w[..., b] + log_w[..., q1] + log_w[..., q2]
                          + log_breit_wigner(_mass(w), m_w, self.s.width_w)
                          + log_breit_wigner(_mass(top), m_top, self.s.width_top))
        return -torch.stack(shares, dim=-1)


def _mass(p4: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(torch.clamp(p4[..., 3] ** 2 - (p4[..., :3] ** 2).sum(dim=-1), min=1e-9))


def gradient_and_hessian(likelihood: Likelihood, theta: torch.Tensor, jets: torch.Tensor, cats: torch.Tensor):
    """Per-row gradient (rows, N_PARAMETERS) and Hessian (rows, N_PARAMETERS, N_PARAMETERS): rows
    are independent, so the Hessian of the summed -log L is block diagonal and N_PARAMETERS
    backward passes give every block."""
    theta = theta.detach().requires_grad_(True)
    value = likelihood(theta, jets, cats)
    (g,) = torch.autograd.grad(value.sum(), theta, create_graph=True)
    rows = [torch.autograd.grad(g[:, k].sum(), theta, retain_graph=k < N_PARAMETERS - 1)[0]
            for k in range(N_PARAMETERS)]
    return value.detach(), g.detach(), torch.stack(rows, dim=1)


def prepare(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray, slots: np.ndarray
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of (jets (rows, slots, 4), categories (rows, slots)) for assignments `slots` (rows,
    slots) of jets given per row (rows, jets)."""
    rows = np.arange(len(slots))[:, None]
    pt, eta, phi, mass = (np.asarray(a, dtype=np.float64)[rows, slots] for a in (pt, eta, phi, mass))
    direction = np.stack([np.cos(phi) / np.cosh(eta), np.sin(phi) / np.cosh(eta), np.tanh(eta)], axis=-1)
    jets = np.concatenate([energy_of(pt, eta, mass)[..., None], direction], axis=-1)
    is_b = np.isin(np.arange(N_SLOTS), TOPOLOGY.b_slots)
    return torch.from_numpy(jets), torch.from_numpy(category(np.broadcast_to(is_b, eta.shape), eta))


def fit_batch(likelihood: Likelihood, jets: torch.Tensor, cats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(-log L at the minimum (rows,), parameters (rows, N_PARAMETERS)): every row fitted from each of
    `starts` at once, the lowest minimum kept."""
    n = len(jets)
    points = starts(likelihood, jets, cats)
    value, theta = minimise(likelihood, torch.cat(points), jets.repeat(len(points), 1, 1),
                            cats.repeat(len(points), 1))
    value, theta = value.view(len(points), n), theta.view(len(points), n, N_PARAMETERS)
    best = value.argmin(dim=0)
    rows = torch.arange(n)
    return value[best, rows], theta[best, rows]


def minimise(likelihood: Likelihood, theta: torch.Tensor, jets: torch.Tensor, cats: torch.Tensor,
             tolerance: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected Levenberg-Marquardt on every row together, inside `bounds`: a damped Newton step
    over the parameters not held at a bound, kept if it lowers the row's -log L (damping / 3)
    or refused (damping x 4). A row stops once a kept step gains less than `tolerance`, or when
    no step helps even at the largest damping; only the rows still running are evaluated."""
    low, high = bounds(likelihood.s)
    theta = torch.minimum(torch.maximum(theta, low), high)
    value = torch.empty(len(theta), dtype=torch.float64)
    running = torch.arange(len(theta))
    damping = torch.full((len(theta),), 1e-3, dtype=torch.float64)
    for _ in range(likelihood.s.iterations):
        if len(running) == 0:
            break
        th, j, c, lam = theta[running], jets[running], cats[running], damping[running]
        v, g, h = gradient_and_hessian(likelihood, th, j, c)
        held = ((th <= low) & (g > 0)) | ((th >= high) & (g < 0))
        free = (~held).double()
        g = g * free
        h = h * free[:, :, None] * free[:, None, :] + torch.diag_embed(1.0 - free)
        scale = torch.diag_embed(h.diagonal(dim1=1, dim2=2).abs() + 1.0)
        proposal, trial = th.clone(), torch.full_like(v, torch.inf)
        pending = torch.arange(len(th))
        while len(pending):  # damp the refused rows until each step helps or the damping is exhausted
            step = torch.linalg.solve(h[pending] + lam[pending, None, None] * scale[pending], -g[pending, :, None])[..., 0]
            proposal[pending] = torch.minimum(torch.maximum(th[pending] + step, low), high)
            with torch.no_grad():
                trial[pending] = likelihood(proposal[pending], j[pending], c[pending])
            refused = ~(torch.isfinite(trial[pending]) & (trial[pending] < v[pending])) & (lam[pending] < MAX_DAMPING)
            pending = pending[refused]
            lam[pending] *= 4
        better = torch.isfinite(trial) & (trial < v)
        exhausted = lam >= MAX_DAMPING
        theta[running] = torch.where(better[:, None], proposal, th)
        value[running] = torch.where(better, trial, v)
        damping[running] = torch.where(better, lam / 3, lam).clamp(min=1e-9)
        flat = g.abs().amax(dim=1) < GRADIENT_TOLERANCE
        finished = (~better & exhausted) | (~better & flat) | (better & (v - trial < tolerance) & flat)
        running = running[~finished]
    return value, theta


def bounds(s: LikelihoodSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """Parameter ranges, as KLFitter gives its fit: parton energies within a factor
    `energy_factor` of the jet's, m_t in `top_mass_range`."""
    log_factor = math.log(s.energy_factor)
    low = torch.tensor([-log_factor] * N_SLOTS + [s.top_mass_range[0]], dtype=torch.float64)
    high = torch.tensor([log_factor] * N_SLOTS + [s.top_mass_range[1]], dtype=torch.float64)
    return low, high


MAX_DAMPING = 1e8
GRADIENT_TOLERANCE = 1e-2


def starts(likelihood: Likelihood, jets: torch.Tensor, cats: torch.Tensor) -> list[torch.Tensor]:
    """Starting points per row, near the best minima. The Breit-Wigners are narrow, so a top
    either sits on its mass shells or pays their (slowly growing) tails. Per top the scan tries
    each W on shell (quark energies log-scaled by u/2 +- d, u fixed by m_W for massless quarks)
    or as measured, and the b energy on m_bqq = m_t (closed form) or as measured; -log L is
    evaluated on a grid of m_t. The two tops' shares depend on each other only through m_t, so
    each top takes its best configuration per m_t, and the two lowest local minima in m_t (its
    basins: each top's Breit-Wigner pulls m_t to its own mass) are the starts. The scan runs in
    single precision, `SCAN_ROWS` rows at a time."""
    pieces = [_scan(likelihood, jets[i:i + SCAN_ROWS].float(), cats[i:i + SCAN_ROWS])
              for i in range(0, len(jets), SCAN_ROWS)]
    return [torch.cat([piece[k] for piece in pieces]).double() for k in range(2)]


def _scan(likelihood: Likelihood, jets: torch.Tensor, cats: torch.Tensor) -> list[torch.Tensor]:
    s = likelihood.s
    masses = torch.tensor(TOP_MASS_GRID, dtype=jets.dtype)[:, None, None]
    splits = torch.tensor(SPLIT_GRID + (0.0,), dtype=jets.dtype)[:, None]
    on_shell = torch.tensor([1.0] * len(SPLIT_GRID) + [0.0], dtype=jets.dtype)[:, None]
    limit = math.log(s.energy_factor)
    p4 = torch.cat([jets[..., 1:] * jets[..., :1], jets[..., :1]], dim=-1)
    configs = 2 * len(splits)  # (W configuration) x (b on the m_t shell or as measured)
    theta = torch.zeros(len(masses), configs, len(jets), N_PARAMETERS, dtype=jets.dtype)
    theta[..., N_SLOTS] = masses
    for b, q1, q2 in TOPS:
        half = on_shell * torch.log(s.m_w / _mass(p4[:, q1] + p4[:, q2]).clamp(min=1.0))  # (W configs, rows)
        scale_1, scale_2 = (half + splits).clamp(-limit, limit), (half - splits).clamp(-limit, limit)
        theta[..., q1], theta[..., q2] = scale_1.repeat(2, 1), scale_2.repeat(2, 1)
        w = p4[:, q1] * torch.exp(scale_1[..., None]) + p4[:, q2] * torch.exp(scale_2[..., None])
        # m_bW^2 = m_W^2 + 2 k (p_b . p_W) for b -> k b: k = (m_t^2 - m_W^2) / (2 p_b . p_W)
        dot = (p4[:, b, 3] * w[..., 3] - (p4[:, b, :3] * w[..., :3]).sum(dim=-1)).clamp(min=1.0)
        m_w2 = _mass(w) ** 2
        theta[:, : len(splits), :, b] = torch.log((masses**2 - m_w2).clamp(min=1.0) / (2 * dot)).clamp(-limit, limit)
    with torch.no_grad():
        shares = likelihood.per_top(theta, jets, cats)  # (masses, configs, rows, 2)
    share, config = shares.min(dim=1)
    value = share.sum(dim=-1)  # (masses, rows)
    above, below = torch.cat([value[1:], value[-1:] + 1]), torch.cat([value[:1] + 1, value[:-1]])
    ranked = torch.where((value <= below) & (value < above), value, torch.inf).argsort(dim=0)[:2]
    rows = torch.arange(len(jets))
    points = []
    for mass in ranked:
        point = theta[mass, 0, rows].clone()
        for top, slots in enumerate(TOPS):
            point[:, list(slots)] = theta[mass, config[mass, rows, top], rows][:, list(slots)]
        points.append(point)
    return points


TOP_MASS_GRID = tuple(float(m) for m in np.geomspace(110.0, 950.0, 24))
SPLIT_GRID = tuple(float(d) for d in np.linspace(-0.6, 0.6, 7))
SCAN_ROWS = 2048


def best_assignment(likelihood: Likelihood, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray,
                    btag: np.ndarray, n_real: np.ndarray, n_jets: int, btag_aware: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slots (events, slots), -log L (events,), fitted m_t (events,)) of the best assignment of
    the leading `n_jets` jets: every table row the b-tag rule allows (analysis.methods.permutations)
    is fitted, all rows of all events in one batch. Events with fewer jets than slots get -1
    slots and an infinite -log L."""
    n = min(n_jets, pt.shape[1])
    rows = table(n) if n >= N_SLOTS else np.zeros((0, N_SLOTS), dtype=np.int64)
    usable = rows.max(axis=1, initial=0)[None, :] < np.minimum(n_real, n)[:, None]
    if btag_aware and rows.size:
        usable &= btag_allowed(rows, btag[:, :n] > 0)
    event, row = np.nonzero(usable)
    slots = np.full((len(pt), N_SLOTS), -1, dtype=np.int64)
    best_value, best_mass = np.full(len(pt), np.inf), np.full(len(pt), np.nan)
    if len(event) == 0:
        return slots, best_value, best_mass
    jets, cats = prepare(pt[event], eta[event], phi[event], mass[event], rows[row])
    value, theta = (t.numpy() for t in fit_batch(likelihood, jets, cats))
    order = np.lexsort((value, event))  # per event, its rows by -log L
    first = order[np.r_[True, event[order][1:] != event[order][:-1]]]
    slots[event[first]] = rows[row[first]]
    best_value[event[first]] = value[first]
    best_mass[event[first]] = theta[first, N_SLOTS]
    return slots, best_value, best_mass


def fit_one(likelihood: Likelihood, jets: torch.Tensor, cats: torch.Tensor) -> tuple[float, np.ndarray]:
    """The per-row reference: (-log L, parameters) of the same likelihood minimised by iminuit
    (MIGRAD, with the same bounds) from each of the same starts, the lowest kept."""
    from iminuit import Minuit

    jets, cats = jets[None], cats[None]

    def nll(theta):
        return float(likelihood(torch.as_tensor(theta, dtype=torch.float64)[None], jets, cats)[0])

    def gradient(theta):
        t = torch.as_tensor(theta, dtype=torch.float64)[None].requires_grad_(True)
        return torch.autograd.grad(likelihood(t, jets, cats).sum(), t)[0][0].numpy()

    low, high = bounds(likelihood.s)
    best = None
    for theta in starts(likelihood, jets, cats):
        m = Minuit(nll, theta[0].numpy(), grad=gradient)
        m.errordef = Minuit.LIKELIHOOD
        m.limits = list(zip(low.tolist(), high.tolist(), strict=True))
        m.migrad()
        if best is None or m.fval < best[0]:
            best = (float(m.fval), np.array(m.values))
    return best


class KLFitterAdapter:
    """The kinematic likelihood in the common baseline interface
    (analysis.methods.baselines.BaselineAdapter): calibrated by the transfer functions (rule
    transfer_functions); score = -log L of the best assignment."""

    chunk = 400

    @staticmethod
    def assigner(cfg: Config, calibration: dict, n_jets: int, btag_aware: bool) -> tuple[Assigner, dict]:
        settings = LikelihoodSettings()
        likelihood = Likelihood(models_from(calibration), settings)

        def assign(jets: dict[str, np.ndarray], n_real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            slots, value, _ = best_assignment(likelihood, jets["pt"], jets["eta"], jets["phi"], jets["mass"],
                                              jets["btag"], n_real, n_jets, btag_aware)
            return slots, value

        return assign, {**settings.__dict__, "n_jets": n_jets, "btag_aware": btag_aware}


ADAPTER = KLFitterAdapter()
