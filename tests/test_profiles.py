"""What each snakemake profile (profiles/{local,slurm,htcondor}) asks for train, qg_train and a
klfitter job of the rule `baseline` (whose threads and memory are the registry's,
analysis.methods.REGISTRY): CPUs, memory, runtime and GPU, as the cluster would receive them.

A dry run cannot show a submission: it prints a job's resources, but neither the sbatch call nor
the HTCondor submit description (which the plugins build from threads and resources in their own
ways), and it runs with --cores 1, which caps every job's threads at 1, while a cluster run has no
--cores and submits the threads its rules declare. So each cluster profile runs for real, on the
three rules alone (`--allowed-rules`, their inputs as empty files), with the cluster's entry point
faked where the plugin hands over the finished submission: for SLURM an `sbatch` first on PATH
that records its arguments and refuses the job (and sinfo, sacct, ... that answer nothing); for
HTCondor the Python bindings' Submit, which records the submit description, and Schedd, which
refuses it (tests/fake_htcondor.py). Every job then fails at submission, and snakemake stops. These
runs also show that the cluster profiles start at all without --cores (no rule's threads may be
workflow.cores, undefined there). The local profile submits nothing: its dry run (with --cores above every rule's threads) gives what
each job runs with.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from .conftest import REPO, SNAKEMAKE

TARGETS = ["results/test/models/saja/model.pt", "results/test/assignments/klfitter_6/ttbar.parquet",
           "results/test/qg/taggers/transformer/model.pt"]
INPUTS = ["datasets/train.h5", "datasets/val.h5", "datasets/test.h5", "baselines/transfer_functions.json",
          "qg/samples/dijet.h5"]
RULES = ["train", "baseline", "qg_train"]
SLURM_COMMANDS = ["sinfo", "sacct", "sacctmgr", "sshare", "squeue", "scontrol"]


def run(workdir, *args, command=(SNAKEMAKE,), env=None):
    """snakemake on config/test.yaml in `workdir` with the three rules' inputs in place."""
    for name in INPUTS:
        (workdir / "results/test" / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / "results/test" / name).touch()
    return subprocess.run(
        [*command, *TARGETS, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(REPO / "config/test.yaml"), "--allowed-rules", *RULES, *args],
        capture_output=True, text=True, env={**os.environ, "CONDOR_CONFIG": "/dev/null", **(env or {})},
    )


def dry_run_jobs(output: str) -> dict[str, dict]:
    """Each job of a dry run's listing: rule -> {"threads": int, resource: value as printed}."""
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:\n)", output)[1:]:
        rule = re.match(r"rule (\w+):", block).group(1)
        threads = re.search(r"^    threads: (\d+)$", block, re.M)
        resources = re.search(r"^    resources: (.*)$", block, re.M)
        job = {"threads": int(threads.group(1)) if threads else 1}
        job.update(item.split("=", 1) for item in resources.group(1).split(", ") if resources)
        jobs.setdefault(rule, []).append(job)
    return jobs


def sbatch_options(argv: list[str]) -> dict[str, str]:
    """sbatch's arguments up to --wrap as {option: value} ('-p gpu' and '--gpus=1' alike)."""
    options, args = {}, iter(argv)
    for arg in args:
        if arg.startswith("--wrap"):
            break
        if "=" in arg:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg in ("--parsable",):
            options[arg] = ""
        else:
            options[arg] = next(args)
    return options


def test_slurm_profile_submits_threads_memory_runtime_and_gpus(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "with open(os.environ['FAKE_SBATCH_LOG'], 'a') as log:\n"
        "    log.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "sys.exit('sbatch: recorded by the test, not submitted')\n")
    for name in SLURM_COMMANDS:
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    log = tmp_path / "sbatch.jsonl"
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run(workdir, "--profile", str(REPO / "profiles/slurm"), "--slurm-init-seconds-before-status-checks", "1",
                 env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SBATCH_LOG": str(log)})
    assert log.exists(), result.stderr[-3000:]
    submitted = {}
    for line in log.read_text().splitlines():
        options = sbatch_options(json.loads(line))
        submitted[re.match(r"rule_(\w+?)(_wildcards_|$)", options["--comment"]).group(1)] = {
            key: options[key] for key in ("-A", "-p", "-t", "--mem", "--cpus-per-task", "--gpus") if key in options}
    # the rules' threads, mem_mb, runtime (baseline: the profile's 120 min) and gpu; GPU jobs to
    # the profile's GPU partition, CPU jobs to SLURM's default one; no account (guessed: none here)
    gpu_job = {"-p": "gpu", "-t": "720", "--mem": "8000", "--cpus-per-task": "8", "--gpus": "1"}
    assert submitted == {"train": gpu_job, "qg_train": gpu_job,
                         "baseline": {"-t": "120", "--mem": "6000", "--cpus-per-task": "2"}}, result.stderr[-3000:]


def test_htcondor_profile_submits_threads_memory_runtime_and_gpus(tmp_path):
    log = tmp_path / "htcondor.jsonl"
    result = run(tmp_path, "--profile", str(REPO / "profiles/htcondor"), "--seconds-between-status-checks", "1",
                 command=(sys.executable, str(REPO / "tests/fake_htcondor.py")),
                 env={"FAKE_HTCONDOR_LOG": str(log)})
    assert log.exists(), result.stderr[-3000:]
    keys = ("request_cpus", "request_memory", "request_gpus", "allowed_execute_duration", "request_disk")
    submitted = {}
    for line in log.read_text().splitlines():
        description = json.loads(line)
        submitted[description["batch_name"].rsplit("-", 1)[0]] = {k: description[k] for k in keys if k in description}
    gpu_job = {"request_cpus": "8", "request_memory": "8000", "request_gpus": "1",
               "allowed_execute_duration": str(720 * 60), "request_disk": "2000000"}
    assert submitted == {"train": gpu_job, "qg_train": gpu_job,
                         "baseline": {"request_cpus": "2", "request_memory": "6000",
                                      "allowed_execute_duration": str(120 * 60), "request_disk": "2000000"}}, \
        result.stderr[-3000:]


def test_local_profile_runs_each_job_with_its_rules_threads_and_resources(tmp_path):
    result = run(tmp_path, "--profile", str(REPO / "profiles/local"), "--dry-run", "--cores", "64")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = {rule: [{k: job.get(k) for k in ("threads", "mem_mb", "runtime", "gpu")} for job in listed]
            for rule, listed in dry_run_jobs(result.stdout).items()}
    gpu_job = [{"threads": 8, "mem_mb": "8000", "runtime": "720", "gpu": "1"}]
    assert jobs == {"train": gpu_job, "qg_train": gpu_job,
                    "baseline": [{"threads": 2, "mem_mb": "6000", "runtime": None, "gpu": None}]}


def test_htcondor_names_follow_every_rules_resources(tmp_path):
    """Over the whole test DAG, every job's HTCondor memory, GPU and runtime requests are its
    mem_mb, gpu and runtime (the rule's own or the profile's default), not a profile constant."""
    result = subprocess.run(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
         str(REPO / "config/test.yaml"), "--profile", str(REPO / "profiles/htcondor"), "--dry-run"],
        capture_output=True, text=True, env={**os.environ, "CONDOR_CONFIG": "/dev/null"})
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = dry_run_jobs(result.stdout)
    assert {"generate", "skim", "split", "train", "baseline", "qg_train", "method_metrics", "figure"} <= set(jobs)
    for rule, listed in jobs.items():
        for job in listed:
            assert job["request_memory"] == job["mem_mb"], rule
            assert job.get("request_gpus") == job.get("gpu"), rule
            assert int(job["allowed_execute_duration"]) == 60 * int(job["runtime"]), rule
    memory = {rule: {job["request_memory"] for job in listed} for rule, listed in jobs.items()}
    assert memory["skim"] == {"3000"} and memory["split"] == {"4000"} and memory["generate"] == {"2000"}
    assert memory["qg_samples"] == memory["qg_score"] == {"6000"} and memory["evaluate"] == {"2000"}

