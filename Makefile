# clipseek — plain GNU Makefile. `make` builds, `make test` runs the suite, `make asan` runs it under
# AddressSanitizer + UBSan, `make fuzz` builds and replays the libFuzzer targets, `make bench`
# compares against the ONNX Runtime anchor, `make install` installs for the user (no sudo), `make uninstall`.
#
# BLAS: the fast linear layers go through BLAS=auto (default: the vision tower on weights prepacked
# for BLIS's micro-kernel; the text tower through BLIS for short texts, oneDNN's sgemm for longer
# ones; the fastest measured here, see docs/performance.md), blis, openblas, dnnl or none
# (reference loops).

CC      ?= cc
BLAS    ?= auto
WERROR  ?= -Werror
OPT     ?= -O3
# Built where it runs (install from source), so use the machine's vector units. ARCH= for a
# portable build. ISO C mode (-std=c11) keeps FMA contraction off: results stay reproducible.
ARCH    ?= -march=native
PREFIX  ?= $(HOME)/.local
BUILD   ?= build

PKGS     := jansson libutf8proc libpng libjpeg libwebp libwebpdemux sqlite3 libcrypto x11 xfixes libcurl tesseract lept libmicrohttpd wayland-client librsvg-2.0
# -fno-trapping-math changes no result (we never read floating-point exception flags); it lets
# GCC if-convert and vectorise loops with float comparisons (clamps, masks). No -ffast-math.
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -g -fopenmp -fno-trapping-math $(shell pkg-config --cflags $(PKGS))
LIBS_BASE   := $(shell pkg-config --libs $(PKGS)) -lgif -lm -lpthread -fopenmp

BLIS_INC := -isystem /usr/include/x86_64-linux-gnu/blis-openmp
BLIS_LIB := -L/usr/lib/x86_64-linux-gnu/blis-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/blis-openmp -lblis
# Each choice compiles its own files (src/model/ops_gemm_<vendor>.c, and ops_blis.c where BLIS's
# micro-kernel is linked, else ops_nopack.c): no vendor #if in the C files.
ifeq ($(BLAS),auto)
  BLAS_CFLAGS := $(BLIS_INC)
  BLAS_LIBS   := $(BLIS_LIB) -ldnnl
  BLAS_SRC    := src/model/ops_gemm_auto.c src/model/ops_blis.c
else ifeq ($(BLAS),blis)
  BLAS_CFLAGS := $(BLIS_INC)
  BLAS_LIBS   := $(BLIS_LIB)
  BLAS_SRC    := src/model/ops_gemm_blis.c src/model/ops_blis.c
else ifeq ($(BLAS),openblas)
  BLAS_CFLAGS := $(shell pkg-config --cflags openblas)
  BLAS_LIBS   := $(shell pkg-config --libs openblas)
  BLAS_SRC    := src/model/ops_gemm_openblas.c src/model/ops_nopack.c
else ifeq ($(BLAS),dnnl)
  BLAS_CFLAGS :=
  BLAS_LIBS   := -ldnnl
  BLAS_SRC    := src/model/ops_gemm_dnnl.c src/model/ops_nopack.c
else ifeq ($(BLAS),none)
  BLAS_CFLAGS :=
  BLAS_LIBS   :=
  BLAS_SRC    := src/model/ops_gemm_none.c src/model/ops_nopack.c
else
  $(error BLAS must be auto, blis, openblas, dnnl or none)
endif

# VULKAN=1 (default): the Vulkan compute backend (src/model/backend_vk.c), its GLSL shaders compiled
# to SPIR-V by glslc at build time and embedded; libvulkan-dev's loader. VULKAN=0 leaves it out.
VULKAN  ?= 1
ifeq ($(VULKAN),1)
  VK_CFLAGS := -DCS_VULKAN -I$(BUILD)/shaders
  VK_LIBS   := -lvulkan
else
  VK_CFLAGS :=
  VK_LIBS   :=
endif

CFLAGS  += $(CFLAGS_BASE) $(OPT) $(ARCH) $(BLAS_CFLAGS) $(VK_CFLAGS)
LDLIBS  += $(LIBS_BASE) $(BLAS_LIBS) $(VK_LIBS)

MODEL_SRC := $(filter-out $(if $(filter 1,$(VULKAN)),,src/model/backend_vk.c) src/model/ops_gemm_%.c src/model/ops_blis.c \
               src/model/ops_nopack.c,$(wildcard src/model/*.c)) $(BLAS_SRC)
LIB_SRC := $(wildcard src/common/*.c) $(MODEL_SRC) $(wildcard src/image/*.c) $(wildcard src/config/*.c) $(wildcard src/hub/*.c) $(wildcard src/store/*.c) $(wildcard src/index/*.c) $(wildcard src/ipc/*.c) $(wildcard src/capture/*.c) $(wildcard src/daemon/*.c) $(wildcard src/search/*.c) $(wildcard src/organize/*.c) $(wildcard src/web/*.c) $(filter-out src/front/front.c,$(wildcard src/front/*.c))
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/src/web/assets.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all test unit-test cli-test asan fuzz fuzz-run bench bench-e2e bench-index bench-gpu gpu-bundle install uninstall clean

all: $(BUILD)/clipseek $(BUILD)/clipseek-engine $(BUILD)/clipseek-rofi

$(BUILD)/%.o: %.c $(wildcard src/*/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

# SPIR-V as C initialisers (glslc -mfmt=c), included by backend_vk.c. Variants by -D: the matrix
# product per weight storage, the reductions with and without subgroup operations.
SHADERS := src/model/shaders
SPV := $(addprefix $(BUILD)/shaders/,matmul_f32.inc matmul_f16.inc matmul_f16p.inc layernorm.inc layernorm_sg.inc \
         attention.inc attention_sg.inc rows.inc im2col.inc)
GLSLC := glslc --target-env=vulkan1.1 -O -fshader-stage=compute -mfmt=c
$(BUILD)/shaders/%.inc: $(SHADERS)/%.comp $(SHADERS)/common.glsl
	@mkdir -p $(dir $@)
	@echo "  GLSLC   $<"
	@$(GLSLC) $< -o $@
$(BUILD)/shaders/matmul_f32.inc: $(SHADERS)/matmul.comp $(SHADERS)/common.glsl
	@mkdir -p $(dir $@)
	@$(GLSLC) -DW_F32 $< -o $@
$(BUILD)/shaders/matmul_f16.inc: $(SHADERS)/matmul.comp $(SHADERS)/common.glsl
	@mkdir -p $(dir $@)
	@$(GLSLC) -DW_F16 $< -o $@
$(BUILD)/shaders/matmul_f16p.inc: $(SHADERS)/matmul.comp $(SHADERS)/common.glsl
	@mkdir -p $(dir $@)
	@$(GLSLC) -DW_F16P $< -o $@
$(BUILD)/shaders/%_sg.inc: $(SHADERS)/%.comp $(SHADERS)/common.glsl
	@mkdir -p $(dir $@)
	@$(GLSLC) -DSUBGROUP $< -o $@
$(BUILD)/src/model/backend_vk.o: $(SPV)

# the page's files are assembled in (.incbin), so the binary carries them
$(BUILD)/src/web/assets.o: src/web/assets.S $(wildcard src/web/assets/*)
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(CC) -c $< -o $@

$(BUILD)/libclipseek.a: $(LIB_OBJ)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^ # afresh: a member whose source is gone (or not chosen by BLAS=) must not linger

# Two binaries (docs/architecture.md, "Front and engine"): clipseek-engine runs every command;
# clipseek, the front, links libc alone (no -fopenmp, no LDLIBS: tests/front_test.sh checks its
# ldd), answers help/--version/COMMAND --help and execs the engine for the rest. The engine is a
# prerequisite of the front (order-only), so whatever runs $(BUILD)/clipseek has both, and the rofi
# script beside them: the popup finds it beside itself, in any BUILD= folder (src/cli/cli_popup.c).
FRONT_OBJ := $(BUILD)/src/front/front.o $(BUILD)/src/front/front_help.o
$(BUILD)/clipseek-engine: $(CLI_OBJ) $(BUILD)/libclipseek.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/clipseek: $(FRONT_OBJ) | $(BUILD)/clipseek-engine $(BUILD)/clipseek-rofi
	@echo "  LD      $@"
	@$(CC) $(OPT) $(ARCH) -o $@ $^
$(BUILD)/clipseek-rofi: scripts/clipseek-rofi
	@mkdir -p $(dir $@)
	@install -m 0755 $< $@

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libclipseek.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libclipseek.a $(LDLIBS) -lcriterion -lz -lsqlite3

$(BUILD)/x11_helper: tests/x11_helper.c
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# Unit and conformance tests (Criterion), then CLI tests, X11 and durability tests under Xvfb,
# a full disk (a tmpfs in a private namespace), Wayland capture under headless sway and weston,
# then the fuzz corpus replay.
# The Criterion binaries (and vk-validate) run two at a time, the longest first, through
# scripts/run_parallel.sh: each one's output is printed whole, in this order, once all have run.
TEST_FIRST := test_vulkan test_torch test_image test_store test_model test_dtype test_vecindex
TEST_ORDER := $(foreach t,$(TEST_FIRST),$(filter $(BUILD)/tests/$(t),$(TEST_BIN))) \
              $(filter-out $(TEST_FIRST:%=$(BUILD)/tests/%),$(TEST_BIN))
# OpenMP threads that wait at a barrier sleep instead of spinning: libgomp's default spin took half
# the CPU time of a CLI search on a loaded machine, and two tests run at once. Results are the same.
test: export OMP_WAIT_POLICY = PASSIVE
test: $(BUILD)/clipseek $(TEST_BIN) $(BUILD)/x11_helper $(BUILD)/tests/test_vulkan
	@sh scripts/run_parallel.sh 2 $(BUILD)/test-logs "$(firstword $(TEST_ORDER)) --jobs 1" \
	  "$(MAKE) --no-print-directory vk-validate BUILD=$(BUILD)" $(foreach t,$(wordlist 2,999,$(TEST_ORDER)),"$(t) --jobs 1")
	CLIPSEEK=$(BUILD)/clipseek sh tests/cli_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/front_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/store_cli_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/text_cli_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/history_cli_test.sh
	CLIPSEEK=$(BUILD)/clipseek HELPER=$(BUILD)/x11_helper sh tests/x11_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/popup_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/service_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/wayland_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/fetch_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/inputs_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/search_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/text_product_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/diskfull_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/organize_test.sh
	CLIPSEEK=$(BUILD)/clipseek sh tests/web_test.sh
	$(MAKE) --no-print-directory fuzz-replay BUILD=$(BUILD)

# The Vulkan tests once more under Khronos' validation layers (vulkan-validationlayers), on lavapipe:
# any error or warning they print fails the target.
VK_LAYER_JSON := /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json
.PHONY: vk-validate
vk-validate: $(BUILD)/tests/test_vulkan
	@if [ ! -f $(VK_LAYER_JSON) ]; then echo "vk-validate: skipped, vulkan-validationlayers is not installed"; exit 0; fi; \
	  echo "== $(BUILD)/tests/test_vulkan under VK_LAYER_KHRONOS_validation"; \
	  VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation $(BUILD)/tests/test_vulkan --jobs 1 --filter 'vulkan/[aprt]*' \
	    > $(BUILD)/vk-validation.log 2>&1; rc=$$?; tail -1 $(BUILD)/vk-validation.log; \
	  if grep -E 'Validation (Error|Warning)|VUID-' $(BUILD)/vk-validation.log; then echo "vk-validate: the validation layers reported the above"; exit 1; fi; exit $$rc

# The fuzz targets double as corpus-replay programs (tests/fuzz_main.c), so replay needs no clang.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%-replay)
$(BUILD)/fuzz/%-replay: fuzz/%.c fuzz/replay_main.c $(BUILD)/libclipseek.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< fuzz/replay_main.c $(BUILD)/libclipseek.a $(LDLIBS)
.PHONY: fuzz-replay
fuzz-replay: $(FUZZ_REPLAY)
	@set -e; for f in $(FUZZ_REPLAY); do n=$$(basename $$f -replay); $$f fuzz/seeds/$${n#fuzz_} fuzz/corpus/$${n#fuzz_}; done

# Criterion reports a sanitizer finding in a test's process but still counts the test as passed,
# so the log is scanned: any AddressSanitizer, LeakSanitizer or UBSan report fails the target.
asan:
	@mkdir -p build-asan
	@$(MAKE) --no-print-directory test BUILD=build-asan \
	  OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  > build-asan/asan.log 2>&1; rc=$$?; cat build-asan/asan.log; \
	  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' build-asan/asan.log; then \
	    echo "asan: sanitizer reports above"; exit 1; fi; exit $$rc

# libFuzzer builds (clang). FUZZ_SECONDS per target with `make fuzz-run`.
FUZZ_SECONDS ?= 60
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
# (no BLAS library in these builds: the reference product)
FUZZ_LIB_SRC := $(filter-out $(BLAS_SRC),$(LIB_SRC)) src/model/ops_gemm_none.c src/model/ops_nopack.c
build-fuzz/%: fuzz/%.c $(FUZZ_LIB_SRC) src/web/assets.S $(if $(filter 1,$(VULKAN)),$(SPV))
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(shell pkg-config --cflags $(PKGS)) $(VK_CFLAGS) \
	  -o $@ $< $(FUZZ_LIB_SRC) src/web/assets.S $(shell pkg-config --libs $(PKGS)) -lgif -lm -lpthread $(VK_LIBS)
fuzz: $(FUZZ_BIN)
fuzz-run: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p fuzz/corpus/$${n#fuzz_}; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 fuzz/corpus/$${n#fuzz_} fuzz/seeds/$${n#fuzz_}; done

bench: $(BUILD)/bench_clip $(BUILD)/bench_search $(BUILD)/bench_text
	sh bench/run.sh $(BUILD)/bench_clip
	$(BUILD)/bench_search --threads $${BENCH_THREADS:-$$(nproc)}
	$(BUILD)/bench_text --threads $${BENCH_THREADS:-$$(nproc)} --keep $${BENCH_TEXT_DIR:-/tmp/clipseek-bench-text}
$(BUILD)/bench_text: bench/bench_text.c $(BUILD)/libclipseek.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libclipseek.a $(LDLIBS)
$(BUILD)/bench_search: bench/bench_search.c $(BUILD)/libclipseek.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libclipseek.a $(LDLIBS)
$(BUILD)/bench_fill: bench/bench_fill.c $(BUILD)/libclipseek.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libclipseek.a $(LDLIBS)
# end to end: `clipseek search` against a running daemon, ViT-B/32-shaped model, synthetic store;
# E2E_ARGS="--compare OLD/clipseek --dtype q8": paired against another build, the daemon in q8
bench-e2e: $(BUILD)/clipseek $(BUILD)/bench_fill $(BUILD)/bench_clip
	python3 bench/e2e.py --bin $(BUILD)/clipseek --fill $(BUILD)/bench_fill --bench-clip $(BUILD)/bench_clip $(E2E_ARGS)
# indexing through the daemon: `add --wait` of BENCH_INDEX_IMAGES synthetic images (default 10000) at
# 1k and 10k existing entries, organiser included, and the daemon's RSS per mapping; then the
# organiser alone over 1k and 10k entries with precomputed vectors (bench/index_bench.py)
bench-index: $(BUILD)/clipseek $(BUILD)/bench_fill $(BUILD)/bench_clip
	python3 bench/index_bench.py --bin $(BUILD)/clipseek --fill $(BUILD)/bench_fill --bench-clip $(BUILD)/bench_clip \
	  --images $${BENCH_INDEX_IMAGES:-10000} --dtypes $${BENCH_DTYPES:-f32}
	python3 bench/index_bench.py --bin $(BUILD)/clipseek --fill $(BUILD)/bench_fill --bench-clip $(BUILD)/bench_clip \
	  --organise 1000,10000
# GPU next to CPU on a ViT-B/32-shaped model (written once by bench_clip), DEVICE=vulkan:N to name
# the GPU; then transformers fp16 on the CUDA GPU where it is installed, and our / its ratios.
BENCH_MODEL_DIR ?= /tmp/clipseek-bench-model
DEVICE ?= vulkan
bench-gpu: $(BUILD)/bench_gpu $(BUILD)/bench_clip
	@$(BUILD)/bench_clip --keep $(BENCH_MODEL_DIR) --write-only
	@$(BUILD)/bench_gpu --model $(BENCH_MODEL_DIR) --device $(DEVICE) $(BENCH_GPU_ARGS) | tee $(BUILD)/bench-gpu.txt
	@python3 bench/hf_gpu.py > $(BUILD)/bench-hf.txt 2>/dev/null; cat $(BUILD)/bench-hf.txt; \
	  for m in image_b1_ms image_b32_images_per_s text_8tok_ms text_77tok_ms; do \
	    a=$$(awk -v m=gpu_$$m '$$1 == m {print $$2}' $(BUILD)/bench-gpu.txt); b=$$(awk -v m=hf_$$m '$$1 == m {print $$2}' $(BUILD)/bench-hf.txt); \
	    [ -n "$$b" ] && awk -v m=$$m -v a=$$a -v b=$$b 'BEGIN {printf "ratio_vs_hf_%s %.2f\n", m, a / b}'; done; true
$(BUILD)/bench_gpu: bench/bench_gpu.c $(BUILD)/libclipseek.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libclipseek.a $(LDLIBS)
$(BUILD)/bench_lp: bench/bench_lp.c $(BUILD)/libclipseek.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libclipseek.a $(LDLIBS)
$(BUILD)/bench_clip: bench/bench_clip.c $(BUILD)/libclipseek.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libclipseek.a $(LDLIBS)

# Installs as a normal user (no sudo): the front binary and the rofi script in $(BINDIR), the engine
# in $(BINDIR)/../libexec/clipseek, the systemd
# user unit (docs/cli.md, "Start at login") and a .desktop entry for the popup (menus; KDE binds a
# shortcut to it). `make uninstall` removes exactly these files, and the unit's enable link.
# DESTDIR stages the lot under another root (packaging, tests/install_test.sh).
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/systemd/user
APPDIR  ?= $(PREFIX)/share/applications
# the engine where the front looks for it: ../libexec/clipseek beside bin/ (src/front/front.c)
ENGINEDIR := $(abspath $(BINDIR)/../libexec/clipseek)
INSTALLED := $(BINDIR)/clipseek $(ENGINEDIR)/clipseek-engine $(BINDIR)/clipseek-rofi $(UNITDIR)/clipseek.service $(APPDIR)/clipseek-popup.desktop
install: $(BUILD)/clipseek $(BUILD)/clipseek-engine
	install -D -m 0755 $(BUILD)/clipseek $(DESTDIR)$(BINDIR)/clipseek
	install -D -m 0755 $(BUILD)/clipseek-engine $(DESTDIR)$(ENGINEDIR)/clipseek-engine
	install -D -m 0755 scripts/clipseek-rofi $(DESTDIR)$(BINDIR)/clipseek-rofi
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(APPDIR)
	sed 's|@BINDIR@|$(BINDIR)|' contrib/clipseek.service > $(DESTDIR)$(UNITDIR)/clipseek.service
	sed 's|@BINDIR@|$(BINDIR)|' contrib/clipseek-popup.desktop > $(DESTDIR)$(APPDIR)/clipseek-popup.desktop
	@[ -n "$(DESTDIR)" ] || ! command -v systemctl > /dev/null || systemctl --user daemon-reload 2> /dev/null || true
	@echo "installed. GNOME/KDE: systemctl --user enable --now clipseek; i3/sway/startx: see README, Start at login"

uninstall:
	@[ -n "$(DESTDIR)" ] || ! command -v systemctl > /dev/null || systemctl --user disable --now clipseek 2> /dev/null || true
	rm -f $(addprefix $(DESTDIR),$(INSTALLED)) $(DESTDIR)$(UNITDIR)/graphical-session.target.wants/clipseek.service
	@rmdir $(DESTDIR)$(ENGINEDIR) 2> /dev/null || true
	@[ -n "$(DESTDIR)" ] || ! command -v systemctl > /dev/null || systemctl --user daemon-reload 2> /dev/null || true
	@echo "uninstalled (the history in $${XDG_DATA_HOME:-~/.local/share}/clipseek and the config are kept)"

clean:
	rm -rf build build-asan build-fuzz
