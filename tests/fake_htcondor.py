"""`snakemake` with HTCondor's Python bindings faked, for tests/test_profiles.py.

    python tests/fake_htcondor.py SNAKEMAKE_ARGS...   (FAKE_HTCONDOR_LOG=file.jsonl)

The HTCondor executor plugin builds each job's submit description and hands it to
`htcondor2.Submit`; here that writes the description, one JSON line per job, to
$FAKE_HTCONDOR_LOG, and `Schedd.submit` refuses the job. The plugin raises on a refused
submission, which would stop the run after the first job, so its `run_job` reports the refusal
as a failed job instead and snakemake goes on to the next one.
"""
from __future__ import annotations

import json
import os
import sys

import htcondor2
from snakemake.cli import main
from snakemake_executor_plugin_htcondor import Executor
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo


class Submit:
    def __init__(self, description: dict):
        with open(os.environ["FAKE_HTCONDOR_LOG"], "a") as log:
            log.write(json.dumps({key: str(value) for key, value in description.items()}) + "\n")

    def issue_credentials(self):
        pass


class Schedd:
    def submit(self, description):
        raise RuntimeError("recorded by tests/fake_htcondor.py, not submitted")


_run_job = Executor.run_job


def run_job(self, job):
    try:
        _run_job(self, job)
    except WorkflowError as err:
        self.report_job_error(SubmittedJobInfo(job), msg=str(err))


htcondor2.Submit, htcondor2.Schedd, Executor.run_job = Submit, Schedd, run_job

if __name__ == "__main__":
    main(sys.argv[1:])
