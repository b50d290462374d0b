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

.PHONY: all deps test asan run bench clean examples
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

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/scorerecon
	$(BUILD)/scorerecon run examples/denoise.json -o $(BUILD)/denoise-result.json
	@echo "result written to $(BUILD)/denoise-result.json"

bench: deps $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%)
	@for b in $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%); do $$b || exit 1; done

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
