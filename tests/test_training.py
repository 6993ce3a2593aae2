"""The shared training loop: determinism on the CPU, resuming after an interruption, outputs."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from analysis.core.provenance import meta_path, sha256
from analysis.core.training import (
    TIMING,
    TrainingSettings,
    batches,
    candidate_seeds,
    epoch_batches,
    epoch_timing,
    screening_score,
    train,
    train_screened,
)
from analysis.methods.saja import ADAPTER as SAJA
from analysis.methods.saja import Saja, SajaHyperparameters


def data(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.stack([torch.randperm(8, generator=g) for _ in range(n)])
    labels = torch.tensor([0, 1, 1, 2, 3, 3, 4, 4])[labels]
    x = torch.rand(n, 8, 5, generator=g)
    x[..., 4] = (labels % 2 == 0).float()  # b-tag-like feature on b jets
    mask = torch.ones(n, 8, dtype=torch.bool)
    return {"x": x, "mask": mask, "labels": labels, "loss_mask": mask}


def model():
    torch.manual_seed(1)
    return Saja(SajaHyperparameters(features=("pt", "eta", "phi", "pt_ht", "btag"), d_k=4, heads=2, d_ffn=16, blocks=1))


def settings(epochs):
    return TrainingSettings(batch_size=32, max_epochs=epochs, device="cpu", progress=False, seed=3)


def test_same_seed_same_training_and_resume_continues_exactly(tmp_path):
    train_data, val_data = data(128, 0), data(64, 1)
    straight = train(model(), SAJA.loss, train_data, val_data, settings(6), tmp_path / "straight")
    # an interrupted run: stopped after 3 epochs, then restarted with the full budget
    train(model(), SAJA.loss, train_data, val_data, settings(3), tmp_path / "resumed")
    (tmp_path / "resumed" / "model.pt").unlink()
    resumed = train(model(), SAJA.loss, train_data, val_data, settings(6), tmp_path / "resumed")
    assert [h["val_loss"] for h in resumed] == [h["val_loss"] for h in straight]
    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "resumed" / "model.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a checkpoint of other data is not resumed: the run starts afresh
    (tmp_path / "resumed" / "model.pt").unlink()
    other = train(model(), SAJA.loss, data(128, 5), val_data, settings(6), tmp_path / "resumed")
    assert [h["epoch"] for h in other] == list(range(1, 7))
    assert [h["val_loss"] for h in other] != [h["val_loss"] for h in straight]
    history = json.loads((tmp_path / "straight" / "history.json").read_text())
    best = min(history["epochs"], key=lambda h: h["val_loss"])
    assert len(history["epochs"]) == 6 and history["best_epoch"] == best["epoch"]
    assert straight[-1]["train_loss"] < straight[0]["train_loss"]


def test_outputs_are_byte_identical_and_hold_no_wall_clock(tmp_path):
    """Two trainings write the same model.pt, history.json and last.pt: epoch times are returned
    (for the sidecars), never written to those files."""
    runs = [train(model(), SAJA.loss, data(64, 0), data(32, 1), settings(2), tmp_path / run)
            for run in ("a", "b")]
    for name in ("model.pt", "history.json", "last.pt"):
        assert sha256(tmp_path / "a" / name) == sha256(tmp_path / "b" / name), name
    written = json.loads((tmp_path / "a" / "history.json").read_text())["epochs"]
    checkpoint = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["state"]["history"]
    assert all(not set(TIMING) & set(h) for h in written + checkpoint)
    assert [h["seconds"] > 0 for h in runs[0]] == [True, True]
    assert [t["epoch"] for t in epoch_timing(runs[0])] == [1, 2] and set(epoch_timing(runs[0])[0]) > set(TIMING)


def test_training_sweeps_stale_temporaries_and_orphan_sidecars(tmp_path):
    """What a killed or failed training left is removed; the checkpoint to resume from is kept."""
    train(model(), SAJA.loss, data(64, 0), data(32, 1), settings(1), tmp_path)
    (tmp_path / "model.pt").unlink()
    (tmp_path / "history.json").unlink()
    stale = [meta_path(tmp_path / "model.pt"), meta_path(tmp_path / "history.json"), tmp_path / ".last.pt.tmp-4242",
             tmp_path / ".model.pt.tmp-4242-ab12"]
    for path in stale:
        path.write_text("stale")
    (tmp_path / "train.log").write_text("the rule's log")
    resumed = train(model(), SAJA.loss, data(64, 0), data(32, 1), settings(2), tmp_path)
    assert [h["epoch"] for h in resumed] == [1, 2] and "seconds" not in resumed[0]  # epoch 1 ran before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "last.pt", "model.pt", "train.log"]


def test_early_stopping_and_learning_rate_halving(tmp_path):
    frozen = TrainingSettings(batch_size=32, max_epochs=50, learning_rate=1e-7, lr_patience=1, early_stopping=3,
                              device="cpu", progress=False)
    history = train(model(), SAJA.loss, data(64, 0), data(32, 1), frozen, tmp_path)
    assert len(history) < 50
    assert history[-1]["learning_rate"] < history[0]["learning_rate"]


def test_a_checkpoint_of_another_model_is_not_resumed(tmp_path):
    train(model(), SAJA.loss, data(64, 0), data(32, 1), settings(2), tmp_path, extra={"d_k": 4})
    (tmp_path / "model.pt").unlink()
    history = train(model(), SAJA.loss, data(64, 0), data(32, 1), settings(3), tmp_path, extra={"d_k": 8})
    assert [h["epoch"] for h in history] == [1, 2, 3]  # started afresh, not from epoch 2


def test_both_networks_train_under_bf16_autocast():
    """The mixed-precision path used on GPUs (bf16 autocast), exercised on the CPU: losses stay
    finite, close to fp32, and give gradients."""
    from analysis.methods.spanet import ADAPTER as SPANET
    from analysis.methods.spanet import Spanet, SpanetHyperparameters

    batch = data(32, 0)
    batch["targets"] = torch.stack([torch.randperm(8)[:6] for _ in range(32)])
    for net, loss_fn in ((model(), SAJA.loss),
                         (Spanet(SpanetHyperparameters(features=("pt", "eta", "phi", "pt_ht", "btag"), d_model=16, heads=2, d_ffn=32, blocks=1,
                                                       d_tensor=8)), SPANET.loss)):
        net.eval()
        full = loss_fn(net, batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = loss_fn(net, batch)
        mixed.backward()
        assert torch.isfinite(mixed) and abs(mixed.item() - full.item()) < 0.05 * abs(full.item())
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)


def jet_accuracy(net, batch):
    """Fraction of real jets given their label: a stand-in validation accuracy."""
    return float((net(batch["x"], batch["mask"]).argmax(-1) == batch["labels"])[batch["mask"]].float().mean())


def test_cosine_schedule_warms_up_then_decays_to_zero(tmp_path):
    cosine = TrainingSettings(batch_size=32, max_epochs=8, early_stopping=100, device="cpu", progress=False, seed=3,
                              optimizer="adamw", weight_decay=0.01, schedule="cosine", warmup_epochs=2)
    history = train(model(), SAJA.loss, data(64, 0), data(32, 1), cosine, tmp_path)
    rates = [h["learning_rate"] for h in history]
    assert rates[0] < rates[1] == pytest.approx(1e-3)  # linear warm-up over two epochs (two steps each)
    assert all(a > b for a, b in zip(rates[1:], rates[2:], strict=False))
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)


def test_select_by_accuracy_keeps_the_most_accurate_epoch(tmp_path):
    by_accuracy = TrainingSettings(batch_size=32, max_epochs=6, early_stopping=100, device="cpu", progress=False,
                                   seed=3, select_by="accuracy")
    train(model(), SAJA.loss, data(64, 0), data(32, 1), by_accuracy, tmp_path, accuracy_fn=jet_accuracy)
    saved = json.loads((tmp_path / "history.json").read_text())
    accuracy = [e["val_accuracy"] for e in saved["epochs"]]
    best = max(accuracy)
    candidates = [e for e in saved["epochs"] if e["val_accuracy"] == best]
    assert saved["best_epoch"] == min(candidates, key=lambda e: e["val_loss"])["epoch"]
    weights = torch.load(tmp_path / "model.pt", weights_only=False)["state_dict"]
    net = model()
    net.load_state_dict(weights)
    assert jet_accuracy(net.eval(), {k: v for k, v in data(32, 1).items()}) == pytest.approx(best)


def test_select_by_accuracy_needs_an_accuracy(tmp_path):
    with pytest.raises(ValueError, match="select_by"):
        train(model(), SAJA.loss, data(64, 0), data(32, 1),
              TrainingSettings(max_epochs=1, device="cpu", progress=False, select_by="accuracy"), tmp_path)


def seeded_model(seed):
    torch.manual_seed(seed)
    return Saja(SajaHyperparameters(features=("pt", "eta", "phi", "pt_ht", "btag"), d_k=4, heads=2, d_ffn=16, blocks=1))


def test_screening_continues_the_best_candidate_as_its_own_straight_training(tmp_path):
    """Three initialisations screened for two epochs: the one with the best validation accuracy
    goes on to the end, with the same weights and history as a straight training with its seed
    (nothing of the others leaks in); the seeds and scores are recorded, the candidates removed."""
    screened = TrainingSettings(batch_size=32, max_epochs=4, early_stopping=100, device="cpu", progress=False,
                                seed=3, select_by="accuracy", candidates=3, screen_epochs=2)
    train_data, val_data = data(96, 0), data(48, 1)
    history = train_screened(seeded_model, SAJA.loss, train_data, val_data, screened, tmp_path / "screened",
                             accuracy_fn=jet_accuracy)
    seeds = candidate_seeds(3, 3)
    assert seeds[0] == 3 and len(set(seeds)) == 3
    straight = {seed: train(seeded_model(seed), SAJA.loss, train_data, val_data,
                            replace(screened, seed=seed, candidates=1), tmp_path / str(seed), accuracy_fn=jet_accuracy)
                for seed in seeds}
    scores = [screening_score(straight[seed][:2], "accuracy") for seed in seeds]
    saved = json.loads((tmp_path / "screened" / "history.json").read_text())
    chosen = saved["screening"]["chosen"]
    assert saved["screening"]["seeds"] == seeds and saved["screening"]["scores"] == scores
    assert scores[chosen] == max(scores)
    assert [h["val_loss"] for h in history] == [h["val_loss"] for h in straight[seeds[chosen]]]
    a = torch.load(tmp_path / "screened" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / str(seeds[chosen]) / "model.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "screened" / "candidates").exists()
    assert all(TIMING[0] in h for h in history)  # the screened epochs keep their times for the sidecar


def test_one_candidate_is_plain_training(tmp_path):
    one = TrainingSettings(batch_size=32, max_epochs=2, device="cpu", progress=False, seed=3)
    train_screened(seeded_model, SAJA.loss, data(64, 0), data(32, 1), one, tmp_path / "a")
    train(seeded_model(3), SAJA.loss, data(64, 0), data(32, 1), one, tmp_path / "b")
    for name in ("model.pt", "history.json"):
        assert sha256(tmp_path / "a" / name) == sha256(tmp_path / "b" / name), name


def test_epoch_batches_see_every_event_once_in_batches_of_similar_multiplicity():
    """Length bucketing: each epoch is a permutation of the events, cut into as many batches as
    without it (the cosine schedule counts them), whose jet counts spread far less than random ones."""
    n_jets = torch.randint(6, 16, (1000,), generator=torch.Generator().manual_seed(0))
    cut = epoch_batches(n_jets, 32, torch.Generator().manual_seed(1))
    assert sorted(torch.cat(cut).tolist()) == list(range(1000))
    assert sorted(len(b) for b in cut) == [1000 % 32] + [32] * (1000 // 32)
    spread = [int(n_jets[b].max() - n_jets[b].min()) for b in cut]
    assert sum(spread) / len(spread) <= 2  # random batches of 32 span nearly all of 6-15
    again = epoch_batches(n_jets, 32, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(cut, again, strict=True))


def test_evaluation_batches_are_trimmed_and_cover_every_event():
    batch = data(100, 0)
    batch["mask"][:50, 6:] = False
    seen = list(batches(batch, 32))
    assert sum(len(b["x"]) for b in seen) == 100
    assert [b["x"].shape[1] for b in seen] == [6, 8, 8, 8]  # the 50 six-jet events come first
    assert [b["labels"].shape[1] for b in seen] == [6, 8, 8, 8]
