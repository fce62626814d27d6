# lwm2md - top-level build.  `make` builds build/lwm2md; `make check` installs
# what the tests need and runs every test in the normal and sanitizer builds.

PREFIX    ?= /usr
SYSCONFDIR ?= /etc
DESTDIR   ?=
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
# where this system's systemd and udev look (bookworm: /lib/systemd/system, /lib/udev)
UNITDIR   ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(or $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null),$(PREFIX)/lib/sysusers.d)
TMPFILESDIR ?= $(or $(shell pkg-config --variable=tmpfilesdir systemd 2>/dev/null),$(PREFIX)/lib/tmpfiles.d)
UDEVDIR   ?= $(or $(shell pkg-config --variable=udevdir udev 2>/dev/null),$(PREFIX)/lib/udev)

CC        ?= gcc
PKGS      := libcoap-3-gnutls inih libcbor jansson libsystemd libiio libgpiod libcurl libmnl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libiio and libcurl are opened when first used (agent/dynlib.h): headers only
DL_PKGS   := libiio libcurl
PKG_LIBS   := $(shell pkg-config --libs $(filter-out $(DL_PKGS),$(PKGS)) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 $(WARN) -D_GNU_SOURCE -DLWM_VERSION='"$(VERSION)"' -Iagent -Iobjects -Idrivers $(PKG_CFLAGS)
LDLIBS    += $(PKG_LIBS) -lmbedcrypto -lm

# `make asan` builds the same tree with AddressSanitizer and UBSan into build/asan.
ifeq ($(SAN),1)
B         := build/asan
CFLAGS    += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=address,undefined
else
B         := build
endif

LIB_SRC   := $(filter-out agent/main.c agent/ctl_main.c,$(wildcard agent/*.c objects/*.c drivers/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC  := $(shell find tests/unit -name '*.c' -not -path '*/fixtures/*' 2>/dev/null)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%)

LESHAN_JAR := tests/leshan-server/target/lwm2md-test-server.jar
PYTEST    ?= python3 -m pytest

.PHONY: all asan unit unit-asan check demo bench install clean deps integration integration-asan \
	gen gen-check leshan fuzz fuzz-replay hwsim deb
all: $(B)/lwm2md $(B)/lwm2mctl

$(B)/obj/%.o: %.c $(wildcard agent/*.h objects/*.h drivers/*.h) | $(B)/obj
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/obj:
	@mkdir -p $@

$(B)/liblwm2md.a: $(LIB_OBJ)
	ar rcs $@ $^

$(B)/lwm2md: $(B)/obj/agent/main.o $(B)/liblwm2md.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/lwm2mctl: $(B)/obj/agent/ctl_main.o $(B)/liblwm2md.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/unit/%: tests/unit/%.c $(B)/liblwm2md.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(B)/liblwm2md.a $(LDLIBS) $(CMOCKA_LIBS)

asan:
	$(MAKE) SAN=1 all

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; (cd tests/unit && ../../$$t); done

unit-asan:
	$(MAKE) SAN=1 unit

clean:
	rm -rf build

# ---- set-up, tests, demo -------------------------------------------------

deps:
	sh tests/setup-deps.sh

gen:
	python3 objects/gen_tables.py

gen-check:
	python3 objects/gen_tables.py --check

leshan: $(LESHAN_JAR)

$(LESHAN_JAR): tests/leshan-server/pom.xml $(shell find tests/leshan-server/src -type f 2>/dev/null)
	mvn -q -B -f tests/leshan-server/pom.xml package -DskipTests

integration: all $(LESHAN_JAR)
	LWM2MD_BIN=$(CURDIR)/build/lwm2md $(PYTEST) -q tests/integration

integration-asan: $(LESHAN_JAR)
	$(MAKE) SAN=1 all
	LWM2MD_BIN=$(CURDIR)/build/asan/lwm2md $(PYTEST) -q tests/integration

# Everything CI runs, from a fresh Debian machine: set-up, both builds, unit
# tests and integration tests against the real server, normal and sanitized, and
# the VM tests against real kernel drivers (tests/hwsim; root, about 2 minutes).
check: deps
	$(MAKE) gen-check
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) SAN=1 unit
	$(MAKE) fuzz-replay
	$(MAKE) integration
	$(MAKE) integration-asan
	$(MAKE) hwsim

# The VM tests (tests/hwsim): Debian's own kernel under qemu (TCG, no KVM needed) with gpio-sim,
# iio_dummy and i2c-stub feeding the real tmp006/bme280 (IIO) and lm75/tmp102 (hwmon) drivers;
# lwm2md runs inside and registers with the test server in a network namespace of the run.
# tests/hwsim/setup.sh installs and builds what it needs once (.cache/hwsim). Needs root.
# The end-to-end cases run twice: normal build, then ASan+UBSan build (a second boot).
# HWSIM_ARGS: passed on (--bench writes tests/hwsim/RESULTS.md; pytest options, e.g. -k gpio).
hwsim: all $(LESHAN_JAR)
	$(MAKE) SAN=1 all
	LWM2MD_ASAN_BIN=$(CURDIR)/build/asan/lwm2md sh tests/hwsim/run.sh $(HWSIM_ARGS)

demo: deps
	$(MAKE) all $(LESHAN_JAR)
	sh tests/demo.sh

# ---- install -------------------------------------------------------------

install: $(B)/lwm2md $(B)/lwm2mctl
	install -D -m 0755 $(B)/lwm2md $(DESTDIR)$(PREFIX)/bin/lwm2md
	install -D -m 0755 $(B)/lwm2mctl $(DESTDIR)$(PREFIX)/bin/lwm2mctl
	install -D -m 0640 etc/lwm2md.ini $(DESTDIR)$(SYSCONFDIR)/lwm2md/lwm2md.ini
	install -D -m 0644 packaging/lwm2md.service $(DESTDIR)$(UNITDIR)/lwm2md.service
	install -D -m 0644 packaging/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/lwm2md.conf
	install -D -m 0644 packaging/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/lwm2md.conf
	install -D -m 0644 etc/lwm2md.ini $(DESTDIR)$(PREFIX)/share/lwm2md/lwm2md.ini
	install -D -m 0755 packaging/hooks/reboot $(DESTDIR)$(PREFIX)/lib/lwm2md/reboot
	install -D -m 0755 packaging/hooks/factory-reset $(DESTDIR)$(PREFIX)/lib/lwm2md/factory-reset
	install -D -m 0644 packaging/polkit/lwm2md.rules $(DESTDIR)$(PREFIX)/share/polkit-1/rules.d/lwm2md.rules
	install -D -m 0644 packaging/udev/60-lwm2md.rules $(DESTDIR)$(UDEVDIR)/rules.d/60-lwm2md.rules
	install -D -m 0644 packaging/man/lwm2md.8 $(DESTDIR)$(PREFIX)/share/man/man8/lwm2md.8
	install -D -m 0644 packaging/man/lwm2mctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/lwm2mctl.1

# ---- Debian package -------------------------------------------------------
# `make deb` builds build/deb/lwm2md_VERSION_ARCH.deb from a copy of the tree
# (dpkg-buildpackage writes beside its source folder).  Needs debhelper.
deb:
	rm -rf build/deb && mkdir -p build/deb/src
	tar --exclude=./build --exclude=./.cache --exclude=./.git --exclude=./tests/leshan-server/target \
		-cf - . | tar -xf - -C build/deb/src
	cd build/deb/src && dpkg-buildpackage -b -us -uc
	@ls build/deb/*.deb

# ---- benchmark -----------------------------------------------------------

# Figures for this build (binary size, RSS, idle wakeups, start-up time, read
# latency, sensors, information reporting, firmware update) printed and written
# to tests/bench/RESULTS.md.  About 4 minutes; needs strace, and nginx, swupdate,
# openssl and cpio for the firmware section (tests/setup-deps.sh).  Exits 0
# whatever the numbers, 1 if a measurement failed.  One section alone, printed
# only: python3 tests/bench/bench.py --only reporting (core, sensors, reporting,
# firmware).
bench: all
	python3 tests/bench/bench.py --bin build/lwm2md --out tests/bench/RESULTS.md

# ---- fuzzing -------------------------------------------------------------

FUZZ_SRC := agent/value.c agent/err.c agent/buf.c $(wildcard agent/codec*.c)

# Replays the corpus (every past crash input included) under ASan+UBSan.
fuzz-replay:
	@mkdir -p build/fuzz
	$(CC) -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -DFUZZ_STANDALONE \
		-std=gnu11 -D_GNU_SOURCE -Iagent tests/fuzz/fuzz_codec.c $(FUZZ_SRC) \
		-lcbor -ljansson -lm -o build/fuzz/fuzz_codec_replay
	build/fuzz/fuzz_codec_replay tests/fuzz/corpus

# Coverage-guided fuzzing with libFuzzer (needs clang: apt-get install clang).
FUZZ_TIME ?= 60
fuzz:
	@mkdir -p build/fuzz/corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -Iagent \
		tests/fuzz/fuzz_codec.c $(FUZZ_SRC) -lcbor -ljansson -lm -o build/fuzz/fuzz_codec
	build/fuzz/fuzz_codec -max_len=4096 -max_total_time=$(FUZZ_TIME) build/fuzz/corpus tests/fuzz/corpus
