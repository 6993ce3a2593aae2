"""ONNX export of a trained network, checked against torch with ONNX Runtime.

The graph is the architecture adapter's `onnx_module` (for SAJA: the jets' class probabilities
(events, jets, 5)); it takes `x` (events, jets, columns) float32, the raw jet columns of
`model.inputs.columns` (the normalisation is in the graph), and `mask` (events, jets) bool, with
dynamic event and jet axes on every input and output.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from analysis.core.provenance import atomic_output
from analysis.methods.networks import adapter

OPSET = 17


def export(model: torch.nn.Module, architecture: str, path: str | Path) -> None:
    network = adapter(architecture)
    wrapped = network.onnx_module(model.eval().cpu())
    outputs = list(network.onnx_outputs)
    x = torch.rand(2, 8, len(model.inputs.columns))
    mask = torch.ones(2, 8, dtype=torch.bool)
    with atomic_output(path) as tmp, warnings.catch_warnings():
        # the TorchScript-based exporter is deprecated in favour of dynamo, which needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapped, (x, mask), str(tmp), input_names=["x", "mask"], output_names=outputs,
                          dynamic_axes={name: {0: "events", 1: "jets"} for name in ["x", "mask", *outputs]},
                          opset_version=OPSET, dynamo=False)


def compare(model: torch.nn.Module, architecture: str, path: str | Path, seed: int = 0) -> dict:
    """Largest difference between torch and ONNX Runtime on random events of 6-14 jets with padding."""
    n_columns = len(model.inputs.columns)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wrapped = adapter(architecture).onnx_module(model.eval().cpu())
    rng = np.random.default_rng(seed)
    worst = 0.0
    for n_jets in (6, 10, 14):
        x = rng.uniform(size=(64, n_jets, n_columns)).astype(np.float32)
        mask = np.arange(n_jets)[None, :] < rng.integers(6, n_jets + 1, size=64)[:, None]
        ours = wrapped(torch.from_numpy(x), torch.from_numpy(mask)).detach().numpy()
        theirs = session.run(None, {"x": x, "mask": mask})[0]
        worst = max(worst, float(np.abs(ours - theirs)[mask].max()))
    return {"max_abs_difference": worst, "onnxruntime": onnxruntime.__version__, "opset": OPSET}
