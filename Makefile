# SPDX-License-Identifier: Apache-2.0
# suture build. Each layer under src/ becomes one static library; a layer links only
# against the layers before it in LAYERS (the order of DESIGN.md), which keeps the
# dependency rule visible here as well as in the headers.
.DEFAULT_GOAL := all
LAYERS := util elf proc ptrace patch link unwind apply audit store assess rollout daemon report build distro cli
B      := out
CC     ?= gcc
WERROR := $(if $(CI),-Werror,)
CFLAGS ?= -O2 -g
# Hardening of everything built (docs/architecture.md, trust boundaries): stack canaries,
# fortified libc calls, a position-independent executable with full RELRO and immediate
# binding, and CET branch protection. The sanitizer build replaces these (HARDEN= ...).
HARDEN   ?= -fstack-protector-strong -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fPIE -fcf-protection
LDHARDEN ?= -pie -Wl,-z,relro,-z,now
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter $(WERROR) -Isrc -D_GNU_SOURCE $(HARDEN) \
	  $(SAN_CFLAGS)
LIBS   = -lelf -ldw -lcrypto -ljansson -lm -lpthread
# store: the policy file is a GLib key file; sutured: libsystemd (notify, journal);
# daemon: the kernel hold loads its eBPF program with libbpf.
# pkg-config is asked when a compile or link first needs the answer, not when make reads
# this file: on a fresh machine `deps` installs these packages during the same make run,
# and an answer read before that would be empty (the link then fails).
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags glib-2.0))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs glib-2.0 libsystemd libbpf))$(PKG_LIBS)
CFLAGS += $(PKG_CFLAGS)
LIBS   += $(PKG_LIBS)

# Programs' entry points are not part of their layer's library.
PROGRAM_MAINS := src/cli/sutured.c
layer_srcs = $(filter-out $(PROGRAM_MAINS),$(wildcard src/$(1)/*.c))
layer_objs = $(patsubst src/%.c,$(B)/obj/%.o,$(call layer_srcs,$(1)))
# libraries of a layer and every layer before it, innermost last (for the linker)
define layer_lib_rule
$(B)/libsut_$(1).a: $(call layer_objs,$(1))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_lib_rule,$(l))))
ALL_LIBS := $(foreach l,$(shell echo $(LAYERS) | tr ' ' '\n' | tac),$(B)/libsut_$(l).a)

.PHONY: all deps demo check check-long check-layers print-layers bench clean
all: deps $(B)/suture $(B)/sutured $(B)/libsutured-hold.so

deps:
	@scripts/deps.sh

# Objects are rebuilt when the compiler or its flags change (hardening, sanitizers).
$(B)/cflags.stamp: FORCE | deps
	@mkdir -p $(@D)
	@echo '$(CC) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS)' >$@
.PHONY: FORCE
FORCE:

$(B)/obj/%.o: src/%.c $(B)/cflags.stamp
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# The kernel hold's eBPF program (src/daemon/bpf/), compiled by clang for the BPF target
# and embedded in sutured as a libbpf skeleton (bpftool gen skeleton).
BPF_CLANG ?= clang
$(B)/bpf/khold.bpf.o: src/daemon/bpf/khold.bpf.c src/daemon/bpf/khold_abi.h | deps
	@mkdir -p $(@D)
	$(BPF_CLANG) -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/$(shell gcc -print-multiarch) -Isrc -c $< -o $@
$(B)/bpf/khold.skel.h: $(B)/bpf/khold.bpf.o
	bpftool gen skeleton $< name khold >$@.tmp && mv $@.tmp $@
$(B)/obj/daemon/khold.o: $(B)/bpf/khold.skel.h
$(B)/obj/daemon/khold.o: CFLAGS += -I$(B)/bpf

$(B)/suture: $(ALL_LIBS)
	$(CC) $(CFLAGS) $(LDHARDEN) -o $@ -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LIBS)

# sutured: the daemon, from the same libraries (src/daemon/daemon.h)
$(B)/sutured: $(B)/obj/cli/sutured.o $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LIBS)

# the preload that holds a starting process until sutured has looked at it (daemon.h)
$(B)/libsutured-hold.so: src/daemon/preload/sutured_hold.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $<

# Unit tests: tests/unit/test_X.c links all layer libraries (the linker keeps only what is used).
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
$(B)/tests/%: tests/unit/%.c tests/unit/fixtures.h $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDHARDEN) -Itests/unit -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LIBS) -lcmocka

# Fuzzers: every tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput and is linked with
# libFuzzer (clang) against the layer libraries; seeds are in tests/fuzz/corpus/NAME/.
# They are built only in the sanitizer build below.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
$(B)/fuzz/%: tests/fuzz/%.c $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LIBS)

# The sanitizer build: the unit tests and the fuzzers under AddressSanitizer and
# UndefinedBehaviorSanitizer, compiled by clang (libFuzzer's coverage) into their own
# folder, so the normal objects are untouched. FUZZ_TIME seconds per fuzzer.
SAN_B     := $(B)/san
SAN_FLAGS := -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	     -fsanitize=fuzzer-no-link -Wno-unused-command-line-argument
FUZZ_TIME ?= 30
.PHONY: check-sanitize sanitize-build
sanitize-build: $(UNIT_BINS) $(FUZZ_BINS)
check-sanitize: deps
	@CFLAGS="-O1 -g" $(MAKE) --no-print-directory B=$(SAN_B) CC=clang HARDEN= LDHARDEN= \
		SAN_CFLAGS='$(SAN_FLAGS)' sanitize-build
	@FUZZ_TIME=$(FUZZ_TIME) tests/run-sanitize.sh $(SAN_B)

# In CI (CI set) the long soak tests run too: issue 4 asks CI to run them.
# The sanitizer step runs after the other tests (left out with SANITIZE=0, and when ONLY
# selects tests).
check: all $(UNIT_BINS) check-layers
	@LONG=$(if $(CI),1,$(LONG)) tests/run-all.sh $(UNIT_BINS); rc=$$?; \
	if [ "$(SANITIZE)" != 0 ] && [ -z "$(ONLY)" ]; then $(MAKE) --no-print-directory check-sanitize || rc=1; fi; \
	exit $$rc

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
