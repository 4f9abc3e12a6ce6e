# SPDX-License-Identifier: Apache-2.0
# What every scenario program's Makefile shares; each tests/scenarios/NAME/Makefile sets its
# specifics in the variables below, includes this file, then names each program's and
# library's objects as prerequisites (`prog: main.o value.o`), plus any rule of its own.
# lib.sh's copy_scenario puts this file into the copied tree, so that the tree builds on its
# own, and so does the copy of it that `suture build` rebuilds.
#
#   PROGS              programs linked from their objects
#   ONE_STEP_PROGS     programs compiled and linked by one command from their .c prerequisites
#   SHLIBS             shared libraries linked from their objects (soname: the file's name)
#   ONE_STEP_SHLIBS    shared libraries compiled and linked by one command (-fPIC, no soname)
#   PIC_OBJS           objects compiled with -fPIC (those of SHLIBS, and any other)
#   HEADERS            headers every object depends on
#   SCENARIO_CFLAGS    extra compiler flags of every unit (e.g. -pthread)
#   LDLIBS_<target>    what <target>'s link adds after its objects (-L. -lfoo, -ldl, ...)
#   CLEAN              what `make clean` removes besides the targets and objects
#
# -ffile-prefix-map makes the build independent of the directory it runs in, so the copy
# that `suture build` rebuilds has the same build-ids as the copy the test runs.
CFLAGS := $(strip -O2 -g $(SCENARIO_CFLAGS) -ffile-prefix-map=$(CURDIR)=.)
LDFLAGS := -Wl,--build-id

.DEFAULT_GOAL := all
all: $(PROGS) $(ONE_STEP_PROGS) $(SHLIBS) $(ONE_STEP_SHLIBS)

$(PROGS):
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS_$@)

$(ONE_STEP_PROGS):
	$(CC) $(CFLAGS) -o $@ $(filter %.c,$^) $(LDFLAGS) $(LDLIBS_$@)

$(SHLIBS):
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(notdir $@) -o $@ $(filter %.o,$^) $(LDLIBS_$@)

$(ONE_STEP_SHLIBS):
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $(filter %.c,$^) $(LDLIBS_$@)

%.o: %.c $(HEADERS)
	$(CC) $(CFLAGS) -c $< -o $@

$(PIC_OBJS): %.o: %.c $(HEADERS)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

clean:
	rm -rf $(PROGS) $(ONE_STEP_PROGS) $(SHLIBS) $(ONE_STEP_SHLIBS) $(CLEAN) *.o
.PHONY: all clean
