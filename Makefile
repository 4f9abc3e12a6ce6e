# SPDX-License-Identifier: Apache-2.0
# suture build. Each layer under src/ becomes one static library; a layer links only
# against the layers before it in LAYERS (the order of DESIGN.md), which keeps the
# dependency rule visible here as well as in the headers.
.DEFAULT_GOAL := all
LAYERS := util elf proc ptrace patch link unwind apply audit assess build distro cli
B      := build
CC     ?= gcc
WERROR := $(if $(CI),-Werror,)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter $(WERROR) -Isrc -D_GNU_SOURCE
LIBS   := -lelf -ldw -lcrypto -ljansson -lm -lpthread

layer_srcs = $(wildcard src/$(1)/*.c)
layer_objs = $(patsubst src/%.c,$(B)/obj/%.o,$(call layer_srcs,$(1)))
# libraries of a layer and every layer before it, innermost last (for the linker)
define layer_lib_rule
$(B)/lib$(1).a: $(call layer_objs,$(1))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_lib_rule,$(l))))
ALL_LIBS := $(foreach l,$(shell echo $(LAYERS) | tr ' ' '\n' | tac),$(B)/lib$(l).a)

.PHONY: all deps demo check check-long check-layers print-layers bench clean
all: deps $(B)/suture

deps:
	@scripts/deps.sh

$(B)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

$(B)/suture: $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LIBS)

# Unit tests: tests/unit/test_X.c links all layer libraries (the linker keeps only what is used).
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
$(B)/tests/%: tests/unit/%.c tests/unit/fixtures.h $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LIBS) -lcmocka

# In CI (CI set) the long soak tests run too: issue 4 asks CI to run them.
check: all $(UNIT_BINS) check-layers
	@LONG=$(if $(CI),1,$(LONG)) tests/run-all.sh $(UNIT_BINS)

# The layer rule of DESIGN.md (scripts/check-layers.sh reads LAYERS through print-layers).
check-layers:
	@scripts/check-layers.sh

print-layers:
	@echo $(LAYERS)

check-long: all
	@tests/run-long.sh


demo: all
	@demo/run.sh

bench: all
	@bench/run.sh

clean:
	rm -rf $(B)
