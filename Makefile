# UltraRefiner — two commands do everything on a fresh machine:
#   make demo   set up .venv, then run the main job
#   make test   set up .venv, then run every test (notebooks + pytest) and the export-sync check
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ultrarefiner-stamp
DATA ?= data
N ?= 80

.PHONY: demo test venv export readme clean-data docs

# Idempotent bootstrap: re-runs pip only when settings.ini / setup.py changed since the last install.
$(STAMP): settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

NFOLDS ?= 3
FOLDS ?= 0 1 2
JOBS ?= 1
EPOCHS ?= 12 4 1

# The main job: phantoms → prepare → all three phases + evaluation on every fold (lite preset: a decoder on the
# bundled pretrained LiteMedSAM; EPOCHS for phases 1, 2, 3) → report.
demo: $(STAMP)
	$(BIN)/ultrarefiner phantoms --out $(DATA) --n $(N) --seed 0
	$(BIN)/ultrarefiner prepare --data_root $(DATA) --datasets PHANTOM --folds $(NFOLDS)
	$(BIN)/ultrarefiner run-folds --phase all --datasets PHANTOM --folds $(FOLDS) --preset lite --epochs $(EPOCHS) --data_root $(DATA) --jobs $(JOBS)

test: $(STAMP)
	$(BIN)/python tools/run_tests.py

# The documentation site, offline, into _docs/ (needs the demo's outputs for its results page).
docs: $(STAMP) runs/eval/PHANTOM/summary.json
	NO_MKDOCS_2_WARNING=1 $(BIN)/python tools/docs.py

runs/eval/PHANTOM/summary.json:
	$(MAKE) demo

# Developer helpers: regenerate the library and README from the notebooks.
export: $(STAMP)
	$(BIN)/nbdev_export
	$(BIN)/python tools/readme.py

readme: $(STAMP)
	$(BIN)/python tools/readme.py

clean-data:
	rm -rf $(DATA)/PHANTOM $(DATA)/processed checkpoints predictions runs
