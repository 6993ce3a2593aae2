"""Quark/gluon jet taggers (seed 004): a constituent transformer and a jet-shape baseline.

ParticleTransformer follows ParT (Qu, Li, Qian 2022) and DeParT: the jet's constituents are
embedded one by one, pairwise kinematics (log Delta, log m^2, log kT, z) become one additive
attention bias per head, particle-attention blocks let the constituents talk to each other, and
class-attention blocks (CaiT) pool them into a learned class token, read out as one logit per
jet (quark = 1). Everything is per-constituent, pairwise or attention over the real
constituents, so the output is blind to their order and to padding.

ShapeTagger is the classic baseline: an MLP on a handful of per-jet shapes.
"""
from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import nn

from analysis.qg.samples import RAW_CONSTITUENT_FIELDS

CONSTITUENT_FEATURES = ("log_pt_rel", "log_e_rel", "deta", "dphi", "dr", "charged", "photon")
PAIR_FEATURES = ("log_dr", "log_m2", "log_kt", "z")
EPSILON = 1e-8
"""Floor of every logarithm's argument, so that zeros (padding, collinear pairs) stay finite."""

PT, E, DETA, DPHI, CHARGED, PHOTON = range(len(RAW_CONSTITUENT_FIELDS))


def _log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x.clamp(min=EPSILON))


def _log_sqrt(x: torch.Tensor) -> torch.Tensor:
    """log sqrt(x) with sqrt(x) floored at EPSILON, without a sqrt whose gradient is infinite at zero."""
    return 0.5 * torch.log(x.clamp(min=EPSILON ** 2))


def _real(raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """raw with the padded constituents set to zero, so that their garbage never reaches a log."""
    return torch.where(mask[..., None], raw, torch.zeros_like(raw))


def constituent_features(raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, constituents, 7) CONSTITUENT_FEATURES from raw (batch, constituents, 6); zero where padded."""
    raw = _real(raw, mask)
    dr = torch.sqrt(raw[..., DETA] ** 2 + raw[..., DPHI] ** 2)
    features = torch.stack([_log(raw[..., PT]), _log(raw[..., E]), raw[..., DETA], raw[..., DPHI], dr,
                            raw[..., CHARGED], raw[..., PHOTON]], dim=-1)
    return features * mask[..., None]


def pair_features(raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, a, b, 4) PAIR_FEATURES of every constituent pair; zero on the diagonal and where
    either constituent is padded.

    The pair mass is that of two massless constituents, m_ab^2 = 2 pT_a pT_b (cosh deta_ab - cos dphi_ab),
    written as 4 pT_a pT_b (sinh^2(deta_ab / 2) + sin^2(dphi_ab / 2)) to avoid the cancellation of
    cosh - cos for close pairs. It is invariant under the boost and rotation that take the jet axis
    to (eta, phi) = 0, so the relative coordinates give the lab-frame mass; E / pT_jet is not used
    because it carries the jet's own eta, which no pair quantity should."""
    raw = _real(raw, mask)
    pt, eta, phi = raw[..., PT], raw[..., DETA], raw[..., DPHI]
    deta = eta[:, :, None] - eta[:, None, :]
    dphi = phi[:, :, None] - phi[:, None, :]
    wrapped = torch.remainder(dphi + math.pi, 2 * math.pi) - math.pi
    delta2 = deta ** 2 + wrapped ** 2
    pt_a, pt_b = pt[:, :, None], pt[:, None, :]
    pt_min = torch.minimum(pt_a, pt_b)
    m2 = 4 * pt_a * pt_b * (torch.sinh(deta / 2) ** 2 + torch.sin(wrapped / 2) ** 2)
    features = torch.stack([_log_sqrt(delta2), _log(m2), _log_sqrt(pt_min ** 2 * delta2),
                            pt_min / (pt_a + pt_b).clamp(min=EPSILON)], dim=-1)
    n = mask.shape[1]
    keep = mask[:, :, None] & mask[:, None, :] & ~torch.eye(n, dtype=torch.bool, device=mask.device)
    return features * keep[..., None]


def _feed_forward(d_model: int, d_ffn: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_model, d_ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ffn, d_model))


class MultiHeadAttention(nn.Module):
    """Queries attend to a context with an optional additive bias per head; padded keys get
    exactly zero weight. Written out so that the bias, the key mask and dropout sit in one
    deterministic, export-friendly computation."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, context: torch.Tensor, keys: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """query (batch, q, d), context (batch, k, d), keys (batch, k) real-key mask, bias (batch, heads, q, k)."""
        batch, n_query, d_model = query.shape
        d_head = d_model // self.heads
        q = self.q(query).view(batch, n_query, self.heads, d_head).transpose(1, 2)
        k, v = self.kv(context).view(batch, -1, 2, self.heads, d_head).permute(2, 0, 3, 1, 4).unbind(0)
        scores = (q @ k.transpose(-2, -1)) * d_head ** -0.5
        if bias is not None:
            scores = scores + bias
        # a finite floor, not -inf: a row without real keys would then be uniform instead of NaN
        scores = scores.masked_fill(~keys[:, None, None, :], torch.finfo(scores.dtype).min)
        attended = self.dropout(torch.softmax(scores, dim=-1)) @ v
        return self.out(attended.transpose(1, 2).reshape(batch, n_query, d_model))


class _Block(nn.Module):
    """Pre-LayerNorm attention and GELU feed-forward sub-layers with residuals; the subclasses say
    who attends to whom."""

    def __init__(self, d_model: int, heads: int, d_ffn: int, dropout: float):
        super().__init__()
        self.norm_attention = nn.LayerNorm(d_model)
        self.attention = MultiHeadAttention(d_model, heads, dropout)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = _feed_forward(d_model, d_ffn, dropout)
        self.dropout = nn.Dropout(dropout)


class ParticleBlock(_Block):
    """Self-attention among the constituents, with the pair bias."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = self.norm_attention(x)
        x = x + self.dropout(self.attention(h, h, mask, bias))
        return x + self.dropout(self.ffn(self.norm_ffn(x)))


class ClassBlock(_Block):
    """CaiT class attention: only the class token is updated, attending to itself and the real constituents."""

    def forward(self, cls: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        context = self.norm_attention(torch.cat([cls, x], dim=1))
        keys = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        cls = cls + self.dropout(self.attention(context[:, :1], context, keys))
        return cls + self.dropout(self.ffn(self.norm_ffn(cls)))


class ParticleTransformer(nn.Module):
    """ParT-like tagger: constituent embedding, pair-biased particle attention, class attention,
    one logit per jet (quark = 1)."""

    def __init__(self, d_model: int = 32, heads: int = 4, blocks: int = 3, class_blocks: int = 1,
                 d_ffn: int = 64, d_pair: int = 32, dropout: float = 0.1):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model = {d_model} is not divisible by heads = {heads}")
        self.embed = nn.Sequential(nn.Linear(len(CONSTITUENT_FEATURES), d_ffn), nn.GELU(), nn.Linear(d_ffn, d_model))
        self.pair_embed = nn.Sequential(nn.Linear(len(PAIR_FEATURES), d_pair), nn.GELU(), nn.Linear(d_pair, heads))
        self.particle_blocks = nn.ModuleList(ParticleBlock(d_model, heads, d_ffn, dropout) for _ in range(blocks))
        self.class_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.class_blocks = nn.ModuleList(ClassBlock(d_model, heads, d_ffn, dropout) for _ in range(class_blocks))
        self.head = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 1))
        nn.init.trunc_normal_(self.class_token, std=0.02)
        # start as plain attention: the pair bias grows from zero as it proves useful
        nn.init.zeros_(self.pair_embed[-1].weight)
        nn.init.zeros_(self.pair_embed[-1].bias)

    def forward(self, raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (batch,) for raw constituents (batch, constituents, 6) and their real-constituent mask."""
        x = self.embed(constituent_features(raw, mask))
        bias = self.pair_embed(pair_features(raw, mask)).permute(0, 3, 1, 2)
        for block in self.particle_blocks:
            x = block(x, mask, bias)
        cls = self.class_token.expand(x.shape[0], -1, -1)
        for block in self.class_blocks:
            cls = block(cls, x, mask)
        return self.head(cls[:, 0]).squeeze(-1)


class ShapeTagger(nn.Module):
    """Jet-shape baseline: an MLP on per-jet inputs (pT_D, axes, multiplicities), one logit per jet."""

    def __init__(self, n_features: int, hidden: int = 64, layers: int = 3, dropout: float = 0.1):
        super().__init__()
        widths = [n_features] + [hidden] * layers
        body = [m for d_in, d_out in pairwise(widths)
                for m in (nn.Linear(d_in, d_out), nn.GELU(), nn.Dropout(dropout))]
        self.net = nn.Sequential(*body, nn.Linear(widths[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch,) for per-jet features x (batch, features)."""
        return self.net(x).squeeze(-1)


ARCHITECTURES = {"particle_transformer": ParticleTransformer, "shapes": ShapeTagger}


def build(architecture: str, hyperparameters: dict) -> nn.Module:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown q/g tagger architecture {architecture!r}; allowed: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](**hyperparameters)
