# sluice — plain Makefile. `make` builds everything, `make test` runs unit + integration tests.
# Variables worth overriding: BUILD (output folder), CC, CFLAGS, SAN (extra flags for a build).

BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
SAN     ?=
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CPPFLAGS_ALL := -std=c11 -D_GNU_SOURCE -Icore -Idrop -MMD -MP $(CPPFLAGS)
ALLCFLAGS := $(CPPFLAGS_ALL) $(WARN) $(CFLAGS) $(SAN) -pthread
LDLIBS_CORE := -lcurl -lcrypto -pthread
LDALL := $(LDFLAGS) $(SAN)

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libsluice-core.a
# drop/: the drop domain (ids, records, commit, janitor) over core/; core/ never includes it
DROP_SRC := $(wildcard drop/*.c)
DROP_OBJ := $(DROP_SRC:%.c=$(BUILD)/%.o)
DROP_LIB := $(BUILD)/libsluice-drop.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
IT_SRC   := $(wildcard tests/integration/it_*.c)
IT_BIN   := $(IT_SRC:tests/integration/%.c=$(BUILD)/tests/%)

CTL_BIN  := $(BUILD)/sluicectl
FCGI_SRC := $(wildcard fcgi/*.c fcgi/handler/*.c)
FCGI_BIN := $(BUILD)/sluice-fcgi
THUMB_OBJ := $(BUILD)/thumbs/thumb.o
THUMBD_BIN := $(BUILD)/sluice-thumbd
LDLIBS_GD := -lgd -ljpeg -lexif
# libxml2: only sluicectl's bucket configuration merge (ctl/bucketcfg.c) uses it
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
XML_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
CTL_OBJ := $(BUILD)/ctl/sluicectl.o $(BUILD)/ctl/bucketcfg.o

.PHONY: all test unit integration asan valgrind fuzz bench run stop clean format soak soak-slow \
        install uninstall
all: $(CTL_BIN) $(FCGI_BIN) $(THUMBD_BIN) $(UNIT_BIN) $(IT_BIN) $(BUILD)/tests/mkimage \
     $(BUILD)/tests/syscall_filter

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(DROP_LIB): $(DROP_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CTL_BIN): $(CTL_OBJ) $(DROP_LIB) $(CORE_LIB)
	$(CC) $(LDALL) -o $@ $(filter %.o %.a,$^) $(XML_LIBS) $(LDLIBS_CORE)

$(BUILD)/ctl/%.o: ctl/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(XML_CFLAGS) -c $< -o $@

$(FCGI_BIN): $(FCGI_SRC:%.c=$(BUILD)/%.o) $(DROP_LIB) $(CORE_LIB)
	$(CC) $(LDALL) -o $@ $(filter %.o %.a,$^) -lfcgi -ljansson $(LDLIBS_CORE)

# fcgi/ sees its own layers and, in handler/, the handler declarations
$(BUILD)/fcgi/%.o: fcgi/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Ifcgi -Ifcgi/handler -c $< -o $@

# the router's table against stub handlers, and the request-body parsers
$(BUILD)/tests/test_router: tests/unit/test_router.c fcgi/router.c fcgi/http.c fcgi/watchdog.c tests/tools/stub_handlers.c $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Ifcgi -Ifcgi/handler -o $@ $(filter %.c %.a,$^) \
	    $(LDALL) -lcmocka -lfcgi -ljansson $(LDLIBS_CORE)
$(BUILD)/tests/test_body: tests/unit/test_body.c fcgi/body.c $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Ifcgi -o $@ $(filter %.c %.a,$^) $(LDALL) -lcmocka -ljansson $(LDLIBS_CORE)

# the lifecycle and CORS merge of setup-bucket, over XML strings
$(BUILD)/tests/test_bucketcfg: tests/unit/test_bucketcfg.c ctl/bucketcfg.c $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Ictl $(XML_CFLAGS) -o $@ $(filter %.c %.a,$^) $(LDALL) -lcmocka $(XML_LIBS) $(LDLIBS_CORE)

$(THUMBD_BIN): $(BUILD)/thumbs/thumbd.o $(BUILD)/thumbs/sandbox.o $(THUMB_OBJ) $(DROP_LIB) $(CORE_LIB)
	$(CC) $(LDALL) -o $@ $(filter %.o %.a,$^) $(LDLIBS_GD) -lseccomp $(LDLIBS_CORE)

# the thumbnail tests need GD (they make their own images with it)
$(BUILD)/tests/test_thumb: tests/unit/test_thumb.c $(THUMB_OBJ) $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Ithumbs -o $@ $(filter %.c %.o %.a,$^) \
	    $(LDALL) -lcmocka $(LDLIBS_GD) $(LDLIBS_CORE)

$(BUILD)/tests/mkimage: tests/tools/mkimage.c $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $(filter %.c %.a,$^) $(LDALL) $(LDLIBS_GD) $(LDLIBS_CORE)

# a unit's SystemCallFilter= without systemd (tests/integration/test_install.sh)
$(BUILD)/tests/syscall_filter: tests/tools/syscall_filter.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< $(LDALL) -lseccomp

# unit tests link the libraries and use only their public headers (no door to static
# internals exists; one would be a TESTABLE macro in a core/ header, not an included .c)
$(BUILD)/tests/%: tests/unit/%.c $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -DTEST_DATA_DIR='"$(CURDIR)/tests/data"' -o $@ $(filter %.c %.a,$^) \
	    $(LDALL) -lcmocka $(LDLIBS_CORE)

$(BUILD)/tests/it_%: tests/integration/it_%.c $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $(filter %.c %.a,$^) $(LDALL) -lcmocka $(LDLIBS_CORE)

# The whole suite: unit tests, then integration tests against a real Ceph RGW that the
# runner starts and stops itself (or the one named by S3_ENDPOINT etc. if already set).
test: all
	BUILD=$(BUILD) scripts/run-tests.sh all

unit: $(UNIT_BIN) $(FCGI_BIN)
	BUILD=$(BUILD) scripts/run-tests.sh unit

integration: all
	BUILD=$(BUILD) scripts/run-tests.sh integration

# The randomized fault run for SOAK_MINUTES (default 10) instead of the CI-sized one; the seed
# is printed, SEED=N replays a run.
SOAK_MINUTES ?= 10
soak: all
	BUILD=$(BUILD) CHAOS_UPLOADS=1000000 CHAOS_MINUTES=$(SOAK_MINUTES) scripts/run-tests.sh only \
	    tests/integration/test_chaos.sh $(if $(SEED),--seed $(SEED))

# The slow-client test at full length: 20 MiB at a constant 50 kB/s against a store that
# drops a request idle for 20 s (~7 min; `make test` runs a shortened variant of it).
soak-slow: all
	BUILD=$(BUILD) SLOW_FULL=1 scripts/run-tests.sh only tests/integration/test_slow_client.sh

# ASan + UBSan build of everything, then the unit and integration tests under it.
# Reports from the worker processes (which run under spawn-fcgi, stderr elsewhere) go to
# build-asan/san.*; the runner fails if any appear.
asan:
	rm -f build-asan/san.*
	ASAN_OPTIONS=log_path=$(CURDIR)/build-asan/san UBSAN_OPTIONS=log_path=$(CURDIR)/build-asan/san \
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test

# The unit tests under valgrind: any leak or error fails.
valgrind: $(UNIT_BIN) $(FCGI_BIN)
	BUILD=$(BUILD) VALGRIND=1 scripts/run-tests.sh unit

# libFuzzer targets for the parsers (clang): FUZZ_SECONDS each, corpora in fuzz/corpus/
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := $(patsubst fuzz/%.c,build-fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(DROP_SRC) $(CORE_SRC) $(wildcard core/*.h drop/*.h)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -Icore -Idrop $(WARN) -Wno-missing-prototypes $(FUZZ_FLAGS) \
	    -o $@ $< $(DROP_SRC) $(CORE_SRC) $(LDLIBS_CORE)
build-fuzz/fuzz_image: fuzz/fuzz_image.c thumbs/thumb.c $(DROP_SRC) $(CORE_SRC) $(wildcard core/*.h drop/*.h)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -Icore -Idrop -Ithumbs $(WARN) -Wno-missing-prototypes $(FUZZ_FLAGS) \
	    -o $@ $< thumbs/thumb.c $(DROP_SRC) $(CORE_SRC) $(LDLIBS_GD) $(LDLIBS_CORE)

build-fuzz/fuzz_json: fuzz/fuzz_json.c fcgi/body.c $(DROP_SRC) $(CORE_SRC) $(wildcard core/*.h drop/*.h) fcgi/body.h
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -Icore -Idrop -Ifcgi $(WARN) -Wno-missing-prototypes $(FUZZ_FLAGS) \
	    -o $@ $< fcgi/body.c $(DROP_SRC) $(CORE_SRC) -ljansson $(LDLIBS_CORE)

build-fuzz/fuzz_bucketcfg: fuzz/fuzz_bucketcfg.c ctl/bucketcfg.c ctl/bucketcfg.h $(DROP_SRC) $(CORE_SRC) $(wildcard core/*.h drop/*.h)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -Icore -Idrop -Ictl $(XML_CFLAGS) $(WARN) -Wno-missing-prototypes $(FUZZ_FLAGS) \
	    -o $@ $< ctl/bucketcfg.c $(DROP_SRC) $(CORE_SRC) $(XML_LIBS) $(LDLIBS_CORE)

FUZZ_REQ_SRC := fcgi/http.c fcgi/watchdog.c fcgi/router.c tests/tools/stub_handlers.c
build-fuzz/fuzz_request: fuzz/fuzz_request.c $(FUZZ_REQ_SRC) $(DROP_SRC) $(CORE_SRC) $(wildcard core/*.h drop/*.h fcgi/*.h)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -Icore -Idrop -Ifcgi -Ifcgi/handler $(WARN) -Wno-missing-prototypes $(FUZZ_FLAGS) \
	    -o $@ $< $(FUZZ_REQ_SRC) $(DROP_SRC) $(CORE_SRC) -lfcgi -ljansson $(LDLIBS_CORE)

fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do n=$${t#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus-$$n; \
	    echo "== $$t ($(FUZZ_SECONDS)s)"; \
	    if ! $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus-$$n \
	            fuzz/corpus/$$n > build-fuzz/$$n.log 2>&1; then \
	        tail -40 build-fuzz/$$n.log; exit 1; fi; \
	    grep -E "DONE" build-fuzz/$$n.log; done

# Benchmarks (bench/): programs that print tables of ratios against a baseline measured in
# the same run. Not tests, not run by `make test`.
$(BUILD)/bench/thumb_decode: bench/thumb_decode.c $(THUMB_OBJ) $(DROP_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Ithumbs -o $@ $(filter %.c %.o %.a,$^) $(LDALL) $(LDLIBS_GD) $(LDLIBS_CORE)

bench: all $(BUILD)/bench/thumb_decode
	BUILD=$(BUILD) bench/run

run:
	scripts/stack.sh start

stop:
	scripts/stack.sh stop

# Install what `make` built in $(BUILD) (nothing is rebuilt elsewhere): FHS places under PREFIX,
# staged under DESTDIR for packaging. The daemons go together (sluice-fcgi runs the sluice-thumbd
# beside it for the lazy thumbnail path). The example configs and units name Debian's paths
# (/usr/sbin, /usr/share/sluice/web); they are rewritten to the ones installed here. The
# binaries and the units read /etc/sluice/sluice.conf whatever PREFIX is: SYSCONFDIR only says
# where the example goes, and an existing sluice.conf is never touched.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
DATADIR     ?= $(PREFIX)/share
DOCDIR      ?= $(DATADIR)/doc/sluice
MANDIR      ?= $(DATADIR)/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL     ?= install
UNITS := sluice.socket sluice.service sluice-thumbd.service sluice-janitor.service sluice-janitor.timer
MANPAGES := man/sluicectl.1 man/sluice.conf.5 man/sluice-fcgi.8 man/sluice-thumbd.8
INSTALL_SED := sed -e 's\#/usr/sbin/sluice-\#$(SBINDIR)/sluice-\#g' -e 's\#/usr/bin/sluicectl\#$(BINDIR)/sluicectl\#g' \
    -e 's\#/usr/share/sluice/web\#$(DATADIR)/sluice/web\#g' -e 's\#/usr/share/doc/sluice\#$(DOCDIR)\#g'

install: $(CTL_BIN) $(FCGI_BIN) $(THUMBD_BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/sluice/web \
	    $(DESTDIR)$(DOCDIR)/examples/nginx $(DESTDIR)$(DOCDIR)/examples/lighttpd \
	    $(DESTDIR)$(DOCDIR)/examples/sharex \
	    $(DESTDIR)$(SYSCONFDIR)/sluice $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(CTL_BIN) $(DESTDIR)$(BINDIR)/sluicectl
	$(INSTALL) -m 0755 $(FCGI_BIN) $(THUMBD_BIN) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 $(wildcard web/*) $(DESTDIR)$(DATADIR)/sluice/web/
	$(INSTALL_SED) examples/sluice.conf > $(DESTDIR)$(SYSCONFDIR)/sluice/sluice.conf.example
	$(INSTALL) -m 0644 $(DESTDIR)$(SYSCONFDIR)/sluice/sluice.conf.example $(DESTDIR)$(DOCDIR)/examples/sluice.conf
	$(INSTALL_SED) examples/nginx/sluice.conf > $(DESTDIR)$(DOCDIR)/examples/nginx/sluice.conf
	$(INSTALL_SED) examples/lighttpd/sluice.conf > $(DESTDIR)$(DOCDIR)/examples/lighttpd/sluice.conf
	$(INSTALL) -m 0644 examples/sharex/sluice.sxcu $(DESTDIR)$(DOCDIR)/examples/sharex/
	for u in $(UNITS); do $(INSTALL_SED) examples/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	$(INSTALL) -m 0644 examples/systemd/sluice.sysusers $(DESTDIR)$(SYSUSERSDIR)/sluice.conf
	$(INSTALL) -m 0644 man/sluicectl.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 man/sluice.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 man/sluice-fcgi.8 man/sluice-thumbd.8 $(DESTDIR)$(MANDIR)/man8/

# removes what install put there, never /etc/sluice/sluice.conf or the state directories
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sluicectl $(DESTDIR)$(SBINDIR)/sluice-fcgi $(DESTDIR)$(SBINDIR)/sluice-thumbd \
	    $(DESTDIR)$(SYSCONFDIR)/sluice/sluice.conf.example $(DESTDIR)$(SYSUSERSDIR)/sluice.conf \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) $(DESTDIR)$(MANDIR)/man1/sluicectl.1 \
	    $(DESTDIR)$(MANDIR)/man5/sluice.conf.5 $(DESTDIR)$(MANDIR)/man8/sluice-fcgi.8 \
	    $(DESTDIR)$(MANDIR)/man8/sluice-thumbd.8
	rm -rf $(DESTDIR)$(DATADIR)/sluice $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(SYSCONFDIR)/sluice 2>/dev/null

format:
	clang-format -i core/*.[ch] drop/*.[ch] fcgi/*.[ch] thumbs/*.[ch] ctl/*.[ch] tests/unit/*.c tests/integration/*.c fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
