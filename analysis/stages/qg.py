"""The rules of workflow/rules/qg.smk, the quark/gluon tagger study (seed 004): the dijet jets of
a sample (`qg_samples`), a tagger's training and its output on every jet (`qg_train`,
`qg_score`), and the performance and scale factors of every tagger per jet-pT bin
(`qg_calibrate`). Its figures are drawn by the `figure` rule (analysis.stages.evaluate)."""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import torch

from analysis.config import Config
from analysis.core.provenance import atomic_output, stage_run, write_json, write_text
from analysis.core.tables import html_page
from analysis.core.training import TrainingSettings, epoch_timing, load_trained, pick_device, train_screened
from analysis.datasets import H5_OPTIONS, SETS
from analysis.qg import samples as qgsamples
from analysis.qg import tagger as taggers
from analysis.qg.study import calibrate_tagger, render, tagger_jets
from analysis.qg.training import labelled, score, shape_matrix, training_rows, weighted_bce
from analysis.stages._common import Files

log = logging.getLogger(__name__)


def run_qg_samples(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """The dijet jets of q/g sample `wildcards["sample"]` (its Delphes files `input["files"]`)
    -> `output["jets"]` (HDF5, streamed)."""
    sample, files, jets_path = wildcards["sample"], list(input["files"]), output["jets"]
    with stage_run(cfg.tag, "qg_samples", cfg.qg_config(sample), [jets_path], inputs=files) as run:
        jets = qgsamples.write(jets_path, qgsamples.steps(cfg, sample, files), sample,
                               lambda flavour: qgsamples.check(cfg, sample, files, flavour))
        flavour = jets["flavour"]
        census = {"jets": len(flavour), "events": len(flavour) // 2,
                  "quark_fraction": float(qgsamples.is_quark(flavour).mean()),
                  "gluon_fraction": float(qgsamples.is_gluon(flavour).mean()),
                  "unlabelled_fraction": float((flavour == qgsamples.UNLABELLED).mean()),
                  "truth": bool((flavour != qgsamples.UNKNOWN).all()),
                  "sets": {name: int((jets["set"] == i).sum()) for i, name in enumerate(SETS)}}
        log.info("%s: %d dijet events; quark %.3f, gluon %.3f, unlabelled %.3f", sample, census["events"],
                 census["quark_fraction"], census["gluon_fraction"], census["unlabelled_fraction"])
        run.extra = {"sample": sample, **census}
    return census


def run_qg_train(cfg: Config, input: Files, output: Files, wildcards: Files) -> list[dict]:
    """Train tagger `wildcards["tagger"]` of the config on the mc sample's training jets
    (`input["jets"]`) -> `output["model"]`, `output["history"]`."""
    name, sample_path = wildcards["tagger"], input["jets"]
    out_dir = Path(output["model"]).parent
    with stage_run(cfg.tag, "qg_train", cfg.qg_config(cfg.qg.mc), [output["model"], output["history"]],
                   inputs=[sample_path]) as run:
        spec = cfg.qg.taggers[name]
        jets = qgsamples.load(sample_path, constituents=spec.architecture == "particle_transformer")
        train_rows, val_rows = (training_rows(jets, SETS.index(which)) for which in ("train", "val"))
        for rows, which in ((train_rows, "training"), (val_rows, "validation")):
            flavour = jets["flavour"][rows]
            if not (qgsamples.is_quark(flavour).any() and qgsamples.is_gluon(flavour).any()):
                raise ValueError(f"{sample_path}: the {which} set has no quark or no gluon jets ({len(rows)} "
                                 "jets); generate more dijet events (qg.samples) or change qg.fractions")
        standardisation = None
        hyperparameters = dict(spec.hyperparameters)
        if spec.architecture == "shapes":
            x = shape_matrix(jets, train_rows)
            standardisation = {"mean": x.mean(axis=0).tolist(), "std": (x.std(axis=0) + 1e-12).tolist()}
            hyperparameters["n_features"] = len(qgsamples.SHAPE_INPUTS)
        def initialised(seed: int) -> torch.nn.Module:
            torch.manual_seed(seed)
            return taggers.build(spec.architecture, hyperparameters)

        settings = TrainingSettings(**asdict(cfg.qg.training), seed=cfg.seed, progress=cfg.progress)
        log.info("%s: %d training, %d validation jets; %d parameters on %s", name, len(train_rows), len(val_rows),
                 sum(p.numel() for p in initialised(cfg.seed).parameters()), pick_device(settings.device))
        history = train_screened(initialised, weighted_bce,
                        labelled(spec.architecture, jets, train_rows, cfg.qg, standardisation),
                        labelled(spec.architecture, jets, val_rows, cfg.qg, standardisation), settings, out_dir,
                        extra={"architecture": spec.architecture, "hyperparameters": hyperparameters,
                               "standardisation": standardisation, "tagger": name})
        run.extra = {"tagger": name, "train_jets": len(train_rows), "val_jets": len(val_rows),
                     "epoch_timing": epoch_timing(history)}
    return history


def run_qg_score(cfg: Config, input: Files, output: Files, wildcards: Files) -> None:
    """Tagger `wildcards["tagger"]`'s output (`input["model"]`) on every jet of the mc and data
    samples (`input["jets"]`) -> `output["scores"]`, one dataset per sample."""
    name, model_path, sample_paths = wildcards["tagger"], input["model"], list(input["jets"])
    with stage_run(cfg.tag, "qg_score", cfg.qg_config(), [output["scores"]],
                   inputs=[model_path, *sample_paths]) as run:
        model, saved = load_trained(model_path, taggers.build, pick_device(cfg.qg.training.device))
        with atomic_output(output["scores"]) as tmp, h5py.File(tmp, "w") as f:
            for path in sample_paths:
                jets = qgsamples.load(path, constituents=saved["architecture"] == "particle_transformer")
                f.create_dataset(qgsamples.sample_name(path), data=score(model, saved, jets), **H5_OPTIONS)
        run.extra = {"tagger": name}


def run_qg_calibrate(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """calibration.json (`output["json"]`: every tagger's performance and scale factors) and its
    Markdown tables (`output["md"]`), from the mc and data samples' jets (`input["jets"]`) and
    each tagger's scores (`input["scores"]`, one file per tagger of `cfg.qg.taggers`, in order)."""
    sample_paths = list(input["jets"])
    score_paths = dict(zip(cfg.qg.taggers, input["scores"], strict=True))
    with stage_run(cfg.tag, "qg_calibrate", cfg.qg_config(), [output["json"], output["md"], output["html"]],
                   inputs=[*sample_paths, *score_paths.values()]):
        study = cfg.qg
        loaded = {qgsamples.sample_name(p): qgsamples.load(p, constituents=False) for p in sample_paths}
        mc_sample, data_sample = loaded[study.mc], loaded[study.data]
        test = mc_sample["set"] == SETS.index("test")
        out = {"mc": study.mc, "data": study.data,
               "labels": {name: cfg.qg_samples[name].label or name for name in (study.mc, study.data)},
               "pt_bins": list(study.pt_bins), "output_edges": np.linspace(0, 1, study.output_bins + 1).tolist(),
               "working_points": list(study.working_points), "quantile_bins": list(study.quantile_bins),
               "data_has_truth": bool((data_sample["flavour"] >= 0).all()), "tagger_order": list(score_paths),
               "taggers": {}}
        for i, (tagger, path) in enumerate(score_paths.items()):
            with h5py.File(path, "r") as f:
                mc_score, data_score = f[study.mc][()], f[study.data][()]
            for sample, scores in ((mc_sample, mc_score), (data_sample, data_score)):
                if len(scores) != len(sample["pt"]):
                    raise ValueError(f"{path} has {len(scores)} scores for {len(sample['pt'])} jets of the q/g "
                                     f"samples ({', '.join(map(str, sample_paths))}): it is stale; rerun the "
                                     "qg_score rule")
            rng = np.random.default_rng([cfg.seed, i])
            out["taggers"][tagger] = calibrate_tagger(cfg, tagger_jets(mc_sample, mc_score).select(test),
                                                      tagger_jets(data_sample, data_score), rng)
            performance_mc = out["taggers"][tagger]["performance"]["mc"]
            log.info("%s: AUC on the MC test jets %s", tagger,
                     f"{performance_mc['auc']:.4f}" if performance_mc else "undefined (one class has no jets)")
        write_json(output["json"], out)
        markdown = render(out)
        write_text(output["md"], markdown)
        write_text(output["html"], html_page(markdown, f"{cfg.tag}: quark/gluon calibration"))
    return out
