"""Attention layers shared by the assignment networks."""
from __future__ import annotations

import torch
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    """Scaled dot-product self-attention (eq. 2.3-2.5) over the real jets, several heads.

    Written out rather than nn.MultiheadAttention so that the ONNX export keeps the jet axis
    dynamic and the attention weights (Fig. 12) come from the same computation."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None,
                need_weights: bool = False):
        """`bias`: (batch, heads, jets, jets) added to the attention scores, or None."""
        batch, jets, d_model = x.shape
        q, k, v = self.qkv(x).view(batch, jets, 3, self.heads, d_model // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        keys = mask[:, None, None, :]
        if bias is not None:
            keys = bias.masked_fill(~keys, float("-inf"))
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
            scores = scores + keys if bias is not None else scores.masked_fill(~keys, float("-inf"))
            weights = torch.softmax(scores, dim=-1)
            attended = weights @ v
        else:
            weights = None
            attended = nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=keys, dropout_p=self.dropout if self.training else 0.0)
        attended = attended.transpose(1, 2).reshape(batch, jets, d_model)
        return self.out(attended), (weights.mean(dim=1) if need_weights else None)


class PreNormEncoderBlock(nn.Module):
    """A transformer encoder layer with layer normalisation before attention and feed-forward
    (nn.TransformerEncoderLayer with norm_first=True), whose attention takes an additive bias
    per head. Written out because the fused inference path of nn.TransformerEncoder returns NaN
    for a per-head float mask (torch 2.13)."""

    def __init__(self, d_model: int, heads: int, d_ffn: int, dropout: float):
        super().__init__()
        self.norm_attention = nn.LayerNorm(d_model)
        self.attention = MultiHeadSelfAttention(d_model, heads, dropout)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ffn, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm_attention(x), mask, bias)[0])
        return x + self.dropout(self.ffn(self.norm_ffn(x)))
