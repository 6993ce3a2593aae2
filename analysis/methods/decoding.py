"""Decoding per-jet class probabilities into an assignment, in torch so that the ONNX graphs
carry it (analysis.methods.export): the same code assigns in the workflow and in ONNX Runtime.

The paper's decoding (`slots_from_classes`) takes each jet's most probable class and accepts the
event only when every class holds exactly as many jets as it fills slots (t tbar: one b1, two W1,
one b2 and two W2 jets; t tbar H also two H jets).

The always-valid decoding (`best_valid_assignment`) instead picks the jets of all slots jointly:
jet j in a slot of class c gains log p_j(c) - log p_j(other) over calling it "other", and the
best valid assignment maximises the summed gain with distinct jets. Only the number of jets each
class still needs matters, so a dynamic programme over the jets, whose state is those numbers
(2 x 3 x 2 x 3 = 36 states for t tbar, 108 for t tbar H), finds the exact optimum in N_jets
steps: no permutation loop, and no iterative solver, which ONNX could not express.
"""
from __future__ import annotations

import itertools
import warnings
from functools import cache

import torch

from analysis.topology import TOPOLOGY, Topology

NEG_INF = float("-inf")


def slots_from_classes(classes: torch.Tensor, mask: torch.Tensor, pt: torch.Tensor, topology: Topology = TOPOLOGY
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(slots (events, slots), valid (events,)) from one class per jet: valid when every class
    holds exactly as many real jets as it fills slots; those jets fill them in pT order (q1 the
    harder). The slots of a class with the wrong number of jets are -1, the others stay filled
    (a top found right counts for the top efficiency even when the event is invalid)."""
    columns: list[torch.Tensor | None] = [None] * len(topology.slots)
    valid = torch.ones(classes.shape[0], dtype=torch.bool, device=classes.device)
    for cls, slots in topology.class_slots:
        members = (classes == cls) & mask
        exact = members.sum(dim=1) == len(slots)
        harder_first = torch.where(members, pt, torch.full_like(pt, NEG_INF)).topk(len(slots), dim=1).indices
        harder_first = torch.where(exact[:, None], harder_first, torch.full_like(harder_first, -1))
        for rank, slot in enumerate(slots):
            columns[slot] = harder_first[:, rank]
        valid = valid & exact
    return torch.stack(columns, dim=1), valid


@cache
def _states(topology: Topology) -> tuple[torch.Tensor, int, int, torch.Tensor]:
    """The dynamic programme's tables for a topology: `previous` (states, 1 + classes), the state
    a jet's choice came from (choice 0: "other"; choice 1 + k: the k-th slot-filling class; a
    sentinel state when that class would exceed its slots), the start state (every slot open), the
    end state (all filled), and the class each choice gives the jet."""
    needs = [len(slots) for _, slots in topology.class_slots]
    states = list(itertools.product(*(range(n + 1) for n in needs)))
    index = {state: i for i, state in enumerate(states)}
    sentinel = len(states)
    previous = [[i] + [index.get(tuple(v + (k == c) for k, v in enumerate(state)), sentinel)
                       for c in range(len(needs))] for i, state in enumerate(states)]
    choice_class = [topology.other_class] + [cls for cls, _ in topology.class_slots]
    with warnings.catch_warnings():  # built first inside an ONNX trace, the tables are its constants, as meant
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return torch.tensor(previous), index[tuple(needs)], index[(0,) * len(needs)], torch.tensor(choice_class)


def _best_classes(gain: torch.Tensor, previous: torch.Tensor, start: int, end: int,
                  choice_class: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(class per jet (events, jets), total gain (events,)) of the best valid assignment, for
    gains (events, jets, slot-filling classes) that are -inf where a jet may not fill a slot.
    Scripted so that ONNX keeps the loops over a dynamic number of jets."""
    n_events, n_jets = gain.shape[0], gain.shape[1]
    n_states = previous.shape[0]
    minus_infinity = float("-inf")
    closed = torch.full((n_events, 1), minus_infinity, dtype=gain.dtype, device=gain.device)
    value = torch.full((n_events, n_states), minus_infinity, dtype=gain.dtype, device=gain.device)
    value[:, start] = 0.0
    stay = torch.zeros((n_events, 1), dtype=gain.dtype, device=gain.device)
    choices: list[torch.Tensor] = []
    for j in range(n_jets):
        reachable = torch.cat([value, closed], dim=1)[:, previous]  # (events, states, choices)
        value, choice = (reachable + torch.cat([stay, gain[:, j]], dim=1)[:, None, :]).max(dim=2)
        choices.append(choice)
    state = torch.full((n_events,), end, dtype=torch.long, device=gain.device)
    classes: list[torch.Tensor] = []
    for j in range(n_jets - 1, -1, -1):
        choice = choices[j].gather(1, state[:, None])[:, 0]
        classes.append(choice_class[choice])
        state = previous[state, choice]
    return torch.stack(classes, dim=1).flip(1), value[:, end]  # list.reverse() would not reach ONNX


with warnings.catch_warnings():  # TorchScript is deprecated, but the ONNX exporter still needs it for loops
    warnings.simplefilter("ignore", DeprecationWarning)
    _best_classes = torch.jit.script(_best_classes)


def best_valid_assignment(log_p: torch.Tensor, mask: torch.Tensor, pt: torch.Tensor, topology: Topology = TOPOLOGY
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(slots (events, slots), valid (events,)): the valid assignment of highest summed
    log p(class) - log p(other) per event, the jets of a class in pT order (q1 the harder). Events
    with fewer real jets than slots get -1 slots and valid False."""
    filling = [cls for cls, _ in topology.class_slots]
    gain = log_p[..., filling] - log_p[..., topology.other_class, None]
    gain = gain.masked_fill(~mask[..., None], NEG_INF)
    device = log_p.device
    previous, start, end, choice_class = _states(topology)
    classes, total = _best_classes(gain, previous.to(device), start, end, choice_class.to(device))
    slots, _ = slots_from_classes(classes, mask, pt, topology)
    valid = total > NEG_INF
    return torch.where(valid[:, None], slots, torch.full_like(slots, -1)), valid
