"""ONNX export of a trained SAJA, checked against torch with ONNX Runtime.

The graph takes `x` (events, jets, features) float32 and `mask` (events, jets) bool, both with
dynamic event and jet axes, and returns the jets' class probabilities (events, jets, 5).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from analysis.core.provenance import atomic_output

OPSET = 17


class _Probabilities(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x, mask), dim=-1)


def export(model: torch.nn.Module, n_features: int, path: str | Path) -> None:
    wrapped = _Probabilities(model.eval().cpu())
    x = torch.rand(2, 8, n_features)
    mask = torch.ones(2, 8, dtype=torch.bool)
    with atomic_output(path) as tmp, warnings.catch_warnings():
        # the TorchScript-based exporter is deprecated in favour of dynamo, which needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapped, (x, mask), str(tmp), input_names=["x", "mask"], output_names=["probabilities"],
                          dynamic_axes={"x": {0: "events", 1: "jets"}, "mask": {0: "events", 1: "jets"},
                                        "probabilities": {0: "events", 1: "jets"}},
                          opset_version=OPSET, dynamo=False)


def compare(model: torch.nn.Module, path: str | Path, n_features: int, seed: int = 0) -> dict:
    """Largest difference between torch and ONNX Runtime on random events of 6-14 jets with padding."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for n_jets in (6, 10, 14):
        x = rng.uniform(size=(64, n_jets, n_features)).astype(np.float32)
        mask = np.arange(n_jets)[None, :] < rng.integers(6, n_jets + 1, size=64)[:, None]
        ours = _Probabilities(model.eval().cpu())(torch.from_numpy(x), torch.from_numpy(mask)).detach().numpy()
        theirs = session.run(None, {"x": x, "mask": mask})[0]
        worst = max(worst, float(np.abs(ours - theirs)[mask].max()))
    return {"max_abs_difference": worst, "onnxruntime": onnxruntime.__version__, "opset": OPSET}
