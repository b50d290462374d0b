# scorerecon — plain Makefile. `make` builds build/scorerecon; `make test` installs missing Debian packages,
# builds and runs every test; `make asan` runs the tests under AddressSanitizer + UBSan.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O3
SAN     ?=
CFLAGS  ?= $(OPT) -g
PREFIX  ?= /usr/local
CFLAGS  += -DSR_MODELS_INSTALL_DIR='"$(PREFIX)/share/scorerecon/models"'
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread \
           -ffp-contract=off -fno-math-errno $(SAN)
# Libraries by layer: the solver's, the file formats', the service's. Tests and benchmarks never link the last.
# (No BLAS: the network's products are its own, solver/nn_gemm.c.)
LIBS_SOLVER  := -lfftw3f_threads -lfftw3f -lm -pthread $(SAN)
LIBS_FORMAT  := -lcjson -lpng
# libpq: the PostgreSQL store (serve --store postgresql://...); its header lives in /usr/include/postgresql
LIBS_SERVICE := -lmicrohttpd -lsqlite3 -lpq
LDLIBS  := $(LIBS_FORMAT) $(LIBS_SERVICE) $(LIBS_SOLVER)

# The layers, lowest first (README "Layout"):
#   solver/  numerics: arrays, operators, priors, samplers, networks           sees include/ solver/
#   format/  file formats: safetensors, .npy, PNG, the JSON ARRAY codec       sees include/ format/
#   job      server/job_parse.c, models.c, result_write.c, options.c: the job  sees include/ format/ server/
#            document, its limits and the table of options
#   service  server/http.c, jobs.c, store*.c, serve.c, main.c                 sees include/ format/ server/
# Each directory is compiled with only the include paths of its layer and those below, so a header of a higher
# layer does not compile there; `make check-layers` (part of make test) also reads every #include.
INC_solver := -Iinclude -Isolver
INC_format := -Iinclude -Iformat
INC_server := -Iinclude -Iformat -Iserver -I/usr/include/postgresql
INC_tests  := -Iinclude -Isolver -Iformat -Iserver
INC_bench  := -Iinclude -Iformat
INC_tools  := -Iinclude

SOLVER_SRC  := $(wildcard solver/*.c)
FORMAT_SRC  := $(wildcard format/*.c)
JOB_SRC     := server/job_parse.c server/models.c server/result_write.c server/options.c server/sha256.c
SERVICE_SRC := server/http.c server/jobs.c server/serve.c server/store.c server/store_sqlite.c server/store_pg.c server/events.c server/job_view.c server/webhooks.c
TEST_SRC    := $(wildcard tests/*.c)
# bench/problems.c is no program: the set-up bench_quality and bench_samplers share (linked into both below).
BENCH_LIB  := bench/problems.c
BENCH_SRC  := $(filter-out $(BENCH_LIB),$(wildcard bench/*.c))

SOLVER_OBJ  := $(SOLVER_SRC:%.c=$(BUILD)/%.o)
FORMAT_OBJ  := $(FORMAT_SRC:%.c=$(BUILD)/%.o)
JOB_OBJ     := $(JOB_SRC:%.c=$(BUILD)/%.o)
SERVICE_OBJ := $(SERVICE_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ    := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_LIB_OBJ := $(BENCH_LIB:%.c=$(BUILD)/%.o)

.PHONY: web-screenshot lint-openapi check-layers install all deps test asan valgrind run bench bench-quality bench-samplers bench-speed bench-queue examples clean fuzz fuzz-smoke
all: $(BUILD)/scorerecon

deps:
	@sh scripts/install-deps.sh

# The binary to $(PREFIX)/bin and the shipped score models to $(PREFIX)/share/scorerecon/models, where run, models and
# serve look when neither --models nor SCORERECON_MODELS names a directory and ./models does not exist.
install: $(BUILD)/scorerecon
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/scorerecon/models
	install -m 755 $(BUILD)/scorerecon $(DESTDIR)$(PREFIX)/bin/scorerecon
	install -m 644 models/*.safetensors models/README.md $(DESTDIR)$(PREFIX)/share/scorerecon/models/

$(BUILD)/solver/%.o: INC := $(INC_solver)
$(BUILD)/format/%.o: INC := $(INC_format)
$(BUILD)/server/%.o: INC := $(INC_server)
$(BUILD)/tests/%.o: INC := $(INC_tests)
$(BUILD)/bench/%.o: INC := $(INC_bench)
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -MMD -MP -c $< -o $@

$(BUILD)/libsr.a: $(SOLVER_OBJ)
	ar rcs $@ $^

$(BUILD)/libsrformat.a: $(FORMAT_OBJ)
	ar rcs $@ $^

# openapi.yaml goes into the binary (GET /openapi.yaml), through tools/embed.c.
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -o $@ $<

$(BUILD)/gen/openapi_yaml.c: openapi.yaml $(BUILD)/embed
	@mkdir -p $(dir $@)
	$(BUILD)/embed sr_openapi_yaml < openapi.yaml > $@

# The web page (GET /: web/) and the example jobs its form submits go in the same way, as one table of URL path,
# file and bytes (build/gen/web_files.c).
WEB_FILES := /=web/index.html /ui/app.js=web/app.js /ui/app.css=web/app.css \
             $(foreach e,denoise deblur inpaint mri,/ui/examples/$(e).json=examples/$(e).json)

$(BUILD)/gen/web_files.c: $(foreach f,$(WEB_FILES),$(lastword $(subst =, ,$(f)))) $(BUILD)/embed Makefile
	@mkdir -p $(dir $@)
	$(BUILD)/embed sr_web_files $(WEB_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/scorerecon: $(BUILD)/server/main.o $(SERVICE_OBJ) $(JOB_OBJ) $(BUILD)/gen/openapi_yaml.o \
    $(BUILD)/gen/web_files.o $(BUILD)/libsrformat.a $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The unit tests: the solver, the formats and the job document; never the HTTP service or SQLite (the service is
# tested through the binary, tests/test_service.py).
$(BUILD)/test_all: $(TEST_OBJ) $(JOB_OBJ) $(BUILD)/libsrformat.a $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_FORMAT) $(LIBS_SOLVER)

# Benchmarks: the solver and the formats only.
$(BUILD)/bench_%: $(BUILD)/bench/%.o $(BUILD)/libsrformat.a $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_FORMAT) $(LIBS_SOLVER)

# bench_speed measures OpenBLAS's sgemm as the machine's matrix-product rate (only it links a BLAS), and the
# solver's own products (solver/nn_gemm.h: the one bench file that sees solver/) against it: the pthread
# build, named explicitly (Debian's serial build is SINGLE_THREADED without USE_LOCKING, so calls from several
# threads race); it sets one thread per call.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BLASDIR := /usr/lib/$(MULTIARCH)/openblas-pthread
$(BUILD)/bench/speed.o: CFLAGS += -I/usr/include/$(MULTIARCH)/openblas-pthread -Isolver
$(BUILD)/bench_speed: $(BUILD)/bench/speed.o $(BUILD)/libsrformat.a $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_FORMAT) $(LIBS_SOLVER) -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas

# The benches on the shared problem set-up (bench/problems.c) link its object too.
$(BUILD)/bench_quality $(BUILD)/bench_samplers: $(BUILD)/bench_%: $(BUILD)/bench/%.o $(BENCH_LIB_OBJ) \
    $(BUILD)/libsrformat.a $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_FORMAT) $(LIBS_SOLVER)

# pngcheck FILE: prints "WIDTH HEIGHT MIN MAX" of an 8-bit gray PNG (used by the service's end-to-end test).
$(BUILD)/pngcheck: tools/pngcheck.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lpng $(SAN)

# (the benchmark programs are built too, so that a change that breaks one is seen; they are not run)
test: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon $(BUILD)/test_all $(BUILD)/pngcheck \
	    $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%)
	@BUILD=$(BUILD) sh tests/run_all.sh

asan:
	@sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory test BUILD=build-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

# The README's picture of the web page, docs/img/web.png: tests/test_web.py takes it in headless Chromium.
web-screenshot: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon
	/usr/bin/python3 tests/test_web.py $(BUILD)/scorerecon --screenshot docs/img/web.png

# Every #include of solver/ and format/ stays in its layer (also part of make test).
check-layers:
	@sh tests/check_layers.sh

# openapi.yaml under Redocly CLI's minimal ruleset (also part of make test; skipped where redocly is not installed).
lint-openapi:
	@sh tests/lint_openapi.sh

# The unit tests (fast subset: operators, RNG, parser) and two threaded CLI runs (mala; smc, whose threads meet at
# barriers) under valgrind's memcheck.
valgrind: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon $(BUILD)/test_all OPT=-O1
	valgrind -q --error-exitcode=9 --leak-check=full $(BUILD)/test_all op_
	valgrind -q --error-exitcode=9 --leak-check=full $(BUILD)/test_all parse
	valgrind -q --error-exitcode=9 --leak-check=full $(BUILD)/scorerecon run examples/denoise.json -o /dev/null --quiet --threads 2
	valgrind -q --error-exitcode=9 --leak-check=full $(BUILD)/scorerecon run tests/data/smc-gmm-blur.json -o /dev/null --quiet --threads 2

# The service on its embedded default: 127.0.0.1:8080, data in ./var (flags and SCORERECON_* variables override).
run: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon
	$(BUILD)/scorerecon serve --listen 127.0.0.1:8080 --data-dir var --models models

# The fast benchmarks (seconds each); bench-quality and bench-speed need the trained model (and python3-torch for
# the PyTorch side of bench-speed) and take minutes; bench-samplers (quality against network evaluations for
# pc, annealed, ddrm, diffpir and smc, the full default set: 100 images x 5 budgets x 3 problems) takes hours.
BENCH_FAST := step annealed ising
bench: deps $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%)
	@for b in $(BENCH_FAST:%=$(BUILD)/bench_%); do $$b || exit 1; done

bench-quality: deps $(BUILD)/bench_quality
	$(BUILD)/bench_quality --figures docs/img --json bench/quality-results.json

bench-samplers: deps $(BUILD)/bench_samplers
	$(BUILD)/bench_samplers --json bench/samplers-results.json --svg-dir docs/img

bench-speed: deps $(BUILD)/bench_speed $(BUILD)/scorerecon
	BUILD=$(BUILD) sh bench/speed

# The job queue: jobs/s and claim latency, PostgreSQL (1, 2, 4 worker processes) against SQLite (a few minutes;
# needs Debian's postgresql, as make test does).
bench-queue: deps $(BUILD)/scorerecon
	/usr/bin/python3 bench/queue $(BUILD)/scorerecon

# Regenerates examples/*.json and docs/img/*.png (Debian's python3 with numpy and matplotlib).
examples: $(BUILD)/scorerecon
	/usr/bin/python3 examples/make_examples.py
	/usr/bin/python3 examples/plot.py

# libFuzzer on the job parser (tests/fuzz/fuzz_job_parse.c) with ASan + UBSan, over the whole solver and server
# (main.c aside). Seeds: examples/*.json and tests/fuzz/corpus/ (committed); new inputs go to build-fuzz/corpus,
# crashes to build-fuzz/crash-* etc.
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -ffp-contract=off -fno-math-errno -pthread \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(INC_tests)
FUZZ_SRC     := tests/fuzz/fuzz_job_parse.c $(SOLVER_SRC) $(FORMAT_SRC) $(JOB_SRC)
FUZZ_FLAGS   := -max_len=65536 -timeout=10 -rss_limit_mb=2048 -dict=tests/fuzz/job.dict \
                -artifact_prefix=$(FUZZ_BUILD)/

$(FUZZ_BUILD)/fuzz_job_parse: $(FUZZ_SRC) $(wildcard include/*.h solver/*.h format/*.h server/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRC) $(LIBS_FORMAT) $(filter-out $(SAN),$(LIBS_SOLVER))

fuzz: deps $(FUZZ_BUILD)/fuzz_job_parse
	@mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/seed
	cp examples/*.json $(FUZZ_BUILD)/seed/
	$(FUZZ_BUILD)/fuzz_job_parse $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/seed tests/fuzz/corpus

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Builds docker/Dockerfile with rootful podman and runs the image for real (scripts/docker-test.sh): a job served,
# `podman stop` under 5 s, the data surviving a new container, docker/compose.yaml. Installs what it needs.
.PHONY: docker-test
docker-test:
	@sh scripts/docker-test.sh
