# scorerecon — plain Makefile. `make` builds build/scorerecon; `make test` installs missing Debian packages,
# builds and runs every test; `make asan` runs the tests under AddressSanitizer + UBSan.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O3
SAN     ?=
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread \
           -ffp-contract=off -fno-math-errno -Iinclude -Isolver -Iserver $(SAN)
LDLIBS  := -lfftw3f_threads -lfftw3f -lcjson -lm -pthread $(SAN)

SOLVER_SRC := $(wildcard solver/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
TEST_SRC   := $(wildcard tests/*.c)
BENCH_SRC  := $(wildcard bench/*.c)

SOLVER_OBJ := $(SOLVER_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ   := $(TEST_SRC:%.c=$(BUILD)/%.o)

.PHONY: all deps test asan valgrind run bench examples clean
all: $(BUILD)/scorerecon

deps:
	@sh scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libsr.a: $(SOLVER_OBJ)
	ar rcs $@ $^

$(BUILD)/scorerecon: $(BUILD)/server/main.o $(SERVER_OBJ) $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_all: $(TEST_OBJ) $(SERVER_OBJ) $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench_%: $(BUILD)/bench/%.o $(BUILD)/libsr.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon $(BUILD)/test_all
	@BUILD=$(BUILD) sh tests/run_all.sh

asan:
	@sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory test BUILD=build-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

# The unit tests (fast subset: operators, RNG, parser) and one threaded CLI run under valgrind's memcheck.
valgrind: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon $(BUILD)/test_all OPT=-O1
	valgrind -q --error-exitcode=9 --leak-check=full $(BUILD)/test_all op_
	valgrind -q --error-exitcode=9 --leak-check=full $(BUILD)/test_all parse
	valgrind -q --error-exitcode=9 --leak-check=full $(BUILD)/scorerecon run examples/denoise.json -o /dev/null --quiet --threads 2

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon
	$(BUILD)/scorerecon run examples/denoise.json -o $(BUILD)/denoise-result.json
	@echo "result written to $(BUILD)/denoise-result.json"

bench: deps $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%)
	@for b in $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%); do $$b || exit 1; done

# Regenerates examples/*.json and docs/img/*.png (Debian's python3 with numpy and matplotlib).
examples: $(BUILD)/scorerecon
	/usr/bin/python3 examples/make_examples.py
	/usr/bin/python3 examples/plot.py

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
