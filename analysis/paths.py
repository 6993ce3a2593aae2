"""Where every artifact lives: one place for the Snakefile, the CLI and the tests."""
from __future__ import annotations

from analysis import methods
from analysis.config import ROOT, Config
from analysis.plotting.figures import FIGURES


def results_dir(tag: str) -> str:
    return f"results/{tag}"


def chunk_file(tag: str, sample: str, chunk: int | str) -> str:
    """A generated chunk; pass "{sample}", "{chunk}" to get the rule's wildcard pattern."""
    return f"{results_dir(tag)}/events/{sample}/chunk{chunk}.root"


def check_input_report(tag: str, sample: str) -> str:
    """What `check_input` found in a user sample's files."""
    return f"{results_dir(tag)}/events/{sample}/check_input.json"


def skim_file(tag: str, sample: str) -> str:
    return f"{results_dir(tag)}/skim/{sample}.parquet"


def cutflow_file(tag: str, sample: str) -> str:
    return f"{results_dir(tag)}/skim/{sample}.cutflow.json"


def matched_file(tag: str, sample: str) -> str:
    return f"{results_dir(tag)}/matched/{sample}.parquet"


def matching_tables(tag: str, sample: str) -> str:
    """Matched fraction vs Delta R, N_jets of matched events, leading-N containment (Figs. 2-4)."""
    return f"{results_dir(tag)}/matched/{sample}.matching.json"


def dataset_file(tag: str, name: str) -> str:
    """`name` in train, val, test_nominal (the training sample's test events: what SPANet's own
    evaluation reads) and test (those and every other sample whole: what every method is applied to)."""
    return f"{results_dir(tag)}/datasets/{name}.h5"


def event_info_file(tag: str) -> str:
    """The SPANet event definition for the dataset files."""
    return f"{results_dir(tag)}/datasets/event_info.yaml"


def model_dir(tag: str, model: str) -> str:
    return f"{results_dir(tag)}/models/{model}"


def fraction_model_dir(tag: str, model: str, fraction: float | str) -> str:
    """Network `model` trained on a fraction of its training events (the learning curve)."""
    return f"{model_dir(tag, model)}/fraction_{fraction}"


def learning_curve_file(tag: str) -> str:
    return f"{results_dir(tag)}/metrics/learning_curve.json"


def learning_curve_models(cfg: Config) -> dict[str, str]:
    """The model files of the learning curve, keyed `<model>/<fraction>` (1 = the network itself)."""
    out = {}
    for model in cfg.evaluation.learning_curve_models:
        for fraction in cfg.evaluation.learning_curve_fractions:
            out[f"{model}/{fraction}"] = f"{fraction_model_dir(cfg.tag, model, fraction)}/model.pt"
        out[f"{model}/1"] = f"{model_dir(cfg.tag, model)}/model.pt"
    return out


def assignment_file(tag: str, method: str, sample: str) -> str:
    """The common assignment format (analysis.assignments) of one method on one sample."""
    return f"{results_dir(tag)}/assignments/{method}/{sample}.parquet"


def chi2_widths_file(tag: str) -> str:
    return f"{results_dir(tag)}/baselines/chi2_widths.json"


def transfer_dataset(cfg: Config) -> str:
    """The dataset file with the transfer sample's matched jets: the training set when it is the
    training sample, else the test set, which holds every other sample whole."""
    training = cfg.transfer_sample() == cfg.datasets.training_sample
    return dataset_file(cfg.tag, "train" if training else "test")


def transfer_functions_file(tag: str) -> str:
    """Fitted jet-energy transfer functions of the kinematic likelihood (+ a .png of the fits)."""
    return f"{results_dir(tag)}/baselines/transfer_functions.json"


def calibration_file(tag: str, kind: str) -> str:
    """The calibration file of baseline `kind`: the one its registry entry names
    (analysis.methods.Method.calibration, a function of this module)."""
    entry = methods.get(kind)
    if entry.kind != "baseline" or entry.calibration is None:
        raise ValueError(f"{kind!r} is not a baseline with a calibration in analysis.methods.REGISTRY")
    return globals()[entry.calibration](tag)


def method_metrics_file(tag: str, method: str) -> str:
    """One method's metrics (analysis.evaluation.summary.method_metrics): its entry in metrics.json."""
    return f"{results_dir(tag)}/metrics/methods/{method}.json"


def reconstruction_file(tag: str) -> str:
    """The Fig. 8 masses of the reconstruction method: metrics.json's `reconstruction`."""
    return f"{results_dir(tag)}/metrics/reconstruction.json"


def metrics_file(tag: str) -> str:
    """Every method's metrics and the mass reconstruction, merged (analysis.stages.evaluate)."""
    return f"{results_dir(tag)}/metrics/metrics.json"


def metrics_table(tag: str, fmt: str) -> str:
    """The headline tables as Markdown (md), LaTeX (tex) or an HTML page (html, for the report)."""
    return f"{results_dir(tag)}/metrics/tables.{fmt}"


def attention_file(tag: str, model: str) -> str:
    """A SAJA model's average attention matrices per block (analysis.evaluation.attention, Fig. 12)."""
    return f"{results_dir(tag)}/metrics/attention_{model}.json"


def generator_study(tag: str, ext: str = "json") -> str:
    """The generator-dependence study (analysis.evaluation.generators): json, or md / html for its table."""
    return f"{results_dir(tag)}/generators/study.{ext}"


def qg_sample_file(tag: str, sample: str) -> str:
    """The selected dijets of a q/g sample: jets, truth flavour, shapes, constituents."""
    return f"{results_dir(tag)}/qg/samples/{sample}.h5"


def qg_model_dir(tag: str, tagger: str) -> str:
    return f"{results_dir(tag)}/qg/taggers/{tagger}"


def qg_scores_file(tag: str, tagger: str) -> str:
    """A tagger's output on every jet of the q/g samples."""
    return f"{qg_model_dir(tag, tagger)}/scores.h5"


def qg_calibration_file(tag: str, ext: str = "json") -> str:
    """Tagger performance, templates, matrix-method and jet-topics results, scale factors (json),
    or their tables (md, html)."""
    return f"{results_dir(tag)}/qg/calibration.{ext}"


def benchmark_results() -> list[str]:
    """The committed benchmark JSONs that Fig. 13 draws (SAJA latency, baseline speeds)."""
    return sorted(str(p) for p in (ROOT / "benchmarks" / "results").glob("*.json")
                  if p.stem == "baselines" or p.stem.startswith("saja_"))


def figure_file(tag: str, name: str, ext: str = "png") -> str:
    return f"{results_dir(tag)}/figures/{name}.{ext}"


def figures(cfg: Config) -> list[str]:
    """The figures of this config (analysis.plotting.figures): the q/g study's only when it has
    one, the learning curve only when it has networks for it."""
    studies = {"ttbar": True, "qg": cfg.qg is not None, "learning_curve": bool(cfg.evaluation.learning_curve_models)}
    return [name for name, figure in FIGURES.items() if studies[figure.study]]


def figure_inputs(cfg: Config, name: str) -> dict[str, str | list[str]]:
    """What figure `name` reads, under the name of its kind (analysis.plotting.figures.READS)."""
    reads = FIGURES[name].reads
    files = {"matching_tables": lambda: [matching_tables(cfg.tag, s) for s in cfg.matched_samples()],
             "metrics": lambda: metrics_file(cfg.tag),
             "attention": lambda: [attention_file(cfg.tag, m) for m in cfg.networks_with("attention")],
             "benchmarks": benchmark_results,
             "qg_calibration": lambda: qg_calibration_file(cfg.tag),
             "learning_curve": lambda: learning_curve_file(cfg.tag)}
    return {reads: files[reads]()}


def event_files(cfg: Config, sample: str) -> list[str]:
    """The Delphes files of a sample: generated chunks, or the user's files."""
    spec = cfg.event_samples()[sample]
    if spec.source == "generate":
        return [chunk_file(cfg.tag, sample, i) for i in range(spec.n_chunks)]
    return [str(p) for p in spec.paths()]


def all_targets(cfg: Config) -> list[str]:
    """Final outputs of the workflow as far as its stages exist."""
    targets = []
    for name in cfg.generated():
        targets += event_files(cfg, name)
    for name in cfg.from_files():
        targets.append(check_input_report(cfg.tag, name))
    for name in cfg.matched_samples():
        targets += [cutflow_file(cfg.tag, name), matching_tables(cfg.tag, name)]
    targets += [dataset_file(cfg.tag, name) for name in ("train", "val", "test_nominal", "test")]
    for method in cfg.baseline_methods():
        targets += [assignment_file(cfg.tag, method, sample) for sample in cfg.samples]
    if cfg.baselines.kinds["klfitter"].n_jets:
        targets.append(transfer_functions_file(cfg.tag).replace(".json", ".png"))
    targets += [metrics_table(cfg.tag, fmt) for fmt in ("md", "tex", "html")]
    targets += [generator_study(cfg.tag, ext) for ext in ("md", "html")]
    targets += [figure_file(cfg.tag, name, ext) for name in figures(cfg) for ext in ("png", "pdf")]
    if cfg.qg is not None:
        targets += [qg_calibration_file(cfg.tag, ext) for ext in ("md", "html")]
    for method in [*cfg.models, *cfg.imported]:
        targets += [assignment_file(cfg.tag, method, sample) for sample in cfg.samples]
    targets += [f"{model_dir(cfg.tag, model)}/model.onnx" for model in cfg.networks_with("onnx")]
    return targets
