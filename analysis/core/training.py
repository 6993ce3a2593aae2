"""One training loop for every assignment network.

The paper's recipe (SAJA sec. 3.2) is the default: Adam, the learning rate halved when the
validation loss has not improved for `lr_patience` epochs, training stopped after
`early_stopping` epochs without improvement, the best epoch's weights kept. For small training
sets (a few thousand events) `optimizer: adamw` (decoupled weight decay), `schedule: cosine` (a
linear warm-up over `warmup_epochs`, then a cosine decay to zero at `max_epochs`, per step) and
`select_by: accuracy` (the best epoch and early stopping by the validation events' assignment
accuracy, the quantity reported, rather than by the loss) are available. CUDA is used when present (bf16 autocast when
`mixed_precision`), the CPU otherwise, where runs are deterministic for a given seed. After every
epoch `last.pt` holds everything needed to resume (the same data, hyperparameters and settings
only; otherwise training starts afresh); `model.pt` and `history.json` are written only when
training has finished, so an interrupted job never leaves outputs that look complete. None of the
three holds wall-clock times, so that two runs give byte-identical files on the CPU: the time of
each epoch goes to the log and to the returned history (the stages put it in `.meta.json`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from analysis.core.provenance import atomic_output, sweep_leftovers

log = logging.getLogger(__name__)
IMPROVEMENT = 1e-4
"""Relative drop of the validation loss that counts as progress (as ReduceLROnPlateau's default)."""
TIMING = ("seconds", "train_events_per_s")
"""Wall-clock fields of the returned history: never written to history.json or last.pt."""
Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TrainingSettings:
    batch_size: int = 512
    learning_rate: float = 1e-3
    max_epochs: int = 200
    lr_patience: int = 10
    lr_factor: float = 0.5
    early_stopping: int = 30
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "plateau"
    warmup_epochs: int = 0
    select_by: str = "loss"
    candidates: int = 1
    screen_epochs: int = 20
    mixed_precision: bool = True
    device: str = "auto"
    seed: int = 0
    progress: bool = True


def pick_device(setting: str = "auto") -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device is 'cuda' but torch sees no GPU; use 'auto' or 'cpu'")
    return torch.device(setting)


def check_devices(settings: dict[str, str]) -> None:
    """Raise, before the first job of a local run, when a training section asks for CUDA on a
    machine where torch sees no GPU (`settings`: config key -> device setting); otherwise the run
    would fail only at training, after generation, skim and split. Cluster runs are not checked
    here: their jobs run on other machines."""
    wanting = [key for key, device in settings.items() if device == "cuda"]
    if wanting and not torch.cuda.is_available():
        raise RuntimeError(f"{', '.join(wanting)} is 'cuda' but torch sees no GPU on this machine; set it to 'auto' "
                           "(CUDA when present, else the CPU) or 'cpu', or install the CUDA build of torch "
                           "(README, 'GPU install')")


POOL_BATCHES = 16
"""Training batches drawn together and then sorted by jet count (`epoch_batches`)."""


def jet_counts(data: Batch) -> torch.Tensor:
    """Real jets per event, or one per event for data without a jet mask."""
    mask = data.get("mask")
    if mask is None or mask.ndim != 2:
        return torch.ones(len(next(iter(data.values()))), dtype=torch.long)
    return mask.sum(dim=1).cpu()


def epoch_batches(n_jets: torch.Tensor, size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Event indices of each training batch of one epoch: a random order cut into pools of
    POOL_BATCHES batches, each pool sorted by jet count and cut into batches, the batches then
    shuffled. Every event is seen once per epoch in a random batch, but a batch holds events of
    similar multiplicity, so `trimmed` cuts it to fewer padded jets (length bucketing, as in
    sequence models). Selected ttbar events have 7.1 jets on average, but a random batch of 256
    holds one with 10 to 14, to which all are padded; bucketed, an epoch of SAJA or SPA-NET takes
    1.4 to 1.5x fewer seconds (config/README.md)."""
    order = torch.randperm(len(n_jets), generator=generator)
    cut = [batch for pool in order.split(size * POOL_BATCHES)
           for batch in pool[torch.sort(n_jets[pool], stable=True).indices].split(size)]
    return [cut[i] for i in torch.randperm(len(cut), generator=generator)]


def batches(data: Batch, size: int, indices: list[torch.Tensor] | None = None):
    """The trimmed batches of `data` with the given event indices; without them, batches of events
    in order of jet count (for evaluation, where the order changes no sum)."""
    if indices is None:
        indices = torch.sort(jet_counts(data), stable=True).indices.split(size)
    device = next(iter(data.values())).device
    for index in indices:
        index = index.to(device)
        yield trimmed({k: v[index] for k, v in data.items()})


def trimmed(batch: Batch) -> Batch:
    """The batch with its jet axis cut to its longest event's real jets: every tensor shaped like
    `mask` in its first two axes is per-jet, except `targets` (jet index per slot). The datasets put the real jets first, and the
    networks ignore padding, so this changes nothing but the cost (attention grows as N^2,
    SPA-NET's triplets as N^3, and most events have far fewer jets than the padded width)."""
    mask = batch.get("mask")
    if mask is None or mask.ndim != 2 or not len(mask):
        return batch
    n = max(int(mask.sum(dim=1).max()), 1)
    return {k: (v[:, :n] if k != "targets" and v.ndim >= 2 and v.shape[:2] == mask.shape else v)
            for k, v in batch.items()}


def optimiser_and_schedule(model: torch.nn.Module, settings: TrainingSettings, steps_per_epoch: int):
    """(optimiser, scheduler, whether the scheduler steps per batch) of the settings."""
    if settings.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    if settings.schedule == "cosine":
        warmup = settings.warmup_epochs * steps_per_epoch
        total = max(settings.max_epochs * steps_per_epoch, warmup + 1)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor), True
    return optimizer, torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=settings.lr_factor,
                                                                 patience=settings.lr_patience), False


def improved(state: dict, val_loss: float, accuracy: float | None, select_by: str) -> bool:
    """Whether this epoch beats the best so far: by the validation loss (relative IMPROVEMENT),
    or by the validation accuracy with the loss breaking ties."""
    if select_by == "accuracy":
        best = state.get("best_accuracy", -1.0)
        return accuracy > best or (accuracy == best and val_loss < state["best_loss"] * (1 - IMPROVEMENT))
    return val_loss < state["best_loss"] * (1 - IMPROVEMENT)


def train(model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, Batch], torch.Tensor], train_data: Batch,
          val_data: Batch, settings: TrainingSettings, out_dir: str | Path, extra: dict | None = None,
          accuracy_fn: Callable[[torch.nn.Module, Batch], float] | None = None,
          provenance: dict | None = None, stop_after: int | None = None, notes: dict | None = None) -> list[dict]:
    """Train `model` on `train_data`, select on `val_data`; write model.pt, history.json in `out_dir`.
    `extra` is stored in model.pt beside the weights (architecture, hyperparameters, features),
    and a checkpoint resumes only a training with the same `extra`; `provenance` is stored there
    too but not compared (the package version and the config hash, which change with edits that
    leave this training as it was, such as a larger max_epochs under the plateau schedule).
    `accuracy_fn(model, val_data)`, when given, is the validation accuracy recorded every epoch
    (needed by `select_by: accuracy`). With `stop_after`, training pauses after that epoch with
    only `last.pt` written (a screened candidate, `train_screened`); `notes` go into history.json.
    Returns the history of every epoch; those run by this call also carry the `TIMING` fields."""
    if settings.select_by == "accuracy" and accuracy_fn is None:
        raise ValueError("training.select_by is 'accuracy' but this network gives no validation accuracy")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_leftovers([out_dir / "model.pt", out_dir / "history.json", out_dir / "last.pt"])
    device = pick_device(settings.device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(settings.seed)
    model.to(device)
    n_train = len(next(iter(train_data.values())))
    optimizer, scheduler, per_step = optimiser_and_schedule(model, settings, -(-n_train // settings.batch_size))
    state = {"epoch": 0, "history": [], "best_loss": float("inf"), "best_state": None, "best_epoch": 0, "stale": 0}
    checkpoint = out_dir / "last.pt"
    identity = {"extra": extra or {}, "settings": _resumable(settings), "data": fingerprint(train_data, val_data)}
    saved = load_checkpoint(checkpoint, device) if checkpoint.exists() else None
    if saved is not None and saved.get("identity") != identity:
        log.warning("%s belongs to a training with other data, hyperparameters or settings: starting afresh",
                    checkpoint)
        saved = None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        state = saved["state"]
        log.info("resuming from %s after epoch %d", checkpoint, state["epoch"])
    autocast = device.type == "cuda" and settings.mixed_precision
    n_jets = jet_counts(train_data)
    train_data = {k: v.to(device) for k, v in train_data.items()}
    val_data = {k: v.to(device) for k, v in val_data.items()}
    timing = {}

    last_epoch = settings.max_epochs if stop_after is None else min(stop_after, settings.max_epochs)
    epochs = tqdm(range(state["epoch"], last_epoch), initial=state["epoch"], total=settings.max_epochs,
                  desc="epochs", disable=not settings.progress)
    for epoch in epochs:
        if state["stale"] >= settings.early_stopping:
            break
        start = time.perf_counter()
        model.train()
        generator = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
        total, count = 0.0, 0
        for batch in batches(train_data, settings.batch_size, epoch_batches(n_jets, settings.batch_size, generator)):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(model, batch)
            loss.backward()
            optimizer.step()
            if per_step:
                scheduler.step()
            size = len(next(iter(batch.values())))
            total, count = total + loss.item() * size, count + size
        val_loss = evaluate(model, loss_fn, val_data, settings.batch_size, autocast)
        accuracy = validation_accuracy(model, accuracy_fn, val_data, autocast) if accuracy_fn else None
        if not per_step:
            scheduler.step(val_loss)  # threshold 1e-4 relative, like IMPROVEMENT
        seconds = time.perf_counter() - start
        entry = {"epoch": epoch + 1, "train_loss": total / count, "val_loss": val_loss,
                 "learning_rate": optimizer.param_groups[0]["lr"]}
        state["history"].append(entry if accuracy is None else {**entry, "val_accuracy": accuracy})
        timing[epoch + 1] = {"seconds": seconds, "train_events_per_s": n_train / seconds}
        if improved(state, val_loss, accuracy, settings.select_by):
            state.update(best_loss=val_loss, stale=0, best_epoch=epoch + 1,
                         best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
            if accuracy is not None and settings.select_by == "accuracy":
                state["best_accuracy"] = accuracy
        else:
            state["stale"] += 1
        state["epoch"] = epoch + 1
        log.info("epoch %d: train loss %.4f, val loss %.4f, lr %.2e, %.1f s", epoch + 1, total / count, val_loss,
                 optimizer.param_groups[0]["lr"], seconds)
        epochs.set_postfix(train=f"{total / count:.3f}", val=f"{val_loss:.3f}")
        with atomic_output(checkpoint) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "state": state,
                        "identity": identity}, tmp)

    history = [{**h, **timing.get(h["epoch"], {})} for h in state["history"]]
    if stop_after is not None:
        return history
    best_epoch = state["best_epoch"]
    with atomic_output(out_dir / "model.pt") as tmp:
        torch.save({"state_dict": state["best_state"], "best_epoch": best_epoch, "device": str(device),
                    "mixed_precision": autocast, **(extra or {}), **(provenance or {})}, tmp)
    with atomic_output(out_dir / "history.json") as tmp:
        tmp.write_text(json.dumps({"best_epoch": best_epoch, **(notes or {}), "epochs": state["history"]}, indent=1)
                       + "\n")
    return history


def candidate_seeds(seed: int, count: int) -> list[int]:
    """The seeds of `count` screened initialisations: `seed` itself first (so one candidate is
    the unscreened training), then independent 32-bit streams derived from it."""
    derived = np.random.SeedSequence(seed).generate_state(max(count - 1, 0), dtype=np.uint32)
    return [seed, *map(int, derived)]


def screening_score(history: list[dict], select_by: str) -> float:
    """How good a screened candidate is, higher is better: its best validation accuracy, or
    minus its lowest validation loss (`select_by`), over the epochs it has run."""
    if select_by == "accuracy":
        return max(h["val_accuracy"] for h in history)
    return -min(h["val_loss"] for h in history)


def train_screened(make_model: Callable[[int], torch.nn.Module], loss_fn: Callable[[torch.nn.Module, Batch], torch.Tensor],
                   train_data: Batch, val_data: Batch, settings: TrainingSettings, out_dir: str | Path,
                   extra: dict | None = None, accuracy_fn: Callable[[torch.nn.Module, Batch], float] | None = None,
                   provenance: dict | None = None) -> list[dict]:
    """`train` the model that `make_model(seed)` builds, first screening `settings.candidates`
    initialisations: each trains `settings.screen_epochs` epochs with its own seed
    (`candidate_seeds`), the best by the validation criterion (`select_by`, `screening_score`)
    resumes from its checkpoint to the end; the others are dropped. Why: with a few thousand
    training events the same network ends 6 points apart in test accuracy from one seed to another
    (config/README.md), and a poor start shows in the validation events within the first 20
    epochs. Selection uses the validation set only, as the choice of the best epoch does. One
    candidate is plain `train`. history.json records the seeds and scores (`screening`)."""
    if settings.candidates == 1:
        return train(make_model(settings.seed), loss_fn, train_data, val_data, settings, out_dir, extra, accuracy_fn,
                     provenance)
    out_dir = Path(out_dir)
    seeds = candidate_seeds(settings.seed, settings.candidates)
    scores, screened = [], []
    for index, seed in enumerate(seeds):
        history = train(make_model(seed), loss_fn, train_data, val_data, replace(settings, seed=seed),
                        out_dir / "candidates" / str(index), extra, accuracy_fn, stop_after=settings.screen_epochs)
        scores.append(screening_score(history, settings.select_by))
        screened.append({h["epoch"]: h for h in history})
        log.info("candidate %d (seed %d): screening score %.4f", index, seed, scores[-1])
    chosen = int(np.argmax(scores))
    log.info("continuing candidate %d (seed %d)", chosen, seeds[chosen])
    if not (out_dir / "last.pt").exists():
        shutil.copyfile(out_dir / "candidates" / str(chosen) / "last.pt", out_dir / "last.pt")
    history = train(make_model(seeds[chosen]), loss_fn, train_data, val_data, replace(settings, seed=seeds[chosen]),
                    out_dir, extra, accuracy_fn, provenance,
                    notes={"screening": {"seeds": seeds, "scores": scores, "chosen": chosen,
                                         "epochs": settings.screen_epochs, "by": settings.select_by}})
    shutil.rmtree(out_dir / "candidates")
    return [{**screened[chosen].get(h["epoch"], {}), **h} for h in history]


def epoch_timing(history: list[dict]) -> list[dict]:
    """The wall-clock part of a history that `train` returned, for a `.meta.json` sidecar."""
    return [{"epoch": h["epoch"], **{k: h[k] for k in TIMING}} for h in history if TIMING[0] in h]


def load_trained(path: str | Path, build: Callable[[str, dict], torch.nn.Module],
                 device: torch.device | None = None) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, everything saved with it) from a model.pt that `train` wrote, rebuilt
    with `build(architecture, hyperparameters)`."""
    saved = load_checkpoint(path)
    return restore(saved, build, device), saved


def restore(saved: dict, build: Callable[[str, dict], torch.nn.Module],
            device: torch.device | None = None) -> torch.nn.Module:
    """The model in eval mode from the content of a model.pt (`load_checkpoint`)."""
    model = build(saved["architecture"], saved["hyperparameters"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device or torch.device("cpu")).eval()


class CheckpointError(ValueError):
    """A model or checkpoint file that cannot be loaded safely; the message names it and the fix."""


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """A file `train` wrote, unpickled with `weights_only=True`: tensors, numbers, strings and
    containers only. A full unpickle runs whatever code the file names, so a planted or tampered
    model.pt would execute on load; such a file is refused instead, as is one that is not the zip
    archive torch.save writes (torch's unpickler fails on those with arbitrary errors)."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a file that torch.save wrote (no zip archive), so not a model file of "
                              "this workflow's training; point to results/<tag>/models/<model>/model.pt")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: holds objects other than tensors and plain data, so it was not loaded (unpickling it could "
            "run code). It was not written by this workflow's training: delete it and rerun snakemake to retrain."
        ) from err


def fingerprint(*datasets: Batch) -> str:
    """A hash of the training and validation tensors: a checkpoint resumes only the same data."""
    digest = hashlib.sha256()
    for data in datasets:
        for key in sorted(data):
            digest.update(key.encode())
            digest.update(data[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _resumable(settings: TrainingSettings) -> dict:
    """The settings a resumed run must share with the interrupted one (more epochs are allowed,
    except under the cosine schedule, whose length they set)."""
    free = ("progress",) if settings.schedule == "cosine" else ("max_epochs", "progress")
    return {k: v for k, v in asdict(settings).items() if k not in free}


@torch.no_grad()
def validation_accuracy(model: torch.nn.Module, accuracy_fn: Callable[[torch.nn.Module, Batch], float], data: Batch,
                        autocast: bool = False) -> float:
    model.eval()
    device = next(iter(data.values())).device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        return float(accuracy_fn(model, data))


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn, data: Batch, batch_size: int, autocast: bool = False) -> float:
    model.eval()
    device = next(iter(data.values())).device
    total, count = 0.0, 0
    for batch in batches(data, batch_size):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(model, batch)
        size = len(next(iter(batch.values())))
        total, count = total + loss.item() * size, count + size
    return total / max(count, 1)
