"""ONNX export of a trained network with the assignment inside, checked against torch with ONNX
Runtime.

The graph is the architecture's `decode` (analysis.methods.networks.NetworkAdapter): it takes
`x` (events, jets, columns) float32, the raw jet columns listed in the metadata key `columns`
(pT in GeV, eta, phi, mass, b-tag, ...; the normalisation is in the graph), and `mask`
(events, jets) bool, and returns `slots` (events, slots) int64 (the jet index per parton slot,
slot names in the metadata key `slots`, -1 where the event has no valid assignment), `valid`
(events,) bool, `score` (events,) float32 (lower = more confident; its name in `score_name`) and
`probabilities` (events, jets, classes) float32, with dynamic event and jet axes. Jets of an
event need no order: the W jets of a top come out in pT order (q1 the harder) either way.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from analysis import __version__, methods
from analysis.core.provenance import atomic_output
from analysis.methods.networks import adapter

OPSET = 17
OUTPUTS = ("slots", "valid", "score", "probabilities")


class Decoded(nn.Module):
    """A network with its decoding: raw jets and mask in, the assignment out. pT for the order of
    the W jets is the raw `pt` column of x."""

    def __init__(self, model: nn.Module, architecture: str):
        super().__init__()
        self.model, self.decode = model, adapter(architecture).decode
        self.pt = model.inputs.columns.index("pt")

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        return self.decode(self.model, x, mask, x[..., self.pt])


def metadata(model: nn.Module, architecture: str, extra: dict[str, str]) -> dict[str, str]:
    """What a user of the .onnx file needs to feed it and read it, as string key/values."""
    return {"architecture": architecture, "columns": json.dumps(list(model.inputs.columns)),
            "features": json.dumps(list(model.hp.features)), "classes": json.dumps(model.topology.class_names),
            "slots": json.dumps(model.topology.slot_names), "score_name": methods.get(architecture).score_name,
            "ttjpa_version": __version__, **extra}


def export(model: nn.Module, architecture: str, path: str | Path, extra: dict[str, str] | None = None) -> None:
    """Write `model` with its decoding as ONNX to `path`, with `metadata` (plus `extra`) in the
    model's metadata map."""
    wrapped = Decoded(model.eval().cpu(), architecture)
    x = torch.rand(2, 8, len(model.inputs.columns)) * 100
    mask = torch.ones(2, 8, dtype=torch.bool)
    axes = {"x": {0: "events", 1: "jets"}, "mask": {0: "events", 1: "jets"}, "slots": {0: "events"},
            "valid": {0: "events"}, "score": {0: "events"}, "probabilities": {0: "events", 1: "jets"}}
    with atomic_output(path) as tmp, warnings.catch_warnings():
        # the TorchScript-based exporter is deprecated in favour of dynamo, which needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapped, (x, mask), str(tmp), input_names=["x", "mask"], output_names=list(OUTPUTS),
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        graph = onnx.load(str(tmp))
        onnx.helper.set_model_props(graph, metadata(model, architecture, extra or {}))
        onnx.save(graph, str(tmp))


def compare(model: nn.Module, architecture: str, path: str | Path, x: np.ndarray, mask: np.ndarray,
            batch_size: int = 1000) -> dict:
    """ONNX Runtime against torch on the events `x` (raw jet columns) and `mask`: how many
    assignments differ (slots or validity) and the largest difference of the scores and of the
    real jets' probabilities."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wrapped = Decoded(model.eval().cpu(), architecture)
    differ, score, probability = 0, 0.0, 0.0
    for start in range(0, len(x), batch_size):
        xs, ms = x[start:start + batch_size], mask[start:start + batch_size]
        with torch.no_grad():
            ours = [t.numpy() for t in wrapped(torch.from_numpy(xs), torch.from_numpy(ms))]
        theirs = session.run(list(OUTPUTS), {"x": xs, "mask": ms})
        differ += int(((ours[0] != theirs[0]).any(axis=1) | (ours[1] != theirs[1])).sum())
        both = ours[1] & theirs[1]  # an event without a valid assignment may have an infinite score
        score = max(score, float(np.abs(ours[2] - theirs[2])[both].max(initial=0.0)))
        probability = max(probability, float(np.abs(ours[3] - theirs[3])[ms].max(initial=0.0)))
    return {"events": len(x), "assignments_differing": differ, "max_abs_score_difference": score,
            "max_abs_probability_difference": probability, "onnxruntime": onnxruntime.__version__, "opset": OPSET}
