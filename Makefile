# The set-up and entry points. `make demo` runs the chain locally, `make test` runs every test.
# Every install step lives here: a fresh Debian 12 machine with Rust, Python and git needs
# nothing done by hand.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CARGO ?= cargo
AS_POSTGRES := $(if $(SUDO),sudo -u postgres,runuser -u postgres --)

APT_PACKAGES := build-essential pkg-config clang libclang-dev libopencv-dev \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	gstreamer1.0-libav gstreamer1.0-tools postgresql mosquitto mosquitto-clients unzip curl \
	chromium chromium-driver libssl-dev python3-venv python3-pip poppler-utils zbar-tools \
	libfaketime

# ONNX Runtime: the shared library of the `onnxruntime` wheel, loaded by `ort` (feature api-31).
# Change the version, the wheel's sha256 and ort's `api-NN` feature together.
ORT_VERSION := 1.31.1
ORT_WHEEL := onnxruntime-$(ORT_VERSION)-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA256 := 5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
ORT_DIR := .ort/lib
ORT_LIB := $(ORT_DIR)/libonnxruntime.so.$(ORT_VERSION)

# The services the tests use, on loopback.
PG_PORT := 5432
MQTT_PORT := 1883
export TVE_TEST_DATABASE_URL ?= postgres://tve:tve@127.0.0.1:$(PG_PORT)/tve_test
export TVE_TEST_MQTT_URL ?= mqtt://127.0.0.1:$(MQTT_PORT)
export ORT_DYLIB_PATH := $(CURDIR)/$(ORT_DIR)/libonnxruntime.so
export CARGO_TERM_COLOR ?= never
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: help deps deps-apt deps-rust deps-ort deps-py deps-deny deps-bench services build test lint deny advisory-db fmt demo demo-services bench train-env models plate-rec plate-det vehicle-det-people people-det schema soak clean

help:
	@echo "make demo    build and start the chain locally, print its URLs"
	@echo "make demo-services   the same on PostgreSQL and Mosquitto"
	@echo "make test    set up everything, then format check, clippy, every test"
	@echo "make deps    install what this machine lacks (apt packages, ONNX Runtime, services)"
	@echo "make lint    cargo fmt --check and clippy -D warnings"
	@echo "make deny    cargo deny: licences, advisories (deny/advisory-db.tar.gz), sources, bans"
	@echo "make advisory-db   refresh the RustSec advisory snapshot from GitHub"
	@echo "make bench   criterion benches and the pipeline harnesses"
	@echo "make soak    four sim cameras through the whole chain for an hour (TVE_SOAK_MINUTES)"
	@echo "make schema  regenerate protocol/schema/*.json from the types"
	@echo "make models | plate-rec | plate-det | people-det   train the models again (models/README.md)"

deps: deps-apt deps-rust deps-ort deps-py services

# Installs those of the Debian packages $(1) this machine lacks.
apt_install = missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Makes the virtualenv $(1) when missing and installs $(2) into it.
venv_install = [ -x $(1)/bin/python ] || python3 -m venv $(1); \
	$(1)/bin/pip install --quiet --disable-pip-version-check $(2)

# Python programs the tests run as the other side of a protocol: an S3-compatible object store
# (moto, which checks SigV4 signatures) for central's evidence store. Pinned in tests/requirements.txt.
TEST_VENV := .venv-test
deps-py: $(TEST_VENV)/.installed

$(TEST_VENV)/.installed: tests/requirements.txt
	@$(call venv_install,$(TEST_VENV),-r tests/requirements.txt)
	@touch $@

deps-apt:
	@$(call apt_install,$(APT_PACKAGES))

deps-rust:
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy

# cargo-deny, built once into a cache outside the clone (crates.io is the only source it needs).
CARGO_DENY_VERSION := 0.19.4
TOOLS := $(HOME)/.cache/tve-tools
CARGO_DENY := $(TOOLS)/bin/cargo-deny
deps-deny:
	@$(CARGO_DENY) --version 2>/dev/null | grep -qx 'cargo-deny $(CARGO_DENY_VERSION)' \
	  || env -u CARGO_TARGET_DIR $(CARGO) install --quiet --locked --root $(TOOLS) \
	       cargo-deny --version $(CARGO_DENY_VERSION)

deps-ort: $(ORT_LIB)

$(ORT_LIB):
	@mkdir -p .cache/wheels $(ORT_DIR)
	@[ -f .cache/wheels/$(ORT_WHEEL) ] || python3 -m pip download --quiet --no-deps --only-binary=:all: \
	  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
	  -d .cache/wheels onnxruntime==$(ORT_VERSION)
	@echo "$(ORT_WHEEL_SHA256)  .cache/wheels/$(ORT_WHEEL)" | sha256sum --check --quiet
	@unzip -q -o -j .cache/wheels/$(ORT_WHEEL) 'onnxruntime/capi/libonnxruntime.so.$(ORT_VERSION)' -d $(ORT_DIR)
	@ln -sf libonnxruntime.so.$(ORT_VERSION) $(ORT_DIR)/libonnxruntime.so.1
	@ln -sf libonnxruntime.so.$(ORT_VERSION) $(ORT_DIR)/libonnxruntime.so
	@echo "onnx runtime $(ORT_VERSION) in $(ORT_DIR)"

# PostgreSQL and Mosquitto on loopback, started when they are not answering, and the test roles
# (`tve` owns the test databases; `tve_service` is a service's own role beside an owner).
services: deps-apt
	@if ! pg_isready -q -h 127.0.0.1 -p $(PG_PORT); then \
	  echo "starting postgresql"; \
	  $(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p $(PG_PORT) && break; sleep 1; done; \
	fi
	@pg_isready -q -h 127.0.0.1 -p $(PG_PORT) || { echo "postgresql is not answering on 127.0.0.1:$(PG_PORT)" >&2; exit 1; }
	@cd /tmp && $(AS_POSTGRES) psql -q -v ON_ERROR_STOP=1 -d postgres -c \
	  "DO \$$\$$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tve') THEN \
	   CREATE ROLE tve LOGIN PASSWORD 'tve' CREATEDB; END IF; \
	   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tve_service') THEN \
	   CREATE ROLE tve_service LOGIN PASSWORD 'tve_service'; END IF; END \$$\$$;"
	@cd /tmp && ($(AS_POSTGRES) psql -tAq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'tve_test'" | grep -q 1) \
	  || $(AS_POSTGRES) createdb -O tve tve_test
	@if ! (exec 3<>/dev/tcp/127.0.0.1/$(MQTT_PORT)) 2>/dev/null; then \
	  echo "starting mosquitto"; \
	  $(SUDO) mosquitto -d -c /etc/mosquitto/mosquitto.conf; \
	  for i in $$(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/$(MQTT_PORT)) 2>/dev/null && break; sleep 0.2; done; \
	fi
	@(exec 3<>/dev/tcp/127.0.0.1/$(MQTT_PORT)) 2>/dev/null || { echo "mosquitto is not answering on 127.0.0.1:$(MQTT_PORT)" >&2; exit 1; }

build: deps
	$(CARGO) build --workspace --release --bins

fmt:
	$(CARGO) fmt --all

lint: deps-rust
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The RustSec advisory database as of the commit in deny/advisory-db.commit, unpacked as the
# git checkout cargo-deny reads with --disable-fetch: checking advisories needs no network. The
# checkout is dated by the snapshot's commit, so cargo-deny's `maximum-db-staleness` (deny.toml)
# measures the snapshot's own age; `make advisory-db` (where github.com answers) replaces it
# with today's database.
ADVISORY_URL := https://github.com/rustsec/advisory-db
ADVISORY_DBS := .cache/advisory-dbs
# The folder cargo-deny looks in for db-urls' entry (deny.toml): the URL's last segment and its
# hash; a changed URL names another folder.
ADVISORY_DB := $(ADVISORY_DBS)/advisory-db-3157b0e258782691
ADVISORY_DATE = $$(cut -d' ' -f2 $(CURDIR)/deny/advisory-db.commit)
$(ADVISORY_DB)/.unpacked: deny/advisory-db.tar.gz deny/advisory-db.commit
	@rm -rf $(ADVISORY_DB) && mkdir -p $(ADVISORY_DB)
	@tar -xzf deny/advisory-db.tar.gz -C $(ADVISORY_DB)
	@cd $(ADVISORY_DB) && git init -q && git add -A \
	  && GIT_COMMITTER_DATE="$(ADVISORY_DATE)" \
	     git -c user.name=rustsec -c user.email=rustsec@localhost -c commit.gpgsign=false \
	     commit -q --date="$(ADVISORY_DATE)" \
	     -m "RustSec advisory-db $$(cut -d' ' -f1 $(CURDIR)/deny/advisory-db.commit)" \
	  && touch -d "$(ADVISORY_DATE)" .git/HEAD && touch .unpacked

advisory-db:
	@rm -rf .cache/advisory-db-fresh
	git clone --quiet --depth 1 $(ADVISORY_URL) .cache/advisory-db-fresh
	@cd .cache/advisory-db-fresh && git archive --format=tar HEAD crates LICENSE.txt \
	  | gzip -n -9 > $(CURDIR)/deny/advisory-db.tar.gz \
	  && git log -1 --format='%H %cI' > $(CURDIR)/deny/advisory-db.commit
	@rm -rf .cache/advisory-db-fresh
	@echo "advisory snapshot: $$(cat deny/advisory-db.commit)"

deny: deps-deny $(ADVISORY_DB)/.unpacked
	@echo "advisories as of $$(cut -d' ' -f2 deny/advisory-db.commit) (make advisory-db refreshes them)"
	$(CARGO_DENY) --log-level error check --disable-fetch --config deny.toml

test: deps lint deny
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

schema:
	$(CARGO) run -q -p protocol --example export_schema -- protocol/schema

# The soak run, not part of `make test`: four simulated cameras through the whole chain on
# PostgreSQL and Mosquitto for TVE_SOAK_MINUTES (60), with a broker and a central restart; the
# release binaries, as a box runs them. Prints memory and file descriptors of every process.
TVE_SOAK_MINUTES ?= 60
soak: deps
	TVE_TEST_RELEASE=1 TVE_SOAK_MINUTES=$(TVE_SOAK_MINUTES) $(CARGO) test -p tests --test soak -- --ignored --nocapture

# What `make bench` adds: Tesseract (the generic OCR the plate reader is compared with), wrk
# (the HTTP load generator), and the Python of the reference pipeline (benches/reference).
BENCH_APT_PACKAGES := tesseract-ocr wrk
BENCH_VENV := .venv-bench
deps-bench: deps $(BENCH_VENV)/.installed
	@$(call apt_install,$(BENCH_APT_PACKAGES))

$(BENCH_VENV)/.installed: benches/reference/requirements.txt $(ORT_LIB)
	@$(call venv_install,$(BENCH_VENV),-r benches/reference/requirements.txt .cache/wheels/$(ORT_WHEEL))
	@touch $@

bench: deps-bench
	$(CARGO) build --release -q -p benches --bins
	$(CARGO) build --release -q -p edge-agent -p plate-ocr -p sim --bins
	ORT_VERSION=$(ORT_VERSION) scripts/bench.sh

# What training needs: the Python environment and the sim, optimised, to write the data.
train-env: deps-apt
	$(call venv_install,.venv-train,-r models/training/requirements.txt)
	$(CARGO) build --release -p sim --no-default-features

# Train the models again from sim data (see models/README.md). Results go to data/models-new.
MODEL_SCENES ?= 2000
MODEL_MINUTES ?= 120
MODEL_DATA ?= data/sim-dataset
# The vehicle detector starts from COCO-trained YOLOX-nano and learns real Vietnamese junctions
# beside the sim's frames (both in ../shared/data; see models/README.md).
MODEL_DETECTOR_ARGS ?= --coco-init ../shared/data/models/yolox_nano_416.onnx \
  --real ../shared/data/vn-street/data.yaml --real-share 0.6
models: train-env
	$(TARGET_DIR)/release/sim dataset --seed 11 --scenes $(MODEL_SCENES) --frames-per-scene 8 \
	  --plate-frames-per-scene 36 --out $(MODEL_DATA)
	PATH=$(CURDIR)/.venv-train/bin:$$PATH models/training/device_train.sh $(MODEL_DATA) \
	  data/models-new $(MODEL_MINUTES) data/models-work $(MODEL_DETECTOR_ARGS)
	sha256sum data/models-new/*.onnx

# The plate recognizer on plate crops drawn as street cameras give them (`sim plate-crops`:
# the plates' own lettering, embossing, holders, dirt, night light, blur, compression, tilted
# and loose crops) beside the plates of the sim's scenes, continued from the recognizer in the
# repository: about 40 minutes on two CPU cores (the last round of the shipped one; the manifest
# has all three). models/README.md has the figures on real crops and the command that measures
# them. REAL_PLATES: a folder of real plate crops with their characters boxed (YOLO format, a
# licence that allows training: models/README.md names the one the shipped recognizer learned
# from), drawn REAL_PLATES_REPEAT times beside the rendered ones.
PLATE_CROPS ?= 35000
PLATE_REC_MINUTES ?= 36
REAL_PLATES ?=
REAL_PLATES_REPEAT ?= 40
plate-rec: train-env
	$(TARGET_DIR)/release/sim dataset --seed 11 --scenes 1000 --frames-per-scene 0 \
	  --plate-frames-per-scene 36 --out data/sim-plates
	$(TARGET_DIR)/release/sim plate-crops --seed 1 --count $(PLATE_CROPS) --out data/plate-crops
	$(TARGET_DIR)/release/sim plate-crops --seed 2 --count $(PLATE_CROPS) --out data/plate-crops2
	rm -rf data/real-plates
	if [ -n "$(REAL_PLATES)" ]; then .venv-train/bin/python models/training/char_boxes.py \
	  --src "$(REAL_PLATES)" --out data/real-plates --repeat $(REAL_PLATES_REPEAT) \
	  $(if $(wildcard ../shared/data/vn-plates-dev/images),--check-against ../shared/data/vn-plates-dev/images); fi
	cd models/training && ../../.venv-train/bin/python train.py --data ../../data/sim-plates \
	  --also ../../data/plate-crops --also ../../data/plate-crops2 \
	  $(if $(REAL_PLATES),--also ../../data/real-plates) --out ../../data/models-new \
	  --work ../../data/models-work --model plate_rec --device auto --minutes $(PLATE_REC_MINUTES) \
	  --variant m --init ../plate_rec.onnx --batch 64 --lr 1e-3
	sha256sum data/models-new/plate_rec.onnx

# The plate detector on plates alone in loose crops (`sim plate-crops --detect-count`: a margin
# of nothing to a plate's width on each side, as a photograph of a plate or another detector's
# box gives them) beside the vehicle crops of the sim's scenes and their plates cropped loose,
# continued from the detector in the repository: about 45 minutes on two CPU cores.
PLATE_DET_CROPS ?= 30000
PLATE_DET_MINUTES ?= 45
plate-det: train-env
	$(TARGET_DIR)/release/sim dataset --seed 11 --scenes 400 --frames-per-scene 6 \
	  --plate-frames-per-scene 0 --loose-plates --plate-face stroke --out data/sim-pdet
	$(TARGET_DIR)/release/sim plate-crops --seed 5 --count 0 --detect-count $(PLATE_DET_CROPS) \
	  --out data/pdet-crops
	cd models/training && ../../.venv-train/bin/python train.py --data ../../data/sim-pdet \
	  --also ../../data/pdet-crops --out ../../data/models-new --work ../../data/models-work \
	  --model plate_det --device auto --minutes $(PLATE_DET_MINUTES) --init ../plate_det.onnx \
	  --batch 64 --lr 1e-3
	sha256sum data/models-new/plate_det.onnx

# The vehicle detector taught the people of real streets: vn-street labels no one, so a COCO
# detector's sure finds stand in for the labels on its train split (`pseudo_people.py`;
# DEIMv2-femto, Apache-2.0, from ../shared/data/models), continued from the detector in the
# repository beside sim frames. The validation split is left as it is: `edge-agent eval-detect
# --people-reference deimv2_femto` measures the masked copy against the same detector there.
DET_PEOPLE_MINUTES ?= 55
vehicle-det-people: train-env
	$(TARGET_DIR)/release/sim dataset --seed 11 --scenes 150 --frames-per-scene 8 \
	  --plate-frames-per-scene 0 --out data/sim-det
	.venv-train/bin/python models/training/pseudo_people.py --data ../shared/data/vn-street/data.yaml \
	  --model ../shared/data/models/deimv2_hgnetv2_femto_coco.onnx --out data/vn-street-people
	cd models/training && ../../.venv-train/bin/python train.py --data ../../data/sim-det \
	  --out ../../data/models-new --work ../../data/models-work --model vehicle_det --device auto \
	  --minutes $(DET_PEOPLE_MINUTES) --coco-init ../../../shared/data/models/yolox_nano_416.onnx \
	  --init ../vehicle_det.onnx --real ../../data/vn-street-people/data.yaml --real-share 0.7
	sha256sum data/models-new/vehicle_det.onnx

# The people detector the masked copies use beside the vehicle detector (never to judge): the
# same network, continued from the vehicle detector with the people DEIMv2-femto is sure of on
# vn-street's train split as labels, riders included (a rider near the camera is a face the
# motorbike's box alone may not cover), beside sim frames: about an hour on two CPU cores.
# Shipped as models/people_det.onnx (models/README.md, "People on real streets").
PEOPLE_DET_MINUTES ?= 60
# The model training starts from: the vehicle detector (as the shipped people_det was first
# made), or `../people_det.onnx` to train the shipped one further.
PEOPLE_DET_INIT ?= ../vehicle_det.onnx
people-det: train-env
	$(TARGET_DIR)/release/sim dataset --seed 11 --scenes 150 --frames-per-scene 8 \
	  --plate-frames-per-scene 0 --out data/sim-det
	.venv-train/bin/python models/training/pseudo_people.py --riders \
	  --data ../shared/data/vn-street/data.yaml \
	  --model ../shared/data/models/deimv2_hgnetv2_femto_coco.onnx --out data/vn-street-riders
	cd models/training && ../../.venv-train/bin/python train.py --data ../../data/sim-det \
	  --out ../../data/models-people --work ../../data/models-people-work --model vehicle_det \
	  --device auto --minutes $(PEOPLE_DET_MINUTES) \
	  --coco-init ../../../shared/data/models/yolox_nano_416.onnx --init $(PEOPLE_DET_INIT) \
	  --real ../../data/vn-street-riders/data.yaml --real-share 0.7
	mkdir -p data/models-new && cp data/models-people/vehicle_det.onnx data/models-new/people_det.onnx
	sha256sum data/models-new/people_det.onnx

demo: build
	@scripts/demo.sh

# The same chain on PostgreSQL and Mosquitto (started by `make deps`).
demo-services: build
	@TVE_DEMO_SERVICES=1 scripts/demo.sh

clean:
	$(CARGO) clean
