# `make run`: create .venv, install the pinned stack, run the embedded default workflow.
# `make test`: same set-up, then the test suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
export CONDOR_CONFIG ?= /dev/null

.PHONY: setup run tth qg learning-curve spanet-official test bench lint clean-venv

$(BIN)/snakemake: envs/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r envs/requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

setup: $(BIN)/snakemake

# One thread per training job: two of them (or one beside a generation job) use 2 cores better than
# one job on two threads (torch: 1.5x for SAJA, 1.2x for SPA-NET on 2 threads; config/README.md).
LOCAL_THREADS := --set-threads train=1 train_fraction=1 qg_train=1

run: setup
	$(BIN)/snakemake --cores $(CORES) $(LOCAL_THREADS) --configfile config/config.yaml

# All-hadronic t tbar H from config/topology/tth_allhad.yaml (issue 20; results/tth/).
tth: setup
	$(BIN)/snakemake --cores $(CORES) $(LOCAL_THREADS) --configfile config/tth.yaml

qg: setup
	$(BIN)/snakemake --cores $(CORES) $(LOCAL_THREADS) --configfile config/config.yaml config/qg.yaml

learning-curve: setup
	$(BIN)/snakemake --cores $(CORES) $(LOCAL_THREADS) --configfile config/config.yaml config/learning_curve.yaml

# The official SPANet package in its own environment (.venv-spanet), trained on the default run's
# datasets and evaluated beside our networks; SPANET_EPOCHS=N trains fewer epochs than config.yaml's.
spanet-official: setup
	$(BIN)/snakemake --cores $(CORES) results/default/datasets/test.h5 --configfile config/config.yaml
	$(BIN)/python -m benchmarks.spanet_official $(if $(SPANET_EPOCHS),--epochs $(SPANET_EPOCHS))
	$(BIN)/snakemake --cores $(CORES) $(LOCAL_THREADS) --configfile config/config.yaml config/spanet_official.yaml

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

bench: setup
	$(BIN)/python -m benchmarks.generation
	$(BIN)/python -m benchmarks.skim_match
	$(BIN)/python -m benchmarks.baselines
	$(BIN)/python -m benchmarks.saja
	$(BIN)/python -m benchmarks.onnx

lint: setup
	$(BIN)/ruff check analysis workflow tests benchmarks

clean-venv:
	rm -rf $(VENV)
