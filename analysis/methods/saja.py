"""SAJA: Self-Attention for Jet Assignment (seed 000, sections 2-3).

Jet-wise feed-forward network -> N_block multi-head self-attention blocks -> jet-wise
feed-forward network -> softmax over the topology's jet classes for every jet (t tbar: the
paper's five, {b1, W1, b2, W2, other}; t tbar H adds H).
Every operation is jet-wise or self-attention, so the network is equivariant under jet
permutations; padded jets are masked out of the attention keys and of the loss.

Beyond the paper (each a hyperparameter, analysis.methods.inputs): logarithmic, standardised
per-jet inputs with phi relative to the leading jet, and pairwise features (log m_ij, log Delta R_ij,
...) that enter every attention block as one additive bias per head, so that invariant masses
need not be learned from (pT, eta, phi) (the particle transformer's interaction matrix; the
q/g tagger does the same). The bias is a function of the pair alone, so equivariance holds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import reduce

import numpy as np
import torch
from torch import nn

from analysis.methods.decoding import best_valid_assignment, slots_from_classes
from analysis.methods.inputs import JetInputs
from analysis.methods.layers import MultiHeadSelfAttention
from analysis.methods.networks import jet_inputs, one_particle_matched
from analysis.topology import MATCHED, TOPOLOGY, Topology


@dataclass(frozen=True)
class SajaHyperparameters:
    features: tuple[str, ...]
    """What the network sees of each jet (stored or derived, analysis.methods.inputs)."""
    d_k: int = 16
    heads: int = 10
    d_ffn: int = 1024
    blocks: int = 6
    dropout: float = 0.1
    decoding: str = "argmax"
    """argmax: each jet's most probable class, valid only when every class has as many jets as
    slots (t tbar: one b1, two W1, one b2 and two W2 jets; the paper); assignment: the best valid
    assignment (analysis.methods.decoding)."""
    train_on: str = "matched"
    """matched: fully matched events only (the paper); partial: also events with one fully
    matched top, where jets that match no parton are left out of the loss (one of them may be an
    unmatched parton's jet, so calling it "other" could be wrong)."""
    scaling: str = "minmax"
    """minmax: the paper's [0, 1] ranges; standard: zero mean, unit width (analysis.methods.inputs)."""
    pairwise: tuple[str, ...] = ()
    """Pairwise features turned into a per-head attention bias (none: the paper)."""
    d_pair: int = 32
    """Hidden width of the network that maps the pairwise features to the heads' biases."""
    augment: bool = False
    """Mirror eta and phi of whole events at random while training."""

    def __post_init__(self):
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "pairwise", tuple(self.pairwise))
        if self.decoding not in ("argmax", "assignment"):
            raise ValueError(f"decoding {self.decoding!r}: allowed argmax, assignment")

    @property
    def d_model(self) -> int:
        return self.d_k * self.heads


def feed_forward(d_in: int, d_hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    """Affine, leaky ReLU, dropout, affine, leaky ReLU (the paper's jet-wise FFN)."""
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.LeakyReLU(), nn.Dropout(dropout),
                         nn.Linear(d_hidden, d_out), nn.LeakyReLU())


class SelfAttentionBlock(nn.Module):
    """Multi-head self-attention and a feed-forward network, each with dropout, a skip
    connection and layer normalisation."""

    def __init__(self, hp: SajaHyperparameters):
        super().__init__()
        self.attention = MultiHeadSelfAttention(hp.d_model, hp.heads, hp.dropout)
        self.norm_attention = nn.LayerNorm(hp.d_model)
        self.ffn = feed_forward(hp.d_model, hp.d_ffn, hp.d_model, hp.dropout)
        self.norm_ffn = nn.LayerNorm(hp.d_model)
        self.dropout = nn.Dropout(hp.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None,
                need_weights: bool = False):
        attended, weights = self.attention(x, mask, bias, need_weights=need_weights)
        x = self.norm_attention(x + self.dropout(attended))
        x = self.norm_ffn(x + self.dropout(self.ffn(x)))
        return x, weights


class Saja(nn.Module):
    def __init__(self, hp: SajaHyperparameters, topology: Topology = TOPOLOGY):
        super().__init__()
        self.hp = hp
        self.topology = topology
        self.inputs = JetInputs(hp.features, hp.scaling, hp.pairwise, hp.augment)
        self.embed = feed_forward(len(hp.features), hp.d_ffn, hp.d_model, hp.dropout)
        self.pair_bias = nn.Sequential(nn.Linear(len(hp.pairwise), hp.d_pair), nn.GELU(),
                                       nn.Linear(hp.d_pair, hp.heads)) if hp.pairwise else None
        self.blocks = nn.ModuleList(SelfAttentionBlock(hp) for _ in range(hp.blocks))
        self.head = nn.Sequential(nn.Linear(hp.d_model, hp.d_ffn), nn.LeakyReLU(), nn.Dropout(hp.dropout),
                                  nn.Linear(hp.d_ffn, len(topology.classes)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, return_attention: bool = False):
        """Logits (batch, jets, classes) for the raw jet columns x (batch, jets, `inputs.columns`) and
        the real-jet mask; with `return_attention`, also each block's head-averaged attention
        (batch, jets, jets)."""
        features, pairs = self.inputs(x, mask)
        h = self.embed(features)
        bias = self.pair_bias(pairs).permute(0, 3, 1, 2) if self.pair_bias is not None else None
        attention = []
        for block in self.blocks:
            h, weights = block(h, mask, bias, need_weights=return_attention)
            attention.append(weights)
        logits = self.head(h)
        return (logits, attention) if return_attention else logits

    def hyperparameters(self) -> dict:
        return asdict(self.hp)


def saja_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, topology: Topology = TOPOLOGY
              ) -> torch.Tensor:
    """Eq. 2.2: jet-wise cross entropy averaged over each event's real jets, with the labels
    taken in whichever of the topology's particle relabellings (t <-> tbar) fits the event
    better; mean over events. (Swapping interchangeable daughters, q <-> q' or the Higgs's b
    quarks, leaves the jet classes unchanged.)

    The paper writes the min inside the sum over jets; taken literally that lets the two b
    jets both be called b1. The min over the event's two consistent labellings used here is
    equally blind to the arbitrary top indices and keeps each event's labelling consistent.
    """
    log_p = torch.log_softmax(logits.float(), dim=-1)
    safe = labels.clamp(min=0)
    n_jets = mask.sum(dim=1).clamp(min=1)
    per_labelling = []
    for relabel in torch.tensor(topology.class_permutations, device=labels.device):
        nll = -log_p.gather(-1, relabel[safe].unsqueeze(-1)).squeeze(-1)
        per_labelling.append((nll * mask).sum(dim=1) / n_jets)
    return reduce(torch.minimum, per_labelling).mean()


def predictive_entropy(probabilities: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 2.6: the jets' mean entropy of the class probabilities, per event."""
    entropy = -(probabilities * torch.log(probabilities.clamp(min=1e-30))).sum(dim=-1)
    return (entropy * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


class SajaAdapter:
    """SAJA in the common method interface (analysis.methods.networks.NetworkAdapter): jet-wise
    classes, trained on fully matched events; score = predictive entropy."""

    hyperparameters = SajaHyperparameters

    @staticmethod
    def build(hyperparameters: dict, topology: Topology) -> Saja:
        return Saja(SajaHyperparameters(**hyperparameters), topology)

    @staticmethod
    def training_rows(data: dict, hp: SajaHyperparameters, topology: Topology) -> np.ndarray:
        if hp.train_on == "partial":
            return one_particle_matched(data["targets"], topology)
        return data["category"] == MATCHED

    @staticmethod
    def tensors(data: dict, hp: SajaHyperparameters, topology: Topology) -> dict[str, torch.Tensor]:
        """Inputs, jet labels and the jets the loss counts: every real jet of a fully matched
        event; in other events only the jets matched to a parton."""
        labels = data["jet_label"].astype(np.int64)
        complete = (data["targets"] >= 0).all(axis=1)
        counted = data["mask"] & (complete[:, None] | (labels != topology.other_class))
        return {**jet_inputs(data), "labels": torch.from_numpy(labels), "loss_mask": torch.from_numpy(counted)}

    @staticmethod
    def loss(model: Saja, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return saja_loss(model(batch["x"], batch["mask"]), batch["labels"], batch["loss_mask"], model.topology)

    @staticmethod
    def decode(model: Saja, x: torch.Tensor, mask: torch.Tensor, pt: torch.Tensor):
        probabilities = torch.softmax(model(x, mask).float(), dim=-1)
        if model.hp.decoding == "assignment":
            slots, valid = best_valid_assignment(torch.log(probabilities.clamp(min=1e-30)), mask, pt, model.topology)
        else:
            slots, valid = slots_from_classes(probabilities.argmax(dim=-1), mask, pt, model.topology)
        return slots, valid, predictive_entropy(probabilities, mask), probabilities

    @staticmethod
    def attention(model: Saja, x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Each block's head-averaged attention (events, jets, jets)."""
        return model(x, mask, return_attention=True)[1]


ADAPTER = SajaAdapter()
