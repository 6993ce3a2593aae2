"""SPA-NET: symmetry-preserving attention networks (seed 001; Fenton, Shmakov et al.).

Jets are embedded and passed through a transformer encoder; one head per top quark (per cascade
of the topology, analysis.topology) then forms a joint distribution over the (b, q1, q2) jet
triplet with *tensor attention*,

    O[i, j, k] = sum_abc X[i, a] X[j, b] X[k, c] S[a, b, c],   S[a, b, c] = T[a, b, c] + T[a, c, b],

so that O is symmetric under q1 <-> q2 by construction, softmaxed over all triplets of three
distinct real jets. The loss takes the better of the two top <-> head pairings, and tops without
all three jets matched are masked out of it (partial-event training). At inference, when the
two heads pick a common jet, the more confident head keeps its triplet and the other takes its
best triplet among the remaining jets.

Beyond the paper (each a hyperparameter): the inputs of analysis.methods.inputs (logarithmic,
standardised, phi relative to the leading jet, pairwise features as per-head biases of the
encoder's attention), and `triplet_masses`: each head adds to its triplet logits a learned
quadratic form in (log m_bqq', log m_qq'), the masses of the triplet and of its pair, a chi^2
whose centres and widths are learned. Both are functions of the jets' four-momenta, so the
symmetries and the absence of a permutation loop are kept.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import reduce

import numpy as np
import torch
from torch import nn

from analysis.methods.inputs import JetInputs, pair_mass_squared
from analysis.methods.layers import PreNormEncoderBlock
from analysis.methods.networks import jet_inputs, one_top_matched
from analysis.topology import TOPOLOGY

LOG2 = float(torch.log(torch.tensor(2.0)))
LOG100 = float(torch.log(torch.tensor(100.0)))


@dataclass(frozen=True)
class SpanetHyperparameters:
    features: tuple[str, ...]
    """What the network sees of each jet (stored or derived, analysis.methods.inputs)."""
    d_model: int = 64
    heads: int = 4
    d_ffn: int = 256
    blocks: int = 3
    d_tensor: int = 32
    dropout: float = 0.1
    scaling: str = "minmax"
    """minmax: [0, 1] ranges; standard: zero mean, unit width (analysis.methods.inputs)."""
    pairwise: tuple[str, ...] = ()
    """Pairwise features turned into a per-head bias of the encoder's attention."""
    d_pair: int = 32
    augment: bool = False
    """Mirror eta and phi of whole events at random while training."""
    triplet_masses: bool = False
    """Add a learned quadratic form in (log m_bqq', log m_qq') to each head's triplet logits."""
    balance: bool = False
    """Weight partial and complete events by the inverse effective size of their class (which tops
    are complete, up to t <-> tbar), as the official package's `balance_particles`."""

    def __post_init__(self):
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "pairwise", tuple(self.pairwise))


class TripletHead(nn.Module):
    """Tensor attention for a three-body decay b q q' with the q <-> q' symmetry."""

    def __init__(self, d_model: int, d_tensor: int, masses: bool = False):
        super().__init__()
        self.project = nn.Linear(d_model, d_tensor)
        self.weights = nn.Parameter(torch.randn(d_tensor, d_tensor, d_tensor) / d_tensor)
        self.scale = d_tensor ** -1.0
        self.mass_centre = nn.Parameter(torch.zeros(2)) if masses else None
        self.mass_weight = nn.Parameter(torch.zeros(2)) if masses else None

    def forward(self, h: torch.Tensor, mask: torch.Tensor, log_masses: torch.Tensor | None = None) -> torch.Tensor:
        """Log-probabilities (batch, jets, jets, jets) of (b, q1, q2) = (i, j, k); `log_masses`
        (batch, jets, jets, jets, 2): standardised log m_ijk and log m_jk, with `triplet_masses`."""
        x = self.project(h)
        symmetric = self.weights + self.weights.transpose(1, 2)
        y = torch.einsum("nia,abc->nibc", x, symmetric)
        z = torch.einsum("njb,nibc->nijc", x, y)
        logits = torch.einsum("nkc,nijc->nijk", x, z) * self.scale
        if self.mass_centre is not None:
            penalty = nn.functional.softplus(self.mass_weight) * (log_masses - self.mass_centre) ** 2
            logits = logits - penalty.sum(dim=-1)
        return _log_softmax_triplets(logits.float(), mask)


def triplet_log_masses(jets: JetInputs, raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, jets, jets, jets, 2): log m_ijk and log m_jk of every triplet (i = b, j, k = the W's
    jets), in GeV, shifted by log 100 GeV so that they are of order one; zero where padded.

    m_ijk^2 = m_ij^2 + m_ik^2 + m_jk^2 - m_i^2 - m_j^2 - m_k^2 from the pair masses."""
    raw = torch.where(mask[..., None], raw, torch.zeros_like(raw))
    pt, eta, phi, mass = (raw[..., jets.columns.index(c)] for c in ("pt", "eta", "phi", "mass"))
    m2 = pair_mass_squared(pt, eta, phi, mass)
    m2_jet = mass ** 2
    triplet = (m2[:, :, :, None] + m2[:, :, None, :] + m2[:, None, :, :]
               - m2_jet[:, :, None, None] - m2_jet[:, None, :, None] - m2_jet[:, None, None, :])
    log_triplet = 0.5 * torch.log(triplet.clamp(min=1.0)) - LOG100
    log_pair = (0.5 * torch.log(m2.clamp(min=1.0)) - LOG100)[:, None, :, :].expand_as(log_triplet)
    return torch.stack([log_triplet, log_pair], dim=-1)


def _log_softmax_triplets(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    index = torch.arange(logits.shape[1], device=logits.device)
    eye = index[:, None] == index[None, :]  # not torch.eye: ONNX Runtime has no boolean EyeLike
    distinct = ~(eye[:, :, None] | eye[:, None, :] | eye[None, :, :])
    allowed = distinct & mask[:, :, None, None] & mask[:, None, :, None] & mask[:, None, None, :]
    logits = logits.masked_fill(~allowed, float("-inf"))
    return torch.log_softmax(logits.flatten(1), dim=1).view_as(logits)


class Spanet(nn.Module):
    def __init__(self, hp: SpanetHyperparameters):
        super().__init__()
        self.hp = hp
        self.inputs = JetInputs(hp.features, hp.scaling, hp.pairwise, hp.augment, four_momentum=hp.triplet_masses)
        self.embed = nn.Sequential(nn.Linear(len(hp.features), hp.d_model), nn.GELU(),
                                   nn.Linear(hp.d_model, hp.d_model))
        self.pair_bias = nn.Sequential(nn.Linear(len(hp.pairwise), hp.d_pair), nn.GELU(),
                                       nn.Linear(hp.d_pair, hp.heads)) if hp.pairwise else None
        self.encoder = nn.ModuleList(PreNormEncoderBlock(hp.d_model, hp.heads, hp.d_ffn, hp.dropout)
                                     for _ in range(hp.blocks))
        self.norm = nn.LayerNorm(hp.d_model)
        self.tops = nn.ModuleList(TripletHead(hp.d_model, hp.d_tensor, hp.triplet_masses) for _ in TOPOLOGY.cascades)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (batch, tops, jets, jets, jets) for the raw jet columns x (batch, jets,
        `inputs.columns`): one triplet distribution per top head, axes in the order (b, q1, q2)
        of `Cascade.slots`."""
        features, pairs = self.inputs(x, mask)
        bias = self.pair_bias(pairs).permute(0, 3, 1, 2) if self.pair_bias is not None else None
        h = self.embed(features)
        for block in self.encoder:
            h = block(h, mask, bias)
        h = self.norm(h)
        log_masses = triplet_log_masses(self.inputs, x, mask) if self.hp.triplet_masses else None
        return torch.stack([head(h, mask, log_masses) for head in self.tops], dim=1)

    def hyperparameters(self) -> dict:
        return asdict(self.hp)


def triplet_nll(log_p: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log P of the unordered triplet (b, {q1, q2}); targets (batch, 3) with -1 -> 0 (masked later)."""
    t = targets.clamp(min=0)
    rows = torch.arange(len(t), device=t.device)
    return -(log_p[rows, t[:, 0], t[:, 1], t[:, 2]] + LOG2)


def spanet_loss(log_p: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Masked, symmetrised cross entropy: min over the top <-> head pairings (the topology's
    particle relabellings) of the summed CE of the tops whose three jets are all matched,
    divided by their number; mean (weighted by `weight` per event, if given) over the events with
    at least one such top. `targets`: jet index per slot (events, slots)."""
    tops = [targets[:, list(top)] for top in TOPOLOGY.cascade_slots]
    complete = [(t >= 0).all(dim=1) for t in tops]
    pairings = []
    for pairing in TOPOLOGY.particle_permutations:
        pairings.append(reduce(torch.add, (triplet_nll(log_p[:, head], tops[top]).masked_fill(~complete[top], 0.0)
                                           for head, top in enumerate(pairing))))
    n_complete = reduce(torch.add, (c.float() for c in complete))
    loss = reduce(torch.minimum, pairings) / n_complete.clamp(min=1)
    used = n_complete > 0
    if not used.any():
        return loss.sum() * 0
    if weight is None:
        return loss[used].mean()
    return (loss[used] * weight[used]).sum() / weight[used].sum()


def particle_balance(targets: np.ndarray) -> np.ndarray:
    """Per-event loss weights of partial-event training, as the official SPANet's particle
    balancing: events fall into classes by which cascades (tops) are complete, classes related by
    the topology's particle relabellings (t <-> tbar) merged; a class of n events weighs
    (1 - beta) / (1 - beta^(n + 1)) with beta = 1 - 1/N (the effective number of samples, Cui et
    al. 2019), so rare classes count more; normalised to a mean weight of one over the events."""
    complete = np.stack([(targets[:, list(top)] >= 0).all(axis=1) for top in TOPOLOGY.cascade_slots], axis=1)
    bits = 1 << np.arange(complete.shape[1])
    keys = np.min([complete[:, list(p)] @ bits for p in TOPOLOGY.particle_permutations], axis=0)
    _, index, counts = np.unique(keys, return_inverse=True, return_counts=True)
    beta = 1 - 1 / max(len(targets), 2)
    weights = ((1 - beta) / (1 - beta ** (counts + 1)))[index]
    return (weights / weights.mean()).astype(np.float32) if len(weights) else weights.astype(np.float32)


def _unravel(flat: torch.Tensor, n: int | torch.Tensor) -> torch.Tensor:
    """(..., 3) jet indices of flat indices into (n, n, n) triplet tensors; torch.unravel_index
    takes no traced sizes, which the ONNX graph (dynamic jets) needs."""
    return torch.stack([flat // (n * n), (flat // n) % n, flat % n], dim=-1)


@torch.no_grad()
def resolve(log_p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best non-colliding triplets (batch, 2, 3) and their log-probabilities (batch, 2)."""
    n_events, _, n, _, _ = log_p.shape
    flat = log_p.flatten(2)
    best_lp, best = flat.max(dim=2)
    triplets = _unravel(best, n)  # (batch, 2, 3)
    winner = (best_lp[:, 1] > best_lp[:, 0]).long()
    loser = 1 - winner
    rows = torch.arange(n_events, device=log_p.device)
    used = torch.zeros(n_events, n, dtype=torch.bool, device=log_p.device)
    used[rows[:, None], triplets[rows, winner]] = True
    blocked = used[:, :, None, None] | used[:, None, :, None] | used[:, None, None, :]
    retry = log_p[rows, loser].masked_fill(blocked, float("-inf")).flatten(1)
    retry_lp, retry_best = retry.max(dim=1)
    collide = (triplets[rows, loser][:, :, None] == triplets[rows, winner][:, None, :]).any(dim=(1, 2))
    new = _unravel(retry_best, n)
    triplets[rows, loser] = torch.where(collide[:, None], new, triplets[rows, loser])
    best_lp[rows, loser] = torch.where(collide, retry_lp, best_lp[rows, loser])
    return triplets, best_lp + LOG2


def jet_marginals(log_p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-jet class probabilities (batch, jets, classes) from the heads: P(jet is b of top 1)
    etc., summed over the slots of each class (both W jets of a top); the last class ('other')
    takes what is left."""
    p = log_p.exp()
    axis = {}  # slot -> (head, the triplet axis it is)
    for head, top in enumerate(TOPOLOGY.cascade_slots):
        axis.update({slot: (head, position + 1) for position, slot in enumerate(top)})

    def marginal(slot: int) -> torch.Tensor:
        head, keep = axis[slot]
        return p[:, head].sum(dim=tuple(a for a in (1, 2, 3) if a != keep))

    classes = torch.stack([reduce(torch.add, (marginal(s) for s in slots)) for _, slots in TOPOLOGY.class_slots],
                          dim=-1).clamp(0, 1)
    other = (1 - classes.sum(dim=-1)).clamp(min=0)
    out = torch.cat([classes, other[..., None]], dim=-1)
    out = out / out.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    return out * mask[..., None]




class SpanetAdapter:
    """SPA-NET in the common method interface (analysis.methods.networks.NetworkAdapter): one
    triplet distribution per top, trained on events with at least one fully matched top
    (partial-event training); score = -log of the two chosen triplets' probabilities. The W's
    jets fill its slots in pT order (q1 the harder)."""

    hyperparameters = SpanetHyperparameters

    @staticmethod
    def build(hyperparameters: dict) -> Spanet:
        return Spanet(SpanetHyperparameters(**hyperparameters))

    @staticmethod
    def training_rows(data: dict, hp: SpanetHyperparameters) -> np.ndarray:
        return one_top_matched(data["targets"])

    @staticmethod
    def tensors(data: dict, hp: SpanetHyperparameters) -> dict[str, torch.Tensor]:
        tensors = jet_inputs(data)
        if hp.balance:
            tensors["weight"] = torch.from_numpy(particle_balance(data["targets"]))
        return tensors

    @staticmethod
    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return spanet_loss(model(batch["x"], batch["mask"]), batch["targets"], batch.get("weight"))

    @staticmethod
    def decode(model: Spanet, x: torch.Tensor, mask: torch.Tensor, pt: torch.Tensor):
        log_p = model(x, mask).float()
        triplets, log_prob = resolve(log_p)
        columns: list[torch.Tensor | None] = [None] * len(TOPOLOGY.slots)
        for head, top in enumerate(TOPOLOGY.cascades):
            b, qa, qb = triplets[:, head, 0], triplets[:, head, 1], triplets[:, head, 2]
            a_harder = pt.gather(1, qa[:, None])[:, 0] >= pt.gather(1, qb[:, None])[:, 0]
            columns[top.spectator] = b
            columns[top.pair[0]], columns[top.pair[1]] = torch.where(a_harder, qa, qb), torch.where(a_harder, qb, qa)
        valid = mask.sum(dim=1) >= len(TOPOLOGY.slots)
        return torch.stack(columns, dim=1), valid, -log_prob.sum(dim=1), jet_marginals(log_p, mask)


ADAPTER = SpanetAdapter()
