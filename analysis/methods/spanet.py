"""SPA-NET: symmetry-preserving attention networks (seed 001; Fenton, Shmakov et al.).

Jets are embedded and passed through a transformer encoder; one head per particle of the
topology (analysis.topology) then forms a joint distribution over its jets. A top (a cascade
t -> b W -> b q q') gets a triplet head with *tensor attention*,

    O[i, j, k] = sum_abc X[i, a] X[j, b] X[k, c] S[a, b, c],   S[a, b, c] = T[a, b, c] + T[a, c, b],

so that O is symmetric under q1 <-> q2 by construction, softmaxed over all triplets of three
distinct real jets; a two-body decay into interchangeable partons (t tbar H's H -> b bbar) gets
the symmetric pair head O[i, j] = sum_ab X[i, a] X[j, b] (T[a, b] + T[b, a]) over pairs of two
distinct real jets. The loss takes the best of the particle <-> head pairings that the
topology's symmetries allow (t <-> tbar), and particles without all their jets matched are
masked out of it (partial-event training). At inference (`decoding`) the heads either choose in
order of confidence, each the best jets among those the more confident heads left (`greedy`, the
paper's), or together (`assignment`): the tuples without a shared jet whose log-probabilities
sum highest, searched among each head's most probable tuples.

Beyond the paper (each a hyperparameter): the inputs of analysis.methods.inputs (logarithmic,
standardised, phi relative to the leading jet, pairwise features as per-head biases of the
encoder's attention), and `triplet_masses`: each head adds to its logits a learned quadratic
form in the log of its masses (a top: m_bqq' and m_qq'; a Higgs: m_bb), a chi^2 whose centres
and widths are learned. Both are functions of the jets' four-momenta, so the symmetries and the
absence of a permutation loop are kept.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from functools import reduce

import numpy as np
import torch
from torch import nn

from analysis.methods.inputs import JetInputs, pair_mass_squared
from analysis.methods.layers import PreNormEncoderBlock
from analysis.methods.networks import jet_inputs, one_particle_matched
from analysis.topology import TOPOLOGY, Topology

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
    """Add a learned quadratic form in the log of its masses to each head's logits (a top:
    m_bqq' and m_qq'; a Higgs: m_bb)."""
    balance: bool = False
    """Weight partial and complete events by the inverse effective size of their class (which
    particles are complete, up to t <-> tbar), as the official package's `balance_particles`."""
    decoding: str = "greedy"
    """greedy: the heads choose one after the other, the most confident first (`resolve`, the
    paper's); assignment: all heads' jets at once, the most probable combination without a shared
    jet (`resolve_jointly`)."""

    def __post_init__(self):
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "pairwise", tuple(self.pairwise))
        if self.decoding not in ("greedy", "assignment"):
            raise ValueError(f"decoding {self.decoding!r}: allowed greedy, assignment")


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
        return _log_softmax_distinct(logits.float(), mask)


class PairHead(nn.Module):
    """Attention for a two-body decay into interchangeable partons (H -> b bbar): logits
    symmetric under the exchange of the two jets by construction."""

    def __init__(self, d_model: int, d_tensor: int, masses: bool = False):
        super().__init__()
        self.project = nn.Linear(d_model, d_tensor)
        self.weights = nn.Parameter(torch.randn(d_tensor, d_tensor) / d_tensor)
        self.scale = d_tensor ** -0.5
        self.mass_centre = nn.Parameter(torch.zeros(1)) if masses else None
        self.mass_weight = nn.Parameter(torch.zeros(1)) if masses else None

    def forward(self, h: torch.Tensor, mask: torch.Tensor, log_pair_mass: torch.Tensor | None = None) -> torch.Tensor:
        """Log-probabilities (batch, jets, jets) of the pair (i, j); `log_pair_mass` (batch,
        jets, jets): standardised log m_ij, with `triplet_masses`."""
        x = self.project(h)
        logits = torch.einsum("nia,ab,njb->nij", x, self.weights + self.weights.T, x) * self.scale
        if self.mass_centre is not None:
            logits = logits - nn.functional.softplus(self.mass_weight) * (log_pair_mass - self.mass_centre) ** 2
        return _log_softmax_distinct(logits.float(), mask)


def masses_squared(jets: JetInputs, raw: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(m_ij^2 (batch, jets, jets), m_i^2 (batch, jets)) in GeV^2 from the raw jet columns; zero
    where padded. Computed once per forward pass for the triplet and the pair heads."""
    raw = torch.where(mask[..., None], raw, torch.zeros_like(raw))
    pt, eta, phi, mass = (raw[..., jets.columns.index(c)] for c in ("pt", "eta", "phi", "mass"))
    return pair_mass_squared(pt, eta, phi, mass), mass ** 2


def log_mass(m2: torch.Tensor) -> torch.Tensor:
    """log m in GeV from m^2, shifted by log 100 GeV so that it is of order one (m below 1 GeV
    counts as 1 GeV)."""
    return 0.5 * torch.log(m2.clamp(min=1.0)) - LOG100


def triplet_log_masses(jets: JetInputs, raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, jets, jets, jets, 2): log m_ijk and log m_jk of every triplet (i = b, j, k = the W's
    jets), as `log_mass`; zero where padded."""
    return _triplet_log_masses(*masses_squared(jets, raw, mask))


def _triplet_log_masses(m2: torch.Tensor, m2_jet: torch.Tensor) -> torch.Tensor:
    """m_ijk^2 = m_ij^2 + m_ik^2 + m_jk^2 - m_i^2 - m_j^2 - m_k^2 from the pair masses."""
    triplet = (m2[:, :, :, None] + m2[:, :, None, :] + m2[:, None, :, :]
               - m2_jet[:, :, None, None] - m2_jet[:, None, :, None] - m2_jet[:, None, None, :])
    log_triplet = log_mass(triplet)
    log_pair = log_mass(m2)[:, None, :, :].expand_as(log_triplet)
    return torch.stack([log_triplet, log_pair], dim=-1)


def _log_softmax_distinct(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log-softmax over every tuple of distinct real jets (the jet axes after the batch)."""
    rank = logits.dim() - 1
    index = torch.arange(logits.shape[1], device=logits.device)
    eye = index[:, None] == index[None, :]  # not torch.eye: ONNX Runtime has no boolean EyeLike
    allowed = _along(mask, 0, rank)
    for a in range(1, rank):
        allowed = allowed & _along(mask, a, rank)
        for b in range(a):
            allowed = allowed & ~_along_pair(eye, b, a, rank)
    logits = logits.masked_fill(~allowed, float("-inf"))
    return torch.log_softmax(logits.flatten(1), dim=1).view_as(logits)


def _along(values: torch.Tensor, axis: int, rank: int) -> torch.Tensor:
    """(batch, jets) values spread along jet axis `axis` of a (batch, jets x `rank`) tensor."""
    return values[(slice(None), *(slice(None) if a == axis else None for a in range(rank)))]


def _along_pair(values: torch.Tensor, first: int, second: int, rank: int) -> torch.Tensor:
    """(jets, jets) values on jet axes `first` < `second` of a (batch, jets x `rank`) tensor."""
    return values[(None, *(slice(None) if a in (first, second) else None for a in range(rank)))]


def head_layout(topology: Topology) -> tuple[tuple[tuple[int, ...], int], ...]:
    """Per particle, in the topology's order: the slots on its head's jet axes and the first of the
    two axes that hold its interchangeable partons (a top's triplet (b, q1, q2): 1; a Higgs's pair
    (b1, b2): 0)."""
    layout = {c.particle: (c.slots, 1) for c in topology.cascades}
    layout.update({p.particle: (p.pair, 0) for p in topology.pairs})
    return tuple(layout[p.name] for p in topology.particles)


class Spanet(nn.Module):
    def __init__(self, hp: SpanetHyperparameters, topology: Topology = TOPOLOGY):
        super().__init__()
        self.hp = hp
        self.topology = topology
        self.inputs = JetInputs(hp.features, hp.scaling, hp.pairwise, hp.augment, four_momentum=hp.triplet_masses)
        self.embed = nn.Sequential(nn.Linear(len(hp.features), hp.d_model), nn.GELU(),
                                   nn.Linear(hp.d_model, hp.d_model))
        self.pair_bias = nn.Sequential(nn.Linear(len(hp.pairwise), hp.d_pair), nn.GELU(),
                                       nn.Linear(hp.d_pair, hp.heads)) if hp.pairwise else None
        self.encoder = nn.ModuleList(PreNormEncoderBlock(hp.d_model, hp.heads, hp.d_ffn, hp.dropout)
                                     for _ in range(hp.blocks))
        self.norm = nn.LayerNorm(hp.d_model)
        self.layout = head_layout(topology)
        self.tops = nn.ModuleList(TripletHead(hp.d_model, hp.d_tensor, hp.triplet_masses) for _ in topology.cascades)
        self.pairs = nn.ModuleList(PairHead(hp.d_model, hp.d_tensor, hp.triplet_masses) for _ in topology.pairs)

    def particle_heads(self) -> list[nn.Module]:
        """The heads in the topology's particle order (tops and pairs are kept apart, so that a
        t tbar model's weights are named as before two-body decays existed)."""
        heads = {c.particle: head for c, head in zip(self.topology.cascades, self.tops, strict=True)}
        heads.update({p.particle: head for p, head in zip(self.topology.pairs, self.pairs, strict=True)})
        return [heads[p.name] for p in self.topology.particles]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Log-probabilities for the raw jet columns x (batch, jets, `inputs.columns`), one tensor
        per particle of the topology: a top's (batch, jets, jets, jets) over (b, q1, q2) =
        `Cascade.slots`, a Higgs's (batch, jets, jets) over (b1, b2)."""
        features, pairs = self.inputs(x, mask)
        bias = self.pair_bias(pairs).permute(0, 3, 1, 2) if self.pair_bias is not None else None
        h = self.embed(features)
        for block in self.encoder:
            h = block(h, mask, bias)
        h = self.norm(h)
        triplet_masses = pair_masses = None
        if self.hp.triplet_masses:
            m2, m2_jet = masses_squared(self.inputs, x, mask)
            triplet_masses = _triplet_log_masses(m2, m2_jet) if self.topology.cascades else None
            pair_masses = log_mass(m2) if self.topology.pairs else None
        return [head(h, mask, triplet_masses if isinstance(head, TripletHead) else pair_masses)
                for head in self.particle_heads()]

    def hyperparameters(self) -> dict:
        return asdict(self.hp)


def particle_nll(log_p: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log P of the particle's jets up to the exchange of its two interchangeable partons (the
    W's quarks, the Higgs's b quarks): -(log P(ordered) + log 2); targets (batch, head axes) with
    -1 -> 0 (masked later)."""
    t = targets.clamp(min=0)
    rows = torch.arange(len(t), device=t.device)
    return -(log_p[(rows, *t.unbind(dim=1))] + LOG2)


def spanet_loss(log_p: list[torch.Tensor], targets: torch.Tensor, topology: Topology = TOPOLOGY,
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """Masked, symmetrised cross entropy: min over the particle <-> head pairings (the topology's
    particle relabellings, t <-> tbar) of the summed CE of the particles whose jets are all
    matched, divided by their number; mean (weighted by `weight` per event, if given) over the
    events with at least one such particle. `targets`: jet index per slot (events, slots)."""
    particles = [targets[:, list(slots)] for slots, _ in head_layout(topology)]
    complete = [(t >= 0).all(dim=1) for t in particles]
    pairings = []
    for pairing in topology.particle_permutations:
        pairings.append(reduce(torch.add, (particle_nll(log_p[head], particles[k]).masked_fill(~complete[k], 0.0)
                                           for head, k in enumerate(pairing))))
    n_complete = reduce(torch.add, (c.float() for c in complete))
    loss = reduce(torch.minimum, pairings) / n_complete.clamp(min=1)
    used = n_complete > 0
    if not used.any():
        return loss.sum() * 0
    if weight is None:
        return loss[used].mean()
    return (loss[used] * weight[used]).sum() / weight[used].sum()


def particle_balance(targets: np.ndarray, topology: Topology = TOPOLOGY) -> np.ndarray:
    """Per-event loss weights of partial-event training, as the official SPANet's particle
    balancing: events fall into classes by which particles are complete, classes related by the
    topology's particle relabellings (t <-> tbar) merged; a class of n events weighs
    (1 - beta) / (1 - beta^(n + 1)) with beta = 1 - 1/N (the effective number of samples, Cui et
    al. 2019), so rare classes count more; normalised to a mean weight of one over the events."""
    complete = np.stack([(targets[:, list(slots)] >= 0).all(axis=1) for slots, _ in head_layout(topology)], axis=1)
    bits = 1 << np.arange(complete.shape[1])
    keys = np.min([complete[:, list(p)] @ bits for p in topology.particle_permutations], axis=0)
    _, index, counts = np.unique(keys, return_inverse=True, return_counts=True)
    beta = 1 - 1 / max(len(targets), 2)
    weights = ((1 - beta) / (1 - beta ** (counts + 1)))[index]
    return (weights / weights.mean()).astype(np.float32) if len(weights) else weights.astype(np.float32)


def _unravel(flat: torch.Tensor, n: int | torch.Tensor, rank: int) -> torch.Tensor:
    """(..., rank) jet indices of flat indices into (n,) * rank tensors; torch.unravel_index takes
    no traced sizes, which the ONNX graph (dynamic jets) needs."""
    axes, rest = [], flat
    for _ in range(rank):
        axes.append(rest % n)
        rest = rest // n
    return torch.stack(axes[::-1], dim=-1)


def _blocked(used: torch.Tensor, rank: int) -> torch.Tensor:
    """(batch, jets x `rank`): the tuples holding a jet already taken (`used`, (batch, jets))."""
    blocked = _along(used, 0, rank)
    for axis in range(1, rank):
        blocked = blocked | _along(used, axis, rank)
    return blocked


@torch.no_grad()
def resolve(log_p: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Non-colliding jets per head ((batch, head axes) each) and their log-probabilities of the
    unordered choice (batch, heads). The heads choose in order of their best log-probability (ties:
    the earlier head first), each its best tuple among the jets the earlier ones left; for two
    heads this keeps the more confident one's triplet and moves the other only on a collision."""
    n_events, n = log_p[0].shape[0], log_p[0].shape[1]
    best = torch.stack([head.flatten(1).max(dim=1).values for head in log_p], dim=1)  # (batch, heads)
    heads = range(len(log_p))
    rank = torch.stack([reduce(torch.add, [(best[:, g] > best[:, h]).long() for g in heads] +
                               [(best[:, g] == best[:, h]).long() for g in range(h)]) for h in heads], dim=1)
    used = torch.zeros(n_events, n, dtype=torch.bool, device=log_p[0].device)
    jet = torch.arange(n, device=log_p[0].device)
    chosen = [torch.zeros(n_events, head.dim() - 1, dtype=torch.long, device=head.device) for head in log_p]
    chosen_lp = torch.zeros_like(best)
    for turn in heads:
        taken = torch.zeros_like(used)
        for h, head in enumerate(log_p):
            rank_h = head.dim() - 1
            value, flat = head.masked_fill(_blocked(used, rank_h), float("-inf")).flatten(1).max(dim=1)
            now = rank[:, h] == turn
            chosen[h] = torch.where(now[:, None], _unravel(flat, n, rank_h), chosen[h])
            chosen_lp[:, h] = torch.where(now, value, chosen_lp[:, h])
            for axis in range(rank_h):
                taken = taken | ((jet[None, :] == chosen[h][:, axis, None]) & now[:, None])
        used = used | taken
    return chosen, chosen_lp + LOG2


COMBINATIONS = 8000
"""Combinations of tuples that `resolve_jointly` scores per event: each head's K most probable
tuples, K the largest with K^heads <= COMBINATIONS (t tbar: 89 triplets per top; t tbar H: 20
per top and 20 Higgs pairs)."""


@torch.no_grad()
def resolve_jointly(log_p: list[torch.Tensor], layout: tuple[tuple[tuple[int, ...], int], ...],
                    combinations: int = COMBINATIONS) -> tuple[list[torch.Tensor], torch.Tensor]:
    """As `resolve`, but the heads choose together: the combination of one tuple per head, no jet
    in two, whose log-probabilities sum highest, among each head's K most probable unordered
    tuples (`COMBINATIONS`; `layout`: `head_layout`, whose interchangeable axes are read in one
    order only). The greedy choice keeps a confident head's tuple even when it costs the others
    more than it gains; this does not. Events with no such combination among those K keep
    `resolve`'s choice."""
    n_events, n = log_p[0].shape[0], log_p[0].shape[1]
    k = int(combinations ** (1 / len(log_p)) + 1e-9)
    jet = torch.arange(n, device=log_p[0].device)
    values, tuples = [], []
    for head, (_, first) in zip(log_p, layout, strict=True):
        rank = head.dim() - 1
        unordered = head.masked_fill(~_along_pair(jet[:, None] < jet[None, :], first, first + 1, rank), float("-inf"))
        flat = torch.cat([unordered.flatten(1), unordered.new_full((n_events, k), float("-inf"))], dim=1)
        value, index = flat.topk(k, dim=1)  # padded: fewer than k tuples exist below five jets
        values.append(value)
        tuples.append(_unravel(index, n, rank).clamp(max=n - 1))
    total = reduce(torch.add, (value.view(n_events, *_axis_shape(h, len(log_p), k)) for h, value in enumerate(values)))
    for h, g in itertools.combinations(range(len(log_p)), 2):
        clash = (tuples[h][:, :, None, :, None] == tuples[g][:, None, :, None, :]).flatten(3).any(dim=3)
        total = total.masked_fill(clash.view(n_events, *_axis_shape((h, g), len(log_p), k)), float("-inf"))
    best, flat_choice = total.flatten(1).max(dim=1)
    found = best > float("-inf")
    greedy, greedy_lp = resolve(log_p)
    picks = _unravel(flat_choice, k, len(log_p))
    chosen, chosen_lp = [], []
    for h, (value, tuple_) in enumerate(zip(values, tuples, strict=True)):
        pick = picks[:, h]
        picked = tuple_.gather(1, pick[:, None, None].expand(-1, 1, tuple_.shape[2]))[:, 0]
        chosen.append(torch.where(found[:, None], picked, greedy[h]))
        chosen_lp.append(torch.where(found, value.gather(1, pick[:, None])[:, 0] + LOG2, greedy_lp[:, h]))
    return chosen, torch.stack(chosen_lp, dim=1)


def _axis_shape(axes: int | tuple[int, ...], n_axes: int, size: int) -> tuple[int, ...]:
    """The shape that spreads a tensor of `size` along each of `axes` over `n_axes` axes."""
    axes = (axes,) if isinstance(axes, int) else axes
    return tuple(size if a in axes else 1 for a in range(n_axes))


def jet_marginals(log_p: list[torch.Tensor], mask: torch.Tensor, topology: Topology = TOPOLOGY) -> torch.Tensor:
    """Per-jet class probabilities (batch, jets, classes) from the heads: P(jet is b of top 1)
    etc., summed over the slots of each class (both W jets of a top); the last class ('other')
    takes what is left."""
    axis = {}  # slot -> (head, the jet axis it is)
    for head, (slots, _) in enumerate(head_layout(topology)):
        axis.update({slot: (head, position + 1) for position, slot in enumerate(slots)})

    def marginal(slot: int) -> torch.Tensor:
        head, keep = axis[slot]
        p = log_p[head].exp()
        return p.sum(dim=tuple(a for a in range(1, p.dim()) if a != keep))

    classes = torch.stack([reduce(torch.add, (marginal(s) for s in slots)) for _, slots in topology.class_slots],
                          dim=-1).clamp(0, 1)
    other = (1 - classes.sum(dim=-1)).clamp(min=0)
    out = torch.cat([classes, other[..., None]], dim=-1)
    out = out / out.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    return out * mask[..., None]


class SpanetAdapter:
    """SPA-NET in the common method interface (analysis.methods.networks.NetworkAdapter): one
    distribution per particle, trained on events with at least one fully matched particle
    (partial-event training); score = -log of the chosen tuples' probabilities. Interchangeable
    partons fill their slots in pT order (a W's q1 the harder)."""

    hyperparameters = SpanetHyperparameters

    @staticmethod
    def build(hyperparameters: dict, topology: Topology) -> Spanet:
        return Spanet(SpanetHyperparameters(**hyperparameters), topology)

    @staticmethod
    def training_rows(data: dict, hp: SpanetHyperparameters, topology: Topology) -> np.ndarray:
        return one_particle_matched(data["targets"], topology)

    @staticmethod
    def tensors(data: dict, hp: SpanetHyperparameters, topology: Topology) -> dict[str, torch.Tensor]:
        tensors = jet_inputs(data)
        if hp.balance:
            tensors["weight"] = torch.from_numpy(particle_balance(data["targets"], topology))
        return tensors

    @staticmethod
    def loss(model: Spanet, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return spanet_loss(model(batch["x"], batch["mask"]), batch["targets"], model.topology, batch.get("weight"))

    @staticmethod
    def decode(model: Spanet, x: torch.Tensor, mask: torch.Tensor, pt: torch.Tensor):
        log_p = [head.float() for head in model(x, mask)]
        chosen, log_prob = resolve(log_p) if model.hp.decoding == "greedy" else resolve_jointly(log_p, model.layout)
        columns: list[torch.Tensor | None] = [None] * len(model.topology.slots)
        for jets, (slots, first) in zip(chosen, model.layout, strict=True):
            for position, slot in enumerate(slots):
                columns[slot] = jets[:, position]
            a, b = jets[:, first], jets[:, first + 1]
            a_harder = pt.gather(1, a[:, None])[:, 0] >= pt.gather(1, b[:, None])[:, 0]
            columns[slots[first]], columns[slots[first + 1]] = torch.where(a_harder, a, b), torch.where(a_harder, b, a)
        valid = mask.sum(dim=1) >= len(model.topology.slots)
        return torch.stack(columns, dim=1), valid, -log_prob.sum(dim=1), jet_marginals(log_p, mask, model.topology)


ADAPTER = SpanetAdapter()
