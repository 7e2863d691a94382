# backprop - build, test and install.
#
#   make              library (static and shared) and the `backprop` program, in build/
#   make demo         build, then train the built-in example and report
#   make test         every test; the last line reads "N passed, M failed"
#   make sanitize     the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan         the threaded tests under ThreadSanitizer
#   make bench        speed against PyTorch, NumPy, FANN and OpenBLAS (bench-quick: < 1 min)
#   make lint         cppcheck + clang-tidy;  make valgrind: demo and CLI tests under memcheck
#   make fuzz         every file reader under libFuzzer + ASan/UBSan (FUZZ_SECONDS each)
#   make install PREFIX=/usr/local    library, header, pkg-config file and program
#   make CC=clang     any C11 compiler works; warnings are errors either way
#   make MPI=1        build-mpi/backprop for mpirun -np N (Open MPI); tests/mpi-test.sh
#   make BLAS=openblas  build-openblas/: OpenBLAS's sgemm instead of backprop's own GEMM
#   make SIMDE=1      build-simde/: the AVX-512 GEMM kernel under emulation (tests/avx512-test.sh)
#   make CUDA=1       build-cuda/: with the GPU trainer (nvcc, cuBLAS); train --device cuda
#   make web          build/web/playground.html: the library in WebAssembly, one offline page (emcc)
#   make bench-gpu    GPU step times against PyTorch's (needs a GPU); cuda-sanitize: compute-sanitizer
#   make python       the Python package: the library into python/backprop/ (docs/PYTHON.md)
#
# The plain build needs only libc, libm, POSIX threads and zlib (zlib1g-dev on Debian and
# Ubuntu, zlib-devel on Fedora), which reads the .gz data files and gives the model files
# their CRC-32.

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
# make MPI=1: the program built with mpicc for data-parallel `mpirun -np N backprop train`
# (in build-mpi/, so it never mixes with the plain build).
ifeq ($(MPI),1)
CC      := mpicc
BUILD   := build-mpi
CFLAGS  += -DBP_MPI
endif
# make BLAS=openblas: the same library and program with OpenBLAS's sgemm under bp_gemm
# (in build-openblas/), to compare against backprop's own GEMM (make bench does).
ifeq ($(BLAS),openblas)
BUILD   := $(BUILD)-openblas
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
CFLAGS  += -DBP_OPENBLAS $(BLAS_CFLAGS)
endif
# make SIMDE=1: build-simde/, where the AVX-512 GEMM kernel (src/kernels/gemm_avx512.c) is compiled
# against SIMDe's emulation of the intrinsics (Debian libsimde-dev) and always used, so
# tests/avx512-test.sh can check it on a CPU without AVX-512. The emulation runs on AVX2
# and FMA, whose fused multiply-add rounds as AVX-512's does.
ifeq ($(SIMDE),1)
BUILD   := build-simde
CFLAGS  += -DBP_GEMM_SIMDE
$(BUILD)/src/kernels/gemm_avx512.o: CFLAGS += -mavx2 -mfma -Wno-psabi
endif
# make CUDA=1: the GPU trainer (src/cuda/, nvcc and cuBLAS) in build-cuda/; without it,
# src/cuda/cuda_none.c stands in and the build needs no CUDA at all.
CUDA_HOME ?= /usr/local/cuda
NVCC    ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
ifeq ($(CUDA),1)
BUILD   := $(BUILD)-cuda
CFLAGS  += -DBP_CUDA
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart -lstdc++
endif
# zlib, through pkg-config where it knows zlib, else from the compiler's default paths.
# Every build needs its header (bytes.h includes it), so a missing one stops make at once
# with what to install, instead of a compiler error deep in the build; make clean and
# make uninstall go on without it.
ZLIB_CFLAGS := $(shell pkg-config --cflags zlib 2>/dev/null)
ZLIB_LIBS := $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
# A literal #: inside $(shell ...) some versions of make would take it for a comment.
HASH := \#
ifneq ($(filter-out clean uninstall,$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell echo '$(HASH)include <zlib.h>' | $(CC) $(ZLIB_CFLAGS) -E -x c - >/dev/null 2>&1 && echo found),found)
$(error zlib not found: install zlib1g-dev (Debian/Ubuntu) or zlib-devel (Fedora))
endif
endif
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror
CFLAGS  ?=
BASEFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(OPT) $(WARN) -Iinclude -Isrc $(ZLIB_CFLAGS) -fPIC -pthread
LDLIBS  := $(BLAS_LIBS) $(CUDA_LIBS) $(ZLIB_LIBS) -lm -pthread
# optimizer.c's loops vectorize only if sqrtf need not set errno (it never would:
# Adam takes the root of a sum of squares); see the comment there. Its AVX-512 copies
# must round as the portable ones do: clang would contract a * b + c into an FMA there
# (GCC does not in ISO C mode).
$(BUILD)/src/core/optimizer.o: BASEFLAGS += -fno-math-errno -ffp-contract=off
# softmax's exponentials (bp_fast_expf_block) vectorize only if GCC may turn their
# float comparisons into selects; backprop never reads the FP exception flags that
# -ftrapping-math keeps exact, and the values are the same bits either way.
# Its softmax is also compiled for AVX-512F, which must round as the portable copy does
# (clang would contract into FMAs there).
$(BUILD)/src/core/activation.o: BASEFLAGS += -fno-trapping-math -ffp-contract=off
# loss.c's AVX-512 cross-entropy too.
$(BUILD)/src/core/loss.o: BASEFLAGS += -ffp-contract=off

# The library exports only what include/backprop.h and backprop_verify.h mark BP_API.
$(BUILD)/src/%.o: BASEFLAGS += -fvisibility=hidden

VERSION := 0.3.1
# While the version is 0.x, a minor version may change the ABI (docs/API.md), so the shared
# library's soname carries major.minor: a program linked against 0.3 will not load 0.4.
SOVERSION := $(word 1,$(subst ., ,$(VERSION))).$(word 2,$(subst ., ,$(VERSION)))
SONAME := libbackprop.so.$(SOVERSION)
# The program prints the version this Makefile sets (backprop --version).
$(BUILD)/cli/main.o: BASEFLAGS += -DBP_VERSION='"$(VERSION)"'

LIB_SRC := $(wildcard src/*/*.c)
CUDA_SRC := $(wildcard src/cuda/*.cu)
ifeq ($(CUDA),1)
LIB_SRC := $(filter-out src/cuda/cuda_none.c,$(LIB_SRC))
endif
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
ifeq ($(CUDA),1)
LIB_OBJ += $(CUDA_SRC:%.cu=$(BUILD)/%.o)
endif
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/digits.o
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

STATIC := $(BUILD)/libbackprop.a
SHARED := $(BUILD)/libbackprop.so
PROGRAM := $(BUILD)/backprop
UNIT := $(BUILD)/unit-tests

.PHONY: all demo test unit sanitize tsan bench-gpu cuda-sanitize install uninstall clean bench bench-quick bench-mpi bench-optim bench-small lint valgrind fuzz python web

all: $(STATIC) $(SHARED) $(PROGRAM)

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*/*.h cli/*.h tests/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

NVFLAGS := -std=c++17 -O2 -Xcompiler -Wall,-Wextra,-Werror,-fPIC,-fvisibility=hidden -Werror all-warnings $(CUDA_ARCH) -Iinclude -Isrc
$(BUILD)/%.o: %.cu $(wildcard include/*.h src/cuda/*.h src/cuda/*.cuh) Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c $< -o $@

# The embedded data set of `backprop demo`, compiled into the program.
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) $< -o $@

$(BUILD)/gen/digits.c: data/digits.csv.gz $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed $< bp_digits_csv_gz > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/digits.o: $(BUILD)/gen/digits.c
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(PROGRAM): $(CLI_OBJ) $(STATIC)
	$(CC) -o $@ $(CLI_OBJ) $(STATIC) $(LDFLAGS) $(LDLIBS)

# The test list is generated from the test functions themselves (see tests/main.c).
$(BUILD)/tests/test_list.h: $(filter-out tests/main.c,$(TEST_SRC))
	@mkdir -p $(dir $@)
	sed -n 's/^void \(test_[A-Za-z0-9_]*\)(void).*$$/TEST(\1)/p' $^ > $@

$(BUILD)/tests/main.o: $(BUILD)/tests/test_list.h
# test_plot.c and test_history.c include cli/*.c files directly.
$(BUILD)/tests/test_plot.o $(BUILD)/tests/test_history.o: $(wildcard cli/*.c)
$(BUILD)/tests/main.o: BASEFLAGS += -I$(BUILD)/tests

$(UNIT): $(TEST_OBJ) $(STATIC)
	$(CC) -o $@ $(TEST_OBJ) $(STATIC) $(LDFLAGS) $(LDLIBS) -pthread

demo: $(PROGRAM)
	./$(PROGRAM) demo

unit: $(UNIT)
	./$(UNIT)

# Unit tests, end-to-end CLI tests, the PyTorch comparison (skipped without PyTorch) and
# the Python package's tests (skipped without python3, NumPy and pytest).
test: $(UNIT) $(PROGRAM) $(SHARED)
	@sh tests/run-all.sh $(BUILD)

# The Python package (python/, docs/PYTHON.md): the shared library copied into it, so that
# PYTHONPATH=python finds both, and `pip install --no-build-isolation ./python` packs it.
python: $(SHARED)
	cp $(SHARED) python/backprop/libbackprop.so
	@echo "python/backprop is ready: PYTHONPATH=$(CURDIR)/python python3 -c 'import backprop'"

# The playground (docs/PLAYGROUND.md): the library compiled by Emscripten into one offline page.
web:
	sh web/build.sh $(BUILD)/web

# Speed against PyTorch, NumPy, FANN and OpenBLAS, measured in one run (bench/README.md):
# about 5 minutes in full (every figure 5 times, medians), under a minute in quick mode.
bench: all
	sh bench/run.sh --full

bench-quick: all
	sh bench/run.sh --quick

# Time per epoch of every optimizer on digits and Fashion-MNIST (bench/optim.sh);
# BENCH_BASE=DIR times the library built in DIR too, for before/after ratios.
bench-optim: all
	sh bench/optim.sh $(if $(BENCH_BASE),--base $(BENCH_BASE))

# RPROP against FANN on nine small tabular sets, L-BFGS against scikit-learn's on three
# (bench/small_sets.py; needs python3-sklearn, and libfann-dev for FANN's column).
bench-small: all
	/usr/bin/python3 bench/small_sets.py

# Data-parallel scaling over MPI for N = 1, 2, 4, 8 ranks (needs Open MPI).
bench-mpi:
	sh bench/mpi.sh

# The GPU: backprop's step against PyTorch's eager and graph-captured steps (bench/gpu.sh),
# and the GPU tests under compute-sanitizer (memcheck on all of them, then racecheck on
# backprop's own kernels, the only shared-memory users that are ours, in the test that runs
# every variant of both step paths: the whole GPU suite under racecheck takes over 4 minutes).
# Need a CUDA device.
bench-gpu:
	sh bench/gpu.sh

cuda-sanitize:
	$(MAKE) CUDA=1 build-cuda/unit-tests
	$(CUDA_HOME)/bin/compute-sanitizer --tool memcheck --error-exitcode 1 ./build-cuda/unit-tests cuda
	$(CUDA_HOME)/bin/compute-sanitizer --tool racecheck --kernel-name kns=_GLOBAL__N_ --error-exitcode 1 ./build-cuda/unit-tests fused_shapes

# Fuzz every file reader with libFuzzer + ASan + UBSan (needs clang, libclang-rt);
# FUZZ_SECONDS per harness; findings land in tests/fuzz/regressions/.
FUZZ_SECONDS ?= 30
fuzz:
	sh tests/fuzz/run.sh --seconds $(FUZZ_SECONDS)

# test_fuzz_regressions.c includes the harnesses.
$(BUILD)/tests/test_fuzz_regressions.o: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

# Static analysis: cppcheck and clang-tidy (.clang-tidy) over src/ and cli/ (about 2 minutes).
lint:
	sh tools/lint.sh

# The program under valgrind memcheck: demo and the CLI suite (about 8 minutes).
valgrind: $(PROGRAM)
	sh tools/valgrind.sh $(BUILD)

# The unit tests built and run under ASan + UBSan (clang or gcc).
sanitize:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" build-asan/unit-tests build-asan/backprop
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/unit-tests

# The threaded code (pool, GEMM slices, data-parallel trainers) under ThreadSanitizer.
TSAN_TESTS := pool team threads parallel
tsan:
	$(MAKE) BUILD=build-tsan OPT="-O1 -g -fsanitize=thread" LDFLAGS="-fsanitize=thread" build-tsan/unit-tests
	for t in $(TSAN_TESTS); do TSAN_OPTIONS=halt_on_error=1 ./build-tsan/unit-tests $$t || exit 1; done

# backprop.pc names zlib as a package when pkg-config knows it, else links -lz itself.
ZLIB_PC = $(shell pkg-config --exists zlib 2>/dev/null && echo zlib)
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/libbackprop.so.$(VERSION)
	ln -sf libbackprop.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libbackprop.so
	install -m 644 include/backprop.h include/backprop_verify.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(PROGRAM) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@BLAS_LIBS@|$(BLAS_LIBS)|' \
	    -e 's|@ZLIB_REQUIRES@|$(ZLIB_PC)|' -e 's|@ZLIB_LIBS@|$(if $(ZLIB_PC),,$(ZLIB_LIBS))|' backprop.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/backprop.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libbackprop.a $(DESTDIR)$(PREFIX)/lib/libbackprop.so \
	    $(DESTDIR)$(PREFIX)/lib/$(SONAME) $(DESTDIR)$(PREFIX)/lib/libbackprop.so.$(VERSION) \
	    $(DESTDIR)$(PREFIX)/include/backprop.h $(DESTDIR)$(PREFIX)/include/backprop_verify.h \
	    $(DESTDIR)$(PREFIX)/bin/backprop \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/backprop.pc

clean:
	rm -rf build build-asan build-clang build-mpi build-simde build-simde-asan build-noavx512
	rm -rf python/backprop/libbackprop.so python/build python/backprop.egg-info
