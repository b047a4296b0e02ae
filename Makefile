# yolo-ffi. Two commands on a fresh machine: `make demo` and `make test`.
# Everything fetched at build or test time comes from PyPI or crates (scripts/fetch.sh).

CARGO    ?= cargo
PYTHON   ?= python3
CC       ?= cc
CXX      ?= c++
CBINDGEN_VERSION := 0.29.2
# ONNX Runtime's versions (ORT_VERSION, ORT_GPU_VERSION, ...), stated once for the Makefile and the scripts.
include versions.env

CACHE    := $(shell scripts/fetch.sh path)
LIB      := target/release/libyolo_ffi.so
# The SONAME build.rs gives the library (the ABI version: MAJOR, or 0.MINOR before 1.0), and the link by that
# name that programs linked with -lyolo_ffi look for at run time.
# The crate version ([workspace.package] of Cargo.toml, its one place), read once here.
VERSION     := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
VERSION_PARTS := $(subst ., ,$(VERSION))
ABI_VERSION := $(if $(filter 0,$(word 1,$(VERSION_PARTS))),0.$(word 2,$(VERSION_PARTS)),$(word 1,$(VERSION_PARTS)))
SONAME_LINK := $(LIB).$(ABI_VERSION)
CBINDGEN := build/tools/bin/cbindgen
PYDEPS   := build/modelvenv
MODELS   := build/test-models
SOURCES  := $(shell find src core/src -name '*.rs') Cargo.toml core/Cargo.toml Cargo.lock
CWARN    := -Wall -Wextra -Werror
# The developers' and CI's fixtures beside the clone (trained task models, Ultralytics references); the tests
# that need them say SKIPPED without them, or fail when YOLO_FFI_REQUIRE_SHARED=1 (.ci/run sets it).
SHARED   := ../shared
# libjpeg-turbo's SIMD needs nasm at build time on x86-64 (without it the library still builds, decoding JPEG
# slower), and only the C compiler on aarch64. Expanded when used, so that it sees a nasm that `system-deps`
# installed earlier in the same run.
FEATURES  = $(if $(or $(filter aarch64,$(shell uname -m)),$(shell command -v nasm 2>/dev/null)),--features simd-jpeg,)
RPATH    := -Wl,-rpath,'$$ORIGIN/../target/release'
LINK     := -Ltarget/release -lyolo_ffi $(RPATH)
# $(call fresh-venv,DIR,PIP ARGUMENTS): a new virtualenv in DIR (an old one removed first) with those packages
# from PyPI. Every Python environment of the Makefile is made by it.
fresh-venv = rm -rf $(1) && $(PYTHON) -m venv $(1) && $(1)/bin/pip install --quiet --disable-pip-version-check $(2)
DEMO_MODEL  := $(CACHE)/models/nudenet-320n.onnx
DEMO_IMAGES := $(CACHE)/images/bus.jpg $(CACHE)/images/zidane.jpg

.PHONY: bench-python system-deps all ort openvino fixtures demo check test header check-header lint test-models export-variants test-rust test-c \
        test-c-sanitize test-c-valgrind wheel test-python bench bench-tasks bench-track clean fuzz fuzz-smoke miri \
        install uninstall test-install test-snippets test-bindings test-node test-go test-java test-scale-out gpu \
        soak-celery wheel-aarch64 install-aarch64 test-aarch64

all: $(SONAME_LINK) build/detect

## Optional system packages (nasm, for libjpeg-turbo's SIMD); best effort, see the script.
system-deps:
	scripts/system-deps.sh

$(LIB): $(wildcard $(SOURCES)) build.rs
	$(CARGO) build --release --locked $(FEATURES)

$(SONAME_LINK): $(LIB)
	ln -sf libyolo_ffi.so $@

build/detect: examples_c/detect.c include/yolo_ffi.h $(SONAME_LINK)
	@mkdir -p build
	$(CC) -std=c11 $(CWARN) -O2 -Iinclude $< -o $@ $(LINK)

## ONNX Runtime (ORT_VERSION of versions.env) from the PyPI wheel, into $(CACHE).
ort:
	scripts/fetch.sh ort

## The demo model (nudenet 3.4.2, AGPL-3.0 weights) and the sample images, from PyPI.
fixtures: ort
	scripts/fetch.sh demo
	scripts/fetch.sh images

demo: all fixtures
	build/detect $(DEMO_MODEL) $(DEMO_IMAGES)

## The header is generated: never edit include/yolo_ffi.h by hand.
$(CBINDGEN):
	$(CARGO) install --quiet --locked cbindgen --version $(CBINDGEN_VERSION) --root build/tools

## cbindgen reads the C crate alone (src/), so no item of the Rust core (core/) can reach the header.
header: $(CBINDGEN)
	$(CBINDGEN) --quiet --config cbindgen.toml --output include/yolo_ffi.h src/lib.rs

check-header: $(CBINDGEN)
	$(CBINDGEN) --quiet --config cbindgen.toml --output include/yolo_ffi.h --verify src/lib.rs
	tests/c/check_header.sh include/yolo_ffi.h $(CC) $(CXX)

lint:
	$(PYTHON) scripts/bench_page.py --check docs/benchmarks.md
	$(PYTHON) scripts/check_versions.py
	$(PYTHON) scripts/import_graph.py --check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets $(FEATURES) -- -D warnings

# What scripts/make_test_models.py needs (a variable: $(call) splits its arguments at commas).
MODEL_TOOLS := "onnx>=1.17,<2" "numpy<3"
$(PYDEPS)/.installed:
	$(call fresh-venv,$(PYDEPS),$(MODEL_TOOLS))
	@touch $@

test-models: $(PYDEPS)/.installed scripts/make_test_models.py
	$(PYDEPS)/bin/python scripts/make_test_models.py $(MODELS)

# The shared models exported again with other options (tests/fixtures/export-variants), rebuilt from their
# committed graphs and ../shared's weights; without ../shared it says SKIPPED.
export-variants: $(PYDEPS)/.installed scripts/assemble_export_variants.py
	$(PYDEPS)/bin/python scripts/assemble_export_variants.py build/export-variants

test-rust: $(LIB) test-models fixtures export-variants
	scripts/fetch.sh old-ort
	scripts/fetch.sh openvino
	$(CARGO) test --release --locked --workspace $(FEATURES)

## The C and C++ test programs: tests/c/NAME.c gives build/NAME, tests/cpp/NAME.cpp and tests/c/NAME.cpp give
## build/NAME (C++17), each also as build/NAME_asan under AddressSanitizer and UBSan; examples_c/detect.c
## gives build/detect (above) and build/detect_asan.
TEST_CFLAGS   := -std=c11 $(CWARN) -g -O2 -Iinclude
TEST_CXXFLAGS := -std=c++17 $(CWARN) -g -O2 -Iinclude
SANITIZE      := -fsanitize=address,undefined -fno-omit-frame-pointer
C_DEPS        := tests/c/read_file.h tests/c/check.h include/yolo_ffi.h $(SONAME_LINK)
CXX_DEPS      := include/yolo_ffi.hpp $(C_DEPS)

build/%: tests/c/%.c $(C_DEPS)
	@mkdir -p build
	$(CC) $(TEST_CFLAGS) $< -o $@ $(LINK) -pthread -lm
build/%_asan: tests/c/%.c $(C_DEPS)
	@mkdir -p build
	$(CC) $(TEST_CFLAGS) $(SANITIZE) $< -o $@ $(LINK) -pthread -lm
build/%_cpp: tests/c/%.cpp $(CXX_DEPS)
	@mkdir -p build
	$(CXX) $(TEST_CXXFLAGS) $< -o $@ $(LINK)
build/%: tests/cpp/%.cpp $(CXX_DEPS)
	@mkdir -p build
	$(CXX) $(TEST_CXXFLAGS) $< -o $@ $(LINK)
build/%_asan: tests/cpp/%.cpp $(CXX_DEPS)
	@mkdir -p build
	$(CXX) $(TEST_CXXFLAGS) $(SANITIZE) $< -o $@ $(LINK)
# The header's struct layouts as the C compiler gives them, for the Python and binding tests to compare with.
build/layouts.txt: build/layouts
	build/layouts > $@
build/detect_asan: examples_c/detect.c $(C_DEPS)
	$(CC) $(TEST_CFLAGS) $(SANITIZE) $< -o $@ $(LINK)

SOAK_IMAGE := tests/fixtures/images/rgb.jpg
SAN_ENV    := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=tests/c/lsan.supp \
              UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

test-c: all build/layouts.txt build/header_test build/header_test_cpp build/api_test build/fork_test build/exit_during_load build/soak \
        build/hostile_models build/tasks_test test-models fixtures
	readelf -d $(LIB) | grep -q 'Library soname: \[libyolo_ffi.so.$(ABI_VERSION)\]' || \
	  { echo "$(LIB) lacks the SONAME libyolo_ffi.so.$(ABI_VERSION)"; exit 1; }
	build/header_test
	build/header_test_cpp
	build/api_test $(DEMO_MODEL) $(CACHE)/images/bus.jpg
	build/tasks_test $(MODELS) $(SHARED)
	timeout 300 build/fork_test $(MODELS)/v8_fixed.onnx 1 2 $(MODELS)/seg_fixed.onnx
	timeout 300 build/fork_test $(MODELS)/v8_fixed.onnx 2 1 $(MODELS)/seg_fixed.onnx
	timeout 300 build/fork_test $(MODELS)/v8_fixed.onnx 2 2 $(MODELS)/seg_fixed.onnx
	timeout 300 build/hostile_models $(MODELS) $(DEMO_MODEL)
	timeout 600 build/exit_during_load $(DEMO_MODEL) 300
	scripts/check_detect_cli.sh build/detect $(MODELS) $(DEMO_MODEL) $(CACHE)/images/bus.jpg
	timeout 600 build/soak $(MODELS)/v8_fixed.onnx $(SOAK_IMAGE) 8 10000

test-c-sanitize: build/api_test_asan build/soak_asan build/detect_asan build/hostile_models_asan build/tasks_test_asan \
                 build/wrapper_test_asan test-models fixtures
	$(SAN_ENV) build/wrapper_test_asan $(DEMO_MODEL) $(CACHE)/images/bus.jpg 320 $(MODELS) > /dev/null
	$(SAN_ENV) build/api_test_asan $(MODELS)/v8_fixed.onnx $(CACHE)/images/bus.jpg
	$(SAN_ENV) build/tasks_test_asan $(MODELS) $(SHARED)
	$(SAN_ENV) build/hostile_models_asan $(MODELS) $(DEMO_MODEL)
	$(SAN_ENV) build/detect_asan $(DEMO_MODEL) $(DEMO_IMAGES) > /dev/null
	$(SAN_ENV) timeout 600 build/soak_asan $(MODELS)/v8_fixed.onnx $(SOAK_IMAGE) 8 1000 0

VALGRIND := valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --suppressions=tests/c/valgrind.supp

test-c-valgrind: build/api_test build/soak build/detect build/exit_during_load build/tasks_test build/wrapper_test \
                 test-models fixtures
	$(VALGRIND) build/wrapper_test $(DEMO_MODEL) $(CACHE)/images/bus.jpg 320 $(MODELS) > /dev/null
	$(VALGRIND) build/api_test $(MODELS)/v8_fixed.onnx $(CACHE)/images/bus.jpg
	$(VALGRIND) build/tasks_test $(MODELS)
	@# Fair scheduling: with valgrind's default lock, the main thread can wait out the whole background load,
	@# so that no child exits during it and the test has nothing to test.
	timeout 900 $(VALGRIND) --fair-sched=yes build/exit_during_load $(MODELS)/v8_fixed.onnx 6
	$(VALGRIND) build/detect $(DEMO_MODEL) $(DEMO_IMAGES) > /dev/null
	timeout 900 $(VALGRIND) build/soak $(MODELS)/v8_fixed.onnx $(SOAK_IMAGE) 4 250 0

## The C and C++ package (docs/c-api.md#installing): `make install PREFIX=/usr/local` (DESTDIR for staging)
## installs the versioned library with its SONAME links, yolo_ffi.h and the C++17 wrapper yolo_ffi.hpp, a
## pkg-config file and a CMake package (yolo_ffi::yolo_ffi), and beside the library ONNX Runtime $(ORT_VERSION) from
## PyPI, where it looks first (WITH_ORT=0 leaves it out, for systems that have their own 1.31 or later).
PREFIX   ?= /usr/local
WITH_ORT ?= 1
INSTALL_LIB := $(DESTDIR)$(PREFIX)/lib
ORT_FILE := libonnxruntime.so.$(ORT_VERSION)
# What is installed: this machine's build and ONNX Runtime (`make install-aarch64` names the aarch64 ones).
INSTALL_FROM ?= $(LIB)
ORT_FROM     ?= $(CACHE)/onnxruntime-$(ORT_VERSION)/$(ORT_FILE)
ORT_FETCH    ?= ort
STRIP        ?= strip
INSTALLED := lib/libyolo_ffi.so.$(VERSION) lib/libyolo_ffi.so.$(ABI_VERSION) lib/libyolo_ffi.so \
             include/yolo_ffi.h include/yolo_ffi.hpp lib/pkgconfig/yolo_ffi.pc \
             lib/cmake/yolo_ffi/yolo_ffi-config.cmake lib/cmake/yolo_ffi/yolo_ffi-config-version.cmake \
             share/doc/yolo_ffi/LICENSE-MIT share/doc/yolo_ffi/LICENSE-APACHE
# What `make install` put in PREFIX, one path a line, which `make uninstall` removes.
MANIFEST := share/doc/yolo_ffi/installed-files

install: $(INSTALL_FROM) $(if $(filter 1,$(WITH_ORT)),$(ORT_FETCH))
	install -d $(INSTALL_LIB)/pkgconfig $(INSTALL_LIB)/cmake/yolo_ffi $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/share/doc/yolo_ffi
	install -m 755 $(INSTALL_FROM) $(INSTALL_LIB)/libyolo_ffi.so.$(VERSION)
	$(STRIP) --strip-debug $(INSTALL_LIB)/libyolo_ffi.so.$(VERSION)
	ln -sf libyolo_ffi.so.$(VERSION) $(INSTALL_LIB)/libyolo_ffi.so.$(ABI_VERSION)
	ln -sf libyolo_ffi.so.$(ABI_VERSION) $(INSTALL_LIB)/libyolo_ffi.so
	install -m 644 include/yolo_ffi.h include/yolo_ffi.hpp $(DESTDIR)$(PREFIX)/include
	sed 's/@VERSION@/$(VERSION)/' packaging/yolo_ffi.pc.in > $(INSTALL_LIB)/pkgconfig/yolo_ffi.pc
	for f in yolo_ffi-config.cmake yolo_ffi-config-version.cmake; do \
	  sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ABI_VERSION@/$(ABI_VERSION)/' packaging/$$f.in \
	    > $(INSTALL_LIB)/cmake/yolo_ffi/$$f; done
	install -m 644 LICENSE-MIT LICENSE-APACHE $(DESTDIR)$(PREFIX)/share/doc/yolo_ffi
	$(if $(filter 1,$(WITH_ORT)),install -m 755 $(ORT_FROM) $(INSTALL_LIB))
	printf '%s\n' $(INSTALLED) $(if $(filter 1,$(WITH_ORT)),lib/$(ORT_FILE)) $(MANIFEST) > $(DESTDIR)$(PREFIX)/$(MANIFEST)

## Removes exactly the files that `make install` listed in its manifest: an ONNX Runtime that was already
## there (WITH_ORT=0) stays.
uninstall:
	@manifest=$(DESTDIR)$(PREFIX)/$(MANIFEST); test -f $$manifest || \
	  { echo "make uninstall: $$manifest is missing: make install did not install here"; exit 1; }; \
	  for f in $$(cat $$manifest); do rm -f "$(DESTDIR)$(PREFIX)/$$f"; done
	-rmdir $(INSTALL_LIB)/cmake/yolo_ffi $(DESTDIR)$(PREFIX)/share/doc/yolo_ffi 2>/dev/null

## The install tree as its users see it: `make install` into a temporary prefix, then a CMake project
## (find_package, the C++ wrapper) and a pkg-config build of examples_c/detect.c against it, each compared
## with build/detect on the demo image; then `make uninstall` must leave the prefix empty.
INSTALL_TEST := build/install-test
test-install: build/detect fixtures
	rm -rf $(INSTALL_TEST)
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(INSTALL_TEST)/prefix)
	tests/install/run.sh $(INSTALL_TEST) $(DEMO_MODEL) $(CACHE)/images/bus.jpg
	$(MAKE) --no-print-directory uninstall PREFIX=$(abspath $(INSTALL_TEST)/prefix)
	test -z "$$(find $(INSTALL_TEST)/prefix -type f -o -type l)" || \
	  { echo "make uninstall left: $$(find $(INSTALL_TEST)/prefix -type f -o -type l)"; exit 1; }
	@# WITH_ORT=0 beside a system ONNX Runtime of the same name: uninstall must leave that one alone.
	echo system-runtime > $(INSTALL_TEST)/prefix/lib/$(ORT_FILE)
	$(MAKE) --no-print-directory install WITH_ORT=0 PREFIX=$(abspath $(INSTALL_TEST)/prefix) > /dev/null
	$(MAKE) --no-print-directory uninstall PREFIX=$(abspath $(INSTALL_TEST)/prefix)
	test "$$(find $(INSTALL_TEST)/prefix -type f -o -type l)" = $(INSTALL_TEST)/prefix/lib/$(ORT_FILE) && \
	  grep -qx system-runtime $(INSTALL_TEST)/prefix/lib/$(ORT_FILE) || \
	  { echo "make uninstall after WITH_ORT=0 did not leave exactly the system's ONNX Runtime"; exit 1; }

## The bindings (bindings/): Node.js over koffi, Go over cgo, Java over JNA. bindings/run_tests.sh runs each
## one's tests against the library and compares its detections on the demo image with build/detect's; a
## binding whose toolchain is missing says SKIPPED, loudly. Go finds the library by pkg-config, in a prefix
## that `make install` fills.
BINDINGS_PREFIX := build/prefix
$(BINDINGS_PREFIX)/.installed: $(LIB) include/yolo_ffi.h include/yolo_ffi.hpp $(wildcard packaging/*.in)
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(BINDINGS_PREFIX)) > /dev/null
	touch $@

BINDING_ARGS = $(LIB) $(BINDINGS_PREFIX) $(DEMO_MODEL) $(CACHE)/images/bus.jpg
test-node test-go test-java: test-%: $(SONAME_LINK) build/detect build/layouts.txt test-models fixtures \
                               $(BINDINGS_PREFIX)/.installed
	YOLO_FFI_TEST_LAYOUTS=$(abspath build/layouts.txt) YOLO_FFI_TEST_MODELS=$(abspath $(MODELS)) \
	  YOLO_FFI_TEST_DETECT=$(abspath build/detect) YOLO_FFI_TEST_TASK_IMAGE=$(abspath tests/fixtures/images/rgb.jpg) \
	  YOLO_FFI_TEST_HEADER=$(abspath include/yolo_ffi.h) \
	  bindings/run_tests.sh $* $(BINDING_ARGS)

test-bindings: test-node test-go test-java

## The Python distributions (docs/python.md): an sdist, and a manylinux2014 wheel (glibc 2.17 and later) built
## by setuptools-rust with Zig as the linker (PyPI's ziglang, through cargo-zigbuild) and libjpeg-turbo's SIMD
## decoder, so nasm is required here. The build tools are pinned in python/requirements-build.txt; cargo works
## in build/wheel-target, kept between runs. scripts/check_dists.py checks the tag with `auditwheel show`.
WHEEL_DIR      := build/wheelhouse
BUILD_VENV     := build/buildvenv
VENV           := build/venv
SDIST_VENV     := build/sdistvenv
WHEEL_ARCH     := $(shell uname -m)

$(BUILD_VENV)/.installed: python/requirements-build.txt
	$(call fresh-venv,$(BUILD_VENV),-r $<)
	touch $@

# $(call build-wheel,MACHINE,DIR,PATH): the manylinux2014 wheel for MACHINE (x86_64, aarch64) into DIR, with PATH
# first on PATH (setuptools-rust strips the debug info with the `strip` it finds there).
build-wheel = PATH="$(3)$(abspath $(BUILD_VENV))/bin:$$PATH" CARGO=cargo-zigbuild CARGO_BUILD_TARGET=$(1)-unknown-linux-gnu.2.17 \
	  CARGO_TARGET_DIR="$(abspath build/wheel-target)" $(BUILD_VENV)/bin/python -m build --no-isolation --wheel \
	  --outdir $(2) -C--build-option=--plat-name=manylinux2014_$(1) .

wheel: $(BUILD_VENV)/.installed
	@[ $(WHEEL_ARCH) = aarch64 ] || command -v nasm >/dev/null 2>&1 || { echo "make wheel: nasm is missing (make system-deps, or Debian's" \
	  "nasm package); the wheel must carry libjpeg-turbo's SIMD decoder" >&2; exit 1; }
	rm -rf $(WHEEL_DIR) build/setuptools
	$(BUILD_VENV)/bin/python -m build --no-isolation --sdist --outdir $(WHEEL_DIR) .
	$(call build-wheel,$(WHEEL_ARCH),$(WHEEL_DIR))
	$(BUILD_VENV)/bin/python scripts/check_dists.py inspect $(WHEEL_DIR)

## What users do: install the wheel into a fresh virtualenv, then run the package's and the Django and FastAPI
## examples' tests there, outside the source tree, with no Rust toolchain on PATH, so a wheel that forgets a
## file fails here; build and install the sdist in another fresh virtualenv, as pip does from an index (its
## build tools from PyPI).
NO_RUST = PATH="$(abspath $(VENV))/bin:/usr/local/bin:/usr/bin:/bin"
test-python: wheel $(SONAME_LINK) build/detect build/layouts.txt test-models fixtures
	rm -rf $(SDIST_VENV)
	$(call fresh-venv,$(VENV),-r python/requirements-test.txt onnxruntime==$(ORT_VERSION) -r examples/django/requirements.txt \
	  -r examples/fastapi/requirements.txt $(WHEEL_DIR)/yolo_ffi-*.whl)
	$(BUILD_VENV)/bin/python scripts/check_dists.py run $(VENV)/bin/python build/detect $(DEMO_MODEL) $(CACHE)/images/bus.jpg
	$(VENV)/bin/python -m mypy --strict --cache-dir=/dev/null python/yolo_ffi
	cd build && $(NO_RUST) YOLO_FFI_EXPECT_INSTALLED=1 timeout 900 ../$(VENV)/bin/python -m pytest -q -p no:cacheprovider ../tests/python
	cd examples/django && $(NO_RUST) timeout 900 ../../$(VENV)/bin/python manage.py test -v 2
	cd examples/fastapi && $(NO_RUST) timeout 600 ../../$(VENV)/bin/python -m pytest -q -s -p no:cacheprovider test_app.py
	$(call fresh-venv,$(SDIST_VENV),$(WHEEL_DIR)/yolo_ffi-*.tar.gz)
	$(BUILD_VENV)/bin/python scripts/check_dists.py run $(SDIST_VENV)/bin/python build/detect $(DEMO_MODEL) $(CACHE)/images/bus.jpg

## Every code block of the README, docs/ and the bindings' READMEs, run as written (scripts/check_snippets.py):
## C, C++, Python, JavaScript, Go, Java and shell. Under CI a language whose toolchain is missing fails.
test-snippets: test-python test-bindings
	$(VENV)/bin/python scripts/check_snippets.py --python $(VENV)/bin/python --base-python $(PYTHON) --cache $(CACHE) \
	  --prefix $(BINDINGS_PREFIX) --wheelhouse $(WHEEL_DIR) --cc $(CC) --cxx $(CXX) $(if $(CI),--require-all)

## The GPU runtime, for those who ask for it (not part of `make demo` or `make test`; several GB): for C and
## C++ programs, PyPI's onnxruntime-gpu with its CUDA and cuDNN libraries in the user cache, where the library
## looks when a CUDA or TensorRT provider is asked for (scripts/fetch.sh gpu); for Python, build/gpuvenv with
## the wheel, numpy and onnxruntime-gpu in place of onnxruntime. scripts/gpu-check.sh uses the latter on a machine with an NVIDIA GPU
## (docs/benchmarks.md, "GPU").
GPU_VENV := build/gpuvenv
# In place of the CPU build (never beside it: both wheels own the `onnxruntime` package folder).
ORT_GPU_REQUIREMENT := onnxruntime-gpu[cuda,cudnn]>=1.31,<2
gpu: wheel
	scripts/fetch.sh gpu
	$(call fresh-venv,$(GPU_VENV),pillow "numpy>=1.21" "$(ORT_GPU_REQUIREMENT)")
	$(GPU_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps $(WHEEL_DIR)/yolo_ffi-*.whl

## The OpenVINO plugin of PyPI's onnxruntime-ep-openvino (about 160 MB), for an ONNX Runtime built without
## OpenVINO: into the user cache, where `providers` "openvino" finds it (yolo_config_set_provider_library).
openvino:
	scripts/fetch.sh openvino

## Scale-out (docs/scale-out.md): the Celery example with a Redis server (Debian's redis-server) and Celery
## workers, and the Ray Serve example on a local Ray cluster, all started and stopped by the tests on
## 127.0.0.1, with the wheel in their own virtualenv. Ray's gRPC servers listen on every interface, so its
## test runs in a private network namespace (`unshare -rn`) whose only interface is loopback; where this
## system cannot make one, or has no redis-server, that part says SKIPPED.
SCALE_VENV := build/scalevenv
SCALE_ENV   = YOLO_TEST_MODEL=$(DEMO_MODEL) YOLO_TEST_IMAGE=$(CACHE)/images/bus.jpg YOLO_FFI_TEST_MODELS=$(abspath $(MODELS))
test-scale-out: wheel fixtures test-models
	$(call fresh-venv,$(SCALE_VENV),-r python/requirements-test.txt onnxruntime==$(ORT_VERSION) -r examples/celery/requirements.txt \
	  -r examples/ray_serve/requirements.txt $(WHEEL_DIR)/yolo_ffi-*.whl)
	@if command -v redis-server > /dev/null; then \
	  cd examples/celery && $(SCALE_ENV) timeout 900 ../../$(SCALE_VENV)/bin/python -m pytest -q -s -rs \
	    -p no:cacheprovider test_celery.py; \
	else printf '\n*** Celery: SKIPPED: redis-server is not installed (Debian: redis-server) ***\n\n' >&2; fi
	@if unshare -rn true 2> /dev/null; then \
	  cd examples/ray_serve && $(SCALE_ENV) timeout 900 unshare -rn sh -c 'ip link set lo up && exec \
	    ../../$(SCALE_VENV)/bin/python -m pytest -q -s -rs -p no:cacheprovider -p no:warnings test_ray_serve.py'; \
	else printf '\n*** Ray Serve: SKIPPED: cannot make a private network namespace (unshare -rn) ***\n\n' >&2; fi

## The Celery SIGTERM soak (examples/celery/soak_sigterm.py): SOAK_RUNS workers, each sent SIGTERM at a random
## moment (a third at start-up, a third while its pool starts, a third with tasks running), must all exit
## within 60 s and lose no task; a hang dumps every process's stacks (py-spy). About 6 s a run on 2 cores.
## The example's shutdown guard (examples/celery/shutdown_guard.py) runs with a 10 s grace here, so that the
## runs where it ends a hung pool cost less. `.ci/run` runs it after `make test`.
SOAK_RUNS ?= 300
soak-celery: wheel fixtures
	@command -v redis-server > /dev/null || { echo "soak-celery: redis-server is missing (make system-deps)"; exit 1; }
	$(call fresh-venv,$(SCALE_VENV),-r examples/celery/requirements.txt -r examples/celery/requirements-soak.txt \
	  $(WHEEL_DIR)/yolo_ffi-*.whl)
	cd examples/celery && PATH="$(abspath $(SCALE_VENV))/bin:$$PATH" YOLO_CELERY_SHUTDOWN_GRACE=10 \
	  timeout 3600 ../../$(SCALE_VENV)/bin/python \
	  soak_sigterm.py --model $(DEMO_MODEL) --image $(CACHE)/images/bus.jpg --runs $(SOAK_RUNS)

## Fuzzing (docs/reliability.md): cargo fuzz (libFuzzer + AddressSanitizer) on the nightly toolchain.
## `make fuzz-smoke` runs every target briefly (part of `make test`); `make fuzz FUZZ_SECONDS=600` for real.
## Without a nightly toolchain the smoke run is skipped with a message; FUZZ_REQUIRED=1 makes that an error.
CARGO_FUZZ    := build/tools/bin/cargo-fuzz
FUZZ_TARGETS  := detect_bytes detect_pixels metadata postprocess tasks track
FUZZ_SECONDS  ?= 600
SMOKE_SECONDS ?= 15
# The C-ABI targets load ONNX Runtime, whose one-time allocations LeakSanitizer would report, so they run
# without leak detection (their leaks are checked by the soak, the LSan and the valgrind runs of the C
# tests); the pure-Rust targets run with it (docs/reliability.md).
FUZZ_RUN       = PATH="$(CURDIR)/build/tools/bin:$$PATH" YOLO_FFI_ORT_LIBRARY=$(CACHE)/onnxruntime-$(ORT_VERSION)/$(ORT_FILE) \
                 $(CARGO) +nightly fuzz run --fuzz-dir fuzz -O

$(CARGO_FUZZ):
	$(CARGO) install --quiet --locked cargo-fuzz --version 0.13.2 --root build/tools

fuzz: $(CARGO_FUZZ) test-models fixtures
	for t in $(FUZZ_TARGETS); do mkdir -p build/fuzz/$$t; seeds=fuzz/seeds/$$t; \
	  leaks=1; case $$t in detect_*) leaks=0;; esac; \
	  if [ $$t = detect_bytes ]; then seeds=tests/fixtures/images; fi; \
	  $(FUZZ_RUN) $$t build/fuzz/$$t $$seeds -- -max_total_time=$(FUZZ_SECONDS) -detect_leaks=$$leaks \
	    -print_final_stats=1 > build/fuzz/$$t.log 2>&1; status=$$?; \
	  echo "fuzz $$t:"; grep -E "INITED|DONE|stat::number|stat::average|stat::peak" build/fuzz/$$t.log; \
	  if [ $$status != 0 ]; then tail -60 build/fuzz/$$t.log; echo "fuzz $$t FAILED: build/fuzz/$$t.log"; exit 1; fi; done

fuzz-smoke:
	@if ! $(CARGO) +nightly --version >/dev/null 2>&1; then \
	  if [ "$(FUZZ_REQUIRED)" = 1 ]; then echo "fuzz-smoke: no nightly toolchain"; exit 1; fi; \
	  echo "fuzz-smoke SKIPPED: cargo fuzz needs the nightly toolchain (rustup toolchain install nightly)"; \
	else $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(SMOKE_SECONDS); fi

## Miri on the unit tests of the modules that hold unsafe code but do not call ONNX Runtime: the FFI
## boundary and handles, the pool, the log sink, the stats (docs/reliability.md). Skipped with a message
## where the nightly toolchain has no miri; FUZZ_REQUIRED=1 makes that an error.
MIRI_TESTS := pool:: log:: stats:: boundary:: handles:: status:: enums::

miri:
	@if ! $(CARGO) +nightly miri --version >/dev/null 2>&1; then \
	  if [ "$(FUZZ_REQUIRED)" = 1 ]; then echo "miri: not installed for the nightly toolchain"; exit 1; fi; \
	  echo "miri SKIPPED: needs rustup component add miri --toolchain nightly"; \
	else MIRIFLAGS=-Zmiri-disable-isolation $(CARGO) +nightly miri test --workspace --lib -- $(MIRI_TESTS); fi

## Benchmarks (docs/benchmarks.md): wall-clock, so run on an idle machine. The models beyond the demo one
## live in ../shared/ (developers); set BENCH_MODELS to your own otherwise.
SHARED_MODELS := $(SHARED)/models
BENCH_IMAGE   ?= $(CACHE)/images/bus.jpg
BENCH_IMAGES  ?= $(BENCH_IMAGE) $(CACHE)/images/zidane.jpg
BENCH_MODELS  ?= $(if $(wildcard $(SHARED_MODELS)/yolov8n.onnx),$(SHARED_MODELS)/yolov8n.onnx $(SHARED_MODELS)/yolo11n.onnx \
                 $(SHARED_MODELS)/yolo26n-e2e.onnx) $(DEMO_MODEL):320
THROUGHPUT_MODEL ?= $(if $(wildcard $(SHARED_MODELS)/yolov8n.onnx),$(SHARED_MODELS)/yolov8n.onnx,$(DEMO_MODEL):320)

PLOT_TOOLS := "matplotlib>=3.8,<4"
bench: fixtures
	$(PYTHON) scripts/bench_provenance.py start build/bench-start
	$(CARGO) bench --locked $(FEATURES) --bench bench -- latency --rounds 30 --json docs/bench/latency.json \
	  $(BENCH_MODELS) $(BENCH_IMAGES)
	$(CARGO) bench --locked $(FEATURES) --bench bench -- throughput --seconds 3 --repeat 3 \
	  --json docs/bench/throughput.json $(THROUGHPUT_MODEL) $(BENCH_IMAGE)
	$(call fresh-venv,build/plotvenv,$(PLOT_TOOLS))
	build/plotvenv/bin/python scripts/plot_benchmarks.py docs/bench/throughput.json docs/bench/throughput.png
	$(CARGO) bench --locked $(FEATURES) --bench stages
	$(if $(wildcard $(SHARED_MODELS)/shapes-seg.onnx),$(MAKE) bench-tasks)
	$(MAKE) bench-track
	$(MAKE) bench-python
	$(PYTHON) scripts/bench_provenance.py --start build/bench-start \
	  $(if $(ULTRALYTICS_PYTHON),--ultralytics-python $(ULTRALYTICS_PYTHON)) $$(find docs/bench -name '*.json' -newer build/bench-start)
	$(PYTHON) scripts/bench_page.py docs/benchmarks.md

## The Python comparison (scripts/bench_python.py): the wheel in its own virtualenv, against onnxruntime +
## numpy (and Ultralytics, when installed there), on the demo model and on yolov8n when ../shared has it.
BENCH_VENV := build/benchvenv
## Every task's overhead over the raw run (the trained shapes models on their images, the random-weight
## yolo11n task heads on bus.jpg, both from ../shared/; the per-pixel models of tests/fixtures/maps/ on bus.jpg). ULTRALYTICS_PYTHON=/path/to/venv/bin/python also
## times Ultralytics' post-processing of the same models and images (scripts/ultralytics_postprocess.py).
TASK_IMAGE := $(SHARED)/images/tasks/seg_5.jpg
## The per-pixel models of tests/fixtures/maps/, timed on bus.jpg (a large image: their maps are resized to it).
MAP_MODELS := shapes26-sem shapes26-sem-logits shapes26-depth
bench-tasks: fixtures
	$(CARGO) bench --locked $(FEATURES) --bench bench -- latency --rounds 30 --json docs/bench/latency-tasks.json \
	  $(SHARED_MODELS)/shapes-seg.onnx $(SHARED_MODELS)/shapes-pose.onnx $(SHARED_MODELS)/shapes-obb.onnx \
	  $(SHARED_MODELS)/shapes-cls.onnx $(TASK_IMAGE)
	$(CARGO) bench --locked $(FEATURES) --bench bench -- latency --rounds 20 --json docs/bench/latency-tasks-yolo11n.json \
	  $(SHARED_MODELS)/yolo11n-seg.onnx $(SHARED_MODELS)/yolo11n-pose.onnx $(SHARED_MODELS)/yolo11n-obb.onnx $(BENCH_IMAGE)
	$(CARGO) bench --locked $(FEATURES) --bench bench -- latency --rounds 30 --json docs/bench/latency-tasks-maps.json \
	  $(MAP_MODELS:%=tests/fixtures/maps/%.onnx) $(BENCH_IMAGE)
	$(if $(ULTRALYTICS_PYTHON),$(ULTRALYTICS_PYTHON) scripts/ultralytics_postprocess.py \
	  --json docs/bench/ultralytics-postprocess.json $(SHARED_MODELS)/shapes-seg.onnx:segment:320 \
	  $(SHARED_MODELS)/shapes-pose.onnx:pose:320 $(SHARED_MODELS)/shapes-obb.onnx:obb:320 $(TASK_IMAGE) && \
	  $(ULTRALYTICS_PYTHON) scripts/ultralytics_postprocess.py --json docs/bench/ultralytics-postprocess-yolo11n.json \
	  $(SHARED_MODELS)/yolo11n-seg.onnx:segment:640 $(SHARED_MODELS)/yolo11n-pose.onnx:pose:640 \
	  $(SHARED_MODELS)/yolo11n-obb.onnx:obb:640 $(BENCH_IMAGE) && \
	  $(ULTRALYTICS_PYTHON) scripts/ultralytics_postprocess.py --json docs/bench/ultralytics-postprocess-maps.json \
	  tests/fixtures/maps/shapes26-sem.onnx:semantic:256 tests/fixtures/maps/shapes26-sem-logits.onnx:semantic:256 \
	  tests/fixtures/maps/shapes26-depth.onnx:depth:256 $(BENCH_IMAGE))

## The tracker's update (100 objects) against a detect call of the demo model at 320, and, with
## ULTRALYTICS_PYTHON, against Ultralytics' trackers on the same detections (scripts/ultralytics_track_bench.py).
bench-track: fixtures
	$(CARGO) bench --locked $(FEATURES) --bench track -- --json docs/bench/track.json --stream build/track-stream.json \
	  $(DEMO_MODEL):320 $(BENCH_IMAGE)
	$(if $(ULTRALYTICS_PYTHON),$(ULTRALYTICS_PYTHON) scripts/ultralytics_track_bench.py build/track-stream.json \
	  --json docs/bench/ultralytics-track.json)

## With ULTRALYTICS_PYTHON, the wheel goes into that environment and Ultralytics' predict is timed too.
BENCH_PY = $(or $(ULTRALYTICS_PYTHON),$(BENCH_VENV)/bin/python)
bench-python: wheel fixtures
	$(if $(ULTRALYTICS_PYTHON),$(ULTRALYTICS_PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps \
	  --force-reinstall $(WHEEL_DIR)/yolo_ffi-*.whl,$(call fresh-venv,$(BENCH_VENV),-r python/requirements-test.txt onnxruntime==$(ORT_VERSION) \
	  $(WHEEL_DIR)/yolo_ffi-*.whl))
	$(BENCH_PY) scripts/bench_python.py $(DEMO_MODEL) $(BENCH_IMAGE) --imgsz 320 \
	  --json docs/bench/python-nudenet-320n.json
	$(if $(wildcard $(SHARED_MODELS)/yolov8n.onnx),$(BENCH_PY) scripts/bench_python.py \
	  $(SHARED_MODELS)/yolov8n.onnx $(BENCH_IMAGE) --imgsz 640 --json docs/bench/python-yolov8n.json)

## The fast check beside `make test` (a few minutes, nothing installed): formatting, clippy, the header, the
## unit tests and the integration tests that run on the synthetic models of scripts/make_test_models.py.
CHECK_TESTS := allocations batch batching errors hostile layouts maps open_vocab preload reload rtdetr runtime_path task_heads track
check: lint check-header test-models fixtures
	$(CARGO) test --release --locked --workspace $(FEATURES) --lib $(addprefix --test ,$(CHECK_TESTS))

## Every test. It starts by installing the system packages the tests need (system-deps), as CI does.
test: system-deps lint check-header test-rust test-c test-c-sanitize test-c-valgrind test-install test-bindings test-python \
      test-snippets test-scale-out fuzz-smoke miri

clean:
	$(CARGO) clean
	rm -rf build

## Linux on Arm (docs/platforms.md): the aarch64 wheel and install tree, cross-built here with Zig (cargo-zigbuild,
## glibc 2.17, libjpeg-turbo's NEON decoder: the simd-jpeg feature needs no nasm on aarch64), and tested under
## qemu-user against the aarch64 ONNX Runtime of PyPI: build/detect and the C API test, compared with this
## machine's build and with Ultralytics' reference, and the wheel in Debian's arm64 Python. A target of its own
## that .ci/run calls, not part of `make test`: it builds the library twice more (the install tree's and the
## wheel's) and needs root for Debian's cross packages and the arm64 architecture of apt
## (scripts/aarch64-sysroot.sh).
AARCH64         := build/aarch64
AARCH64_LIB     := build/wheel-target/aarch64-unknown-linux-gnu/release/libyolo_ffi.so
AARCH64_PREFIX  := $(AARCH64)/prefix
AARCH64_WHEELS  := build/wheelhouse-aarch64
AARCH64_CC      := aarch64-linux-gnu-gcc

$(AARCH64_LIB): $(BUILD_VENV)/.installed $(wildcard $(SOURCES)) build.rs
	PATH="$(abspath $(BUILD_VENV))/bin:$$PATH" CARGO_TARGET_DIR="$(abspath build/wheel-target)" \
	  cargo-zigbuild zigbuild --release --locked --features simd-jpeg --target aarch64-unknown-linux-gnu.2.17

# Its `strip` is the cross binutils' (the host's cannot read an aarch64 library).
wheel-aarch64: $(BUILD_VENV)/.installed
	scripts/system-deps.sh aarch64
	rm -rf $(AARCH64_WHEELS) build/setuptools
	mkdir -p $(AARCH64)/tools && ln -sf $$(command -v aarch64-linux-gnu-strip) $(AARCH64)/tools/strip
	$(call build-wheel,aarch64,$(AARCH64_WHEELS),$(abspath $(AARCH64)/tools):)
	$(BUILD_VENV)/bin/python scripts/check_dists.py inspect-wheel $(AARCH64_WHEELS)

install-aarch64: $(AARCH64_LIB)
	scripts/system-deps.sh aarch64
	scripts/fetch.sh ort-aarch64
	rm -rf $(AARCH64_PREFIX)
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(AARCH64_PREFIX)) INSTALL_FROM=$(AARCH64_LIB) ORT_FETCH= \
	  ORT_FROM=$(CACHE)/aarch64/onnxruntime-$(ORT_VERSION)/$(ORT_FILE) STRIP=aarch64-linux-gnu-strip

# The C programs of the tests, cross-compiled and linked with the aarch64 install tree, as its users link.
$(AARCH64)/%: install-aarch64
	$(AARCH64_CC) -std=c11 $(CWARN) -O2 -I$(AARCH64_PREFIX)/include -Itests/c $(firstword $(wildcard tests/c/$*.c examples_c/$*.c)) \
	  -o $@ -L$(AARCH64_PREFIX)/lib -lyolo_ffi -Wl,-rpath,'$$ORIGIN/prefix/lib' -pthread -lm

test-aarch64: build/detect fixtures wheel-aarch64 install-aarch64
	scripts/system-deps.sh aarch64
	$(MAKE) --no-print-directory $(AARCH64)/detect $(AARCH64)/api_test
	scripts/aarch64-sysroot.sh $(AARCH64)/sysroot
	$(BUILD_VENV)/bin/python scripts/check_aarch64.py --build $(AARCH64) --wheels $(AARCH64_WHEELS) \
	  --host-detect build/detect --model $(DEMO_MODEL) --images $(DEMO_IMAGES) --shared $(SHARED)
