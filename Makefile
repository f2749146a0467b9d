# gpuslim build. `make` builds ./gpuslim, `make test` runs every test.
# DEV=0 drops -Werror for packagers; SANITIZE=address builds with ASan.

CC ?= cc
PKGS = yaml-0.1 jansson libcurl libgit2 libcrypto libarchive
DEV ?= 1
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wno-unused-parameter
ifeq ($(DEV),1)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Iorchestrator -Ibuild/gen \
             -include orchestrator/util/banned.h -MMD -MP
LIBS = $(PKG_LIBS) -lpthread -lm

LIB_SRC := $(sort $(wildcard orchestrator/util/*.c orchestrator/core/*.c))
CLI_SRC := $(sort $(wildcard orchestrator/cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=build/%.o)
CLI_OBJ := $(CLI_SRC:%.c=build/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
# Fuzz targets: each replayed over its corpus by the tests (built with $(CC)), and
# built for libFuzzer with clang by `make fuzz` (bench/fuzz.sh runs them).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SRC := $(filter-out tests/fuzz/fuzz_common.c,$(FUZZ_SRC))
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=build/tests/%-replay)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_CC ?= clang
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
              $(PKG_CFLAGS) -Iorchestrator -Ibuild/gen -Itests/fuzz -include orchestrator/util/banned.h -MMD -MP
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)

# `make install PREFIX=/x` (DESTDIR=/stage for packagers): bin/gpuslim and share/gpuslim/
# (plugins/, schemas/). The binary looks for its data there (DATADIR, built into
# util/datadir.o alone), else in ../share/gpuslim beside itself: a moved prefix still works.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
DATADIR = $(PREFIX)/share/gpuslim

.PHONY: all test unit fuzz check-deps install uninstall clean format bench golden-update FORCE
all: gpuslim

# What the objects are built with, as git's GIT-CFLAGS: each file is rewritten only when its
# flags change, and the objects depend on it, so `make SANITIZE=address` after `make`
# rebuilds everything, and `make install PREFIX=/x` rebuilds util/datadir.o alone.
TRACK_CFLAGS = $(CC):$(ALL_CFLAGS):$(LDFLAGS):$(LIBS):$(FUZZ_CC):$(FUZZ_CFLAGS)
# $(call write_if_changed,TEXT): the recipe that rewrites $@ only when TEXT is new.
write_if_changed = @mkdir -p $(dir $@); v='$(subst ','\'',$(1))'; \
	if [ x"$$v" != x"$$(cat $@ 2>/dev/null)" ]; then \
		echo "    * new build flags ($@)"; printf '%s\n' "$$v" >$@; fi
build/GPUSLIM-CFLAGS: FORCE
	$(call write_if_changed,$(TRACK_CFLAGS))
build/GPUSLIM-DATADIR: FORCE
	$(call write_if_changed,$(DATADIR))

gpuslim: $(LIB_OBJ) $(CLI_OBJ) build/GPUSLIM-CFLAGS
	$(CC) $(LDFLAGS) -o $@ $(LIB_OBJ) $(CLI_OBJ) $(LIBS)

build/%.o: %.c build/GPUSLIM-CFLAGS
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(EXTRA_CPPFLAGS) -c -o $@ $<

# The closure script, less comments and blank lines, as a C string for render_dockerfile.c
# (sed: xxd is not everywhere).
build/gen/closure_sh.h: orchestrator/core/closure.sh
	@mkdir -p $(dir $@)
	sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$$/d' -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
		-e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $< >$@.tmp
	mv $@.tmp $@
build/orchestrator/core/render_dockerfile.o build/fuzz/obj/orchestrator/core/render_dockerfile.o: \
	build/gen/closure_sh.h

# The HTML page's script and style, as C strings for report_html.c.
build/gen/report_html_%.h: orchestrator/core/report_html.%
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $< >$@.tmp
	mv $@.tmp $@
build/orchestrator/core/report_html.o build/fuzz/obj/orchestrator/core/report_html.o: \
	build/gen/report_html_js.h build/gen/report_html_css.h

build/orchestrator/util/datadir.o: EXTRA_CPPFLAGS = -DGPUSLIM_DATADIR='"$(DATADIR)"'
build/orchestrator/util/datadir.o: build/GPUSLIM-DATADIR

build/tests/%: tests/unit/%.c $(LIB_OBJ) tests/unit/unit.h build/GPUSLIM-CFLAGS
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LIBS)

# The unit tests' checks that need the real engine and registries, run by
# tests/integration/test_engine_real.sh (it includes tests/unit/test_image.c).
build/tests/engine_real: tests/integration/engine_real.c tests/unit/test_image.c $(LIB_OBJ) \
		tests/unit/unit.h build/GPUSLIM-CFLAGS
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LIBS)

# A unit binary that misbehaves on purpose, for the runner's own test (tests/run.sh runner).
build/tests/unit_case: tests/fake/unit_case.c tests/unit/unit.h build/GPUSLIM-CFLAGS
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $<

build/tests/%-replay: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz_common.c tests/fuzz/fuzz.h $(LIB_OBJ) \
		build/GPUSLIM-CFLAGS
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz $(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		tests/fuzz/fuzz_common.c $(LIB_OBJ) $(LIBS)

build/fuzz/obj/%.o: %.c build/GPUSLIM-CFLAGS
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJ) \
		build/GPUSLIM-CFLAGS
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< tests/fuzz/fuzz_common.c \
		$(FUZZ_LIB_OBJ) $(LIBS)

unit: $(UNIT_BIN) $(FUZZ_REPLAY) build/tests/unit_case build/tests/engine_real

fuzz: $(FUZZ_BIN)

test: gpuslim unit
	tests/run.sh

golden-update: gpuslim
	tests/golden-update.sh

bench: gpuslim
	BENCH="$(BENCH)" BENCH_QUICK="$(BENCH_QUICK)" bench/bench.sh

DATA_FILES := $(sort $(wildcard plugins/*.json schemas/*.json))

install: gpuslim
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/plugins $(DESTDIR)$(DATADIR)/schemas
	install -m 755 gpuslim $(DESTDIR)$(BINDIR)/gpuslim
	install -m 644 $(filter plugins/%,$(DATA_FILES)) $(DESTDIR)$(DATADIR)/plugins/
	install -m 644 $(filter schemas/%,$(DATA_FILES)) $(DESTDIR)$(DATADIR)/schemas/

# Removes what install wrote, and the directories it made when they are left empty.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/gpuslim $(DATA_FILES:%=$(DESTDIR)$(DATADIR)/%)
	-rmdir $(DESTDIR)$(DATADIR)/plugins $(DESTDIR)$(DATADIR)/schemas $(DESTDIR)$(DATADIR) 2>/dev/null

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(wildcard orchestrator/*/*.h) $(UNIT_SRC) \
		$(wildcard tests/fuzz/*.c tests/fuzz/*.h)

clean:
	rm -rf build gpuslim

FORCE:

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_REPLAY:=.d) $(FUZZ_LIB_OBJ:.o=.d) \
	build/tests/unit_case.d build/tests/engine_real.d
