# crnn-deploy: setup, weights, convert (BS=16), preprocess, infer, postprocess, demo, test, bench
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
ASSETS ?= ../shared/assets
# the card's contract: 1x32x100 in, 26xBx37 out (the nano-ocr weights, classes folded; README)
MODEL ?= nano-ocr-37
BS ?= 16
CKPT ?= weights/nano_ocr_ftr.pth
# INT8 calibration images: IC03, never the scored IIIT5K
CALIB_GT ?= $(ASSETS)/eval_ic03_860/gt.txt
DATA := build/data
export CRNN_ASSETS := $(abspath $(ASSETS))

.PHONY: setup weights oracle ppocrv4 pages convert demo test bench bench-classic clean clean-weights

## setup: .venv with torch==2.13.0 (CPU build) first, then the project and its CPU extras (Ray Data included)
setup: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[export,openvino,quant,bench,report,test,ray,pages]'
	touch $@

## weights: nano-ocr's CRNN, EasyOCR's english_g2, RapidOCR's PP-OCRv4 recognizer, detector and angle classifier (sha256-checked) -> weights/
weights: setup
	$(PY) scripts/fetch_weights.py weights

## ppocrv4: RapidOCR's PP-OCRv4 recognizer (from `make weights`) imported with its preset, and its IR
## (dynamic batch and width; bf16's accuracy change on 300 IC03 words recorded for --precision auto)
ppocrv4: weights
	$(BIN)/crnn-convert import weights/ch_PP-OCRv4_rec_infer.onnx --spec ppocrv4-rec --output build/ppocrv4-rec.onnx --overwrite
	$(BIN)/crnn-convert openvino --onnx build/ppocrv4-rec.onnx --output build/ppocrv4-rec.xml --overwrite \
	  $(if $(wildcard $(CALIB_GT)),--check-gt $(CALIB_GT))

## pages: RapidOCR's PP-OCRv4 DB detector and angle classifier (from `make weights`) imported with
## their presets (ppocrv4-det, ppocr-cls), and their IRs (dynamic batch; the detector's H, W too)
pages: weights
	$(BIN)/crnn-convert import weights/ch_PP-OCRv4_det_infer.onnx --spec ppocrv4-det --output build/ppocrv4-det.onnx --overwrite
	$(BIN)/crnn-convert openvino --onnx build/ppocrv4-det.onnx --output build/ppocrv4-det.xml --overwrite
	$(BIN)/crnn-convert import weights/ch_ppocr_mobile_v2.0_cls_infer.onnx --spec ppocr-cls --output build/ppocr-cls.onnx --overwrite
	$(BIN)/crnn-convert openvino --onnx build/ppocr-cls.onnx --output build/ppocr-cls.xml --overwrite

## convert: every engine this machine can build for MODEL at batch BS, with a parity table;
## only when an engine is missing or older than the checkpoint or the converter's sources
## (models/, converter/, runtime/: the export, the checks and the backends they run)
CONVERT_SRC := $(wildcard models/*.py converter/*.py converter/int8/*.py runtime/*.py)
# a width that follows the word (english_g2): one ONNX and an IR of dynamic batch and width
DYNAMIC_WIDTH_MODELS := english_g2
ENGINES = build/$(MODEL)_dynamic.onnx \
  $(if $(filter $(MODEL),$(DYNAMIC_WIDTH_MODELS)),build/$(MODEL)_dynamic.xml,build/$(MODEL)_bs$(BS).onnx build/$(MODEL)_bs$(BS).xml) \
  $(if $(wildcard $(CALIB_GT)),build/$(MODEL)_bs$(BS)_int8.xml build/$(MODEL)_bs$(BS)_int8.onnx)
convert: setup $(ENGINES)
$(ENGINES) &: $(CKPT) $(CONVERT_SRC) | $(VENV)/.installed
	$(BIN)/crnn-convert all --model $(MODEL) --checkpoint $(CKPT) --batch-size $(BS) --outdir build --overwrite \
	  $(if $(wildcard $(CALIB_GT)),--calib-gt $(CALIB_GT))

weights/nano_ocr_ftr.pth: | $(VENV)/.installed
	$(PY) scripts/fetch_weights.py weights

## demo: IIIT5K (3000 words) through ONNX Runtime and OpenVINO with nano-ocr-37 (the classic
## 1x32x100 -> 26x1x37 contract), then the native nano-ocr (1x32x128) through ONNX Runtime
demo: setup weights
	$(MAKE) --no-print-directory convert MODEL=nano-ocr-37 BS=16 CKPT=weights/nano_ocr_ftr.pth
	$(MAKE) --no-print-directory convert MODEL=nano-ocr BS=16 CKPT=weights/nano_ocr_ftr.pth CALIB_GT=
	@test -f $(ASSETS)/eval_iiit5k_3000/gt.txt || { echo "IIIT5K not found under ASSETS=$(ASSETS)"; exit 1; }
	test -d $(DATA)/iiit5k.lmdb || $(BIN)/crnn-preprocess build-lmdb --gt $(ASSETS)/eval_iiit5k_3000/gt.txt --output $(DATA)/iiit5k.lmdb
	$(BIN)/crnn-preprocess lmdb-to-bin --lmdb $(DATA)/iiit5k.lmdb --model nano-ocr-37 --output $(DATA)/iiit5k_bin --labels $(DATA)/iiit5k_label.txt --overwrite
	$(BIN)/crnn-preprocess lmdb-to-bin --lmdb $(DATA)/iiit5k.lmdb --model nano-ocr --output $(DATA)/iiit5k_bin_nano --labels $(DATA)/iiit5k_label_nano.txt --overwrite
	$(BIN)/crnn-infer --engine build/nano-ocr-37_bs16.onnx --input $(DATA)/iiit5k_bin --output $(DATA)/result_onnxruntime --overwrite
	$(BIN)/crnn-infer --engine build/nano-ocr-37_bs16.xml --hint THROUGHPUT --input $(DATA)/iiit5k_bin --output $(DATA)/result_openvino --overwrite
	$(BIN)/crnn-infer --engine build/nano-ocr_bs16.onnx --input $(DATA)/iiit5k_bin_nano --output $(DATA)/result_nano_onnxruntime --overwrite
	$(BIN)/crnn-postprocess $(DATA)/result_onnxruntime $(DATA)/iiit5k_label.txt
	$(BIN)/crnn-postprocess $(DATA)/result_openvino $(DATA)/iiit5k_label.txt
	$(BIN)/crnn-postprocess $(DATA)/result_nano_onnxruntime $(DATA)/iiit5k_label_nano.txt
	$(PY) scripts/demo_table.py $(DATA)/result_onnxruntime $(DATA)/result_openvino $(DATA)/result_nano_onnxruntime

## oracle: EasyOCR 1.7.2 as a test-only oracle for english_g2, installed --no-deps: its torchvision
## requirement would pull a CUDA torch (the tests stand in torchvision.transforms.ToTensor)
oracle: setup
	$(PY) -m pip install -q --no-deps easyocr==1.7.2
	$(PY) -m pip install -q 'opencv-python-headless>=4.8' 'scikit-image>=0.21' 'python-bidi>=0.4' 'scipy>=1.10' 'PyYAML>=6.0'

## test: ruff (lint + import order), then the whole test suite (real data from ASSETS, real weights).
## The Ray tests run in a process of their own: a Ray driver that had shared one pytest process with
## every engine the other tests load crashed (SIGSEGV) at the bounded-wait test's SIGINT, twice in
## a row, while each part alone passes (2026-12-08)
test: setup weights oracle
	$(BIN)/ruff check .
	$(PY) -m pytest -q --ignore=tests/pipeline/ray
	$(PY) -m pytest -q tests/pipeline/ray

## bench: every variant side by side in one run -> docs/BENCHMARKS.md + docs/throughput.png (~10 min on 2 cores)
bench: setup weights
	$(MAKE) --no-print-directory convert MODEL=nano-ocr BS=16 CKPT=weights/nano_ocr_ftr.pth
	$(BIN)/crnn-bench run --model nano-ocr --checkpoint weights/nano_ocr_ftr.pth --assets $(ASSETS) --workdir build/bench --output docs/BENCHMARKS.md --plot docs/throughput.png

## bench-classic: the same for nano-ocr-37 (1x32x100 -> 26xBx37) -> docs/BENCHMARKS-nano-ocr-37.md
bench-classic: setup weights
	$(MAKE) --no-print-directory convert MODEL=nano-ocr-37 BS=16 CKPT=weights/nano_ocr_ftr.pth
	$(BIN)/crnn-bench run --model nano-ocr-37 --checkpoint weights/nano_ocr_ftr.pth --assets $(ASSETS) --workdir build/bench37 --output docs/BENCHMARKS-nano-ocr-37.md --plot docs/throughput-nano-ocr-37.png

## clean: remove built engines and data (build/); the downloaded weights (weights/) stay
clean:
	rm -rf build

## clean-weights: remove the downloaded weights (weights/); `make weights` fetches them again
clean-weights:
	rm -rf weights
