# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace: one Makefile for the lab kernel, the tools and the tests.
#
#   make demo     build everything, boot the lab, run a workload, show the report
#   make check    host tests, then the lab tests; ends with `N passed, N failed, N skipped`
#   make kernel   the lab kernel (KERNEL_VARIANT=patched|stock|debug|debian|debian-6.1) in $(HMMTRACE_CACHE)
#   make bench    overhead and behaviour benchmarks into build/bench/ (about 15 min)
#   make lab CMD='uname -r'   run a command inside the lab guest
#   make deps     install missing Debian packages (demo and check do it themselves)
#   make hmmtrace [STATIC=1|SANITIZE=1]   the tool; STATIC=1 links its libraries statically,
#                 SANITIZE=1 builds it with ASan and UBSan into build/sanitize/
#   make install [PREFIX=/usr/local] [DESTDIR=] [STATIC=1]   and make uninstall
#   make vmlinux-header   regenerate bpf/vmlinux/x86/vmlinux.h from the patched kernel

SHELL := /bin/bash
.DEFAULT_GOAL := all

BUILD := build
export HMMTRACE_CACHE ?= $(HOME)/.cache/hmmtrace
export KERNEL_VARIANT ?= patched
export CMD

DEBIAN_PACKAGES := build-essential bc bison flex libelf-dev libssl-dev dwarves \
	clang llvm libbpf-dev bpftool linux-source-6.12 qemu-system-x86 \
	busybox-static cpio ccache linux-perf bpftrace kmod git xz-utils \
	zlib1g-dev pkg-config python3 python3-ply python3-git gnuplot-nox \
	libmicrohttpd-dev prometheus python3-yaml

CLANG ?= clang
# Every BPF object builds against the committed vmlinux.h (bpf/vmlinux/README.md),
# so no build needs a kernel.
VMLINUX_HEADER := bpf/vmlinux/x86/vmlinux.h
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -Wall \
	-I$(dir $(VMLINUX_HEADER))
CFLAGS ?= -O2 -g -Wall -Wextra -Werror
LIBBPF_LIBS := -lbpf -lelf -lz
BPF_HEADERS := $(wildcard bpf/*.h)
HMMTRACE_SOURCES := $(wildcard tools/*.c)

# test_hmm's uapi header comes from the unpacked kernel source (make kernel).
KERNEL_SOURCE_VERSION := $(shell dpkg-query -W -f='$${Version}' linux-source-6.12 2>/dev/null)
KERNEL_PRISTINE := $(HMMTRACE_CACHE)/$(KERNEL_SOURCE_VERSION)/pristine

TEST_PROGRAMS := $(BUILD)/tests/bpf-smoke $(BUILD)/tests/test_hmm_phases \
	$(BUILD)/tests/sim_mirror_workload $(BUILD)/tests/sim_mirror_fuzz $(BUILD)/tests/notifier_bench $(BUILD)/bench/carrier \
	$(BUILD)/tests/json_writer_test $(BUILD)/tests/cause_names_test $(BUILD)/tests/kallsyms_test \
	$(BUILD)/bench/interval_cost \
	$(BUILD)/tests/flamegraph_render

# Debian's own kernels, the production cases (kernel/debian-kernel.sh):
# debian is its 6.12, debian-6.1 Debian 12's default kernel.
DEBIAN_KERNELS := debian debian-6.1

# The simulated mirroring driver, built against the kernel of KERNEL_VARIANT
# (patched, stock, or one of DEBIAN_KERNELS), in a copy under build/ so the
# source tree stays clean.
DRIVER_SOURCES := $(wildcard kernel/drivers/sim_mirror/*.[ch]) kernel/drivers/sim_mirror/Kbuild
KERNEL_DIRECTORY = $(HMMTRACE_CACHE)/$(KERNEL_SOURCE_VERSION)/$(KERNEL_VARIANT)
DRIVER := $(BUILD)/sim_mirror/$(KERNEL_VARIANT)/sim_mirror.ko
# The same module without its BTF, as a module built against headers that
# ship no vmlinux (Debian 12's 6.1, DKMS drivers) has none: fentry cannot
# aim at its callback, a kprobe can.
DRIVER_WITHOUT_BTF := $(BUILD)/sim_mirror/$(KERNEL_VARIANT)-no-btf/sim_mirror.ko

.PHONY: all deps kernel lab check demo bench clean test-programs driver hmmtrace \
	vmlinux-header install uninstall

all: hmmtrace test-programs driver

# Checking is one dpkg-query call, so a machine that has everything pays
# nothing; only a missing package costs an apt-get. Debian's kernels come
# after linux-source-6.12, which names the 6.12 release; the 6.1 release is
# the installed one, else apt's lists name it (updated once if they cannot).
deps:
	@missing=$$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' $(DEBIAN_PACKAGES) 2>/dev/null | \
		awk '$$1 == "ii" { print $$2 }' | sort | comm -13 - <(tr ' ' '\n' <<<"$(DEBIAN_PACKAGES)" | sort)); \
	if [ -n "$$missing" ]; then \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "deps: installing" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$sudo apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
		{ $$sudo apt-get update -q >/dev/null && \
		  $$sudo apt-get install -y -q --no-install-recommends $$missing >/dev/null; } || \
		{ echo "deps: apt-get could not install:" $$missing >&2; exit 1; }; \
	fi
	@sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	for variant in $(DEBIAN_KERNELS); do \
		packages=$$(KERNEL_VARIANT=$$variant kernel/debian-kernel.sh --packages 2>/dev/null) || \
		{ $$sudo apt-get update -q >/dev/null; \
		  packages=$$(KERNEL_VARIANT=$$variant kernel/debian-kernel.sh --packages); } || exit 1; \
		installed=$$(dpkg-query -W -f='$${db:Status-Abbrev}\n' $$packages 2>/dev/null | grep -c '^ii'); \
		[ "$$installed" -eq 2 ] && continue; \
		echo "deps: installing Debian's kernel ($$variant), a production case of the lab:" $$packages; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$packages >/dev/null || \
			{ echo "deps: apt-get could not install" $$packages >&2; exit 1; }; \
	done

kernel:
	@case " $(DEBIAN_KERNELS) " in \
	*" $(KERNEL_VARIANT) "*) kernel/debian-kernel.sh ;; \
	*) kernel/build-kernel.sh ;; \
	esac

lab:
	@[ -n "$$CMD" ] || { echo "usage: make lab CMD='command'" >&2; exit 2; }
	tests/lab/run-lab.sh "$$CMD"

# deps first: nothing else can build on a fresh machine without it.
check: deps
	$(MAKE) --no-print-directory kernel hmmtrace test-programs driver flamegraph-assets
	$(MAKE) --no-print-directory hmmtrace STATIC=1
	$(MAKE) --no-print-directory hmmtrace SANITIZE=1
	$(MAKE) --no-print-directory kernel driver KERNEL_VARIANT=debug
	$(MAKE) --no-print-directory kernel driver KERNEL_VARIANT=debian
	$(MAKE) --no-print-directory kernel driver KERNEL_VARIANT=debian-6.1
	tests/run-tests.sh

demo: deps
	$(MAKE) --no-print-directory kernel hmmtrace test-programs driver flamegraph-assets
	tests/lab/run-lab.sh 'tests/lab/demo.sh'

# The patched and the unpatched kernel, booted alternately; see tests/bench/README.md.
bench: deps
	$(MAKE) --no-print-directory kernel hmmtrace test-programs driver
	$(MAKE) --no-print-directory kernel driver KERNEL_VARIANT=stock
	tests/bench/bench.sh

clean:
	rm -rf $(BUILD)

test-programs: $(TEST_PROGRAMS)

$(BUILD)/tests/%.bpf.o: tests/lab/bpf-smoke/%.bpf.c | $(BUILD)/tests
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.skel.h: $(BUILD)/tests/%.bpf.o
	bpftool gen skeleton $< >$@

$(BUILD)/tests/bpf-smoke: tests/lab/bpf-smoke/bpf_smoke.c $(BUILD)/tests/bpf_smoke.skel.h
	$(CC) $(CFLAGS) -I$(BUILD)/tests $< -o $@ $(LIBBPF_LIBS) -lm

$(BUILD)/tests/test_hmm_phases: tests/workloads/test_hmm_phases.c tests/workloads/workload.h | $(BUILD)/tests
	@[ -f $(KERNEL_PRISTINE)/lib/test_hmm_uapi.h ] || \
		{ echo "no kernel source in $(KERNEL_PRISTINE): run 'make kernel'" >&2; exit 1; }
	$(CC) $(CFLAGS) -I$(KERNEL_PRISTINE)/lib $< -o $@ -lpthread

$(BUILD)/tests/sim_mirror_workload: tests/workloads/sim_mirror_workload.c tests/workloads/workload.h \
		kernel/drivers/sim_mirror/sim_mirror_uapi.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -Ikernel/drivers/sim_mirror $< -o $@ -lpthread

$(BUILD)/tests/sim_mirror_fuzz: tests/workloads/sim_mirror_fuzz.c tests/workloads/workload.h \
		kernel/drivers/sim_mirror/sim_mirror_uapi.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -Ikernel/drivers/sim_mirror -Itests/workloads $< -o $@ -lpthread

$(BUILD)/tests/notifier_bench: tests/bench/notifier_bench.c tests/workloads/workload.h \
		kernel/drivers/sim_mirror/sim_mirror_uapi.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -Ikernel/drivers/sim_mirror -Itests/workloads $< -o $@

# The native handler cost: hmmtrace's counting on a host-attachable carrier.
$(BUILD)/bench/carrier.bpf.o: tests/bench/carrier.bpf.c $(BPF_HEADERS) \
		$(VMLINUX_HEADER) $(BUILD)/include/hmmtrace_events.h
	mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -I$(BUILD)/include -Ibpf -c $< -o $@

$(BUILD)/bench/carrier.skel.h: $(BUILD)/bench/carrier.bpf.o
	bpftool gen skeleton $< name carrier_bpf >$@

$(BUILD)/bench/carrier: tests/bench/carrier.c tools/map_read.c tools/map_read.h bpf/hmmtrace.h \
		$(BUILD)/bench/carrier.skel.h
	$(CC) $(CFLAGS) -I$(BUILD)/bench -Ibpf -Itools $< tools/map_read.c -o $@ $(LIBBPF_LIBS)

# The output path without a kernel to trace: the JSON writer's unit test,
# and the model and writers on maps the bench fills natively.
$(BUILD)/tests/json_writer_test: tests/unit/json_writer_test.c tools/json_writer.c tools/json_writer.h \
		tools/format.c tools/format.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itools tests/unit/json_writer_test.c tools/json_writer.c tools/format.c -o $@ -lm

$(BUILD)/tests/cause_names_test: tests/unit/cause_names_test.c tools/cause_names.c tools/cause_names.h \
		$(BUILD)/include/hmmtrace_syscalls.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -I$(BUILD)/include -Itools tests/unit/cause_names_test.c tools/cause_names.c -o $@

$(BUILD)/tests/kallsyms_test: tests/unit/kallsyms_test.c tools/kallsyms.c tools/kallsyms.h \
		tools/grow.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itools tests/unit/kallsyms_test.c tools/kallsyms.c -o $@

$(BUILD)/bench/interval_cost: tests/bench/interval_cost.c $(HMMTRACE_SOURCES) $(wildcard tools/*.h) \
		bpf/hmmtrace.h $(BUILD)/include/hmmtrace.skel.h $(BUILD)/include/hmmtrace_events.h \
		$(BUILD)/include/hmmtrace_fields.h $(BUILD)/include/hmmtrace_metrics.h \
		$(BUILD)/include/hmmtrace_syscalls.h
	mkdir -p $(@D)
	$(CC) $(CFLAGS) -I$(BUILD)/include -Ibpf -Itools $< $(filter-out tools/hmmtrace.c,$(HMMTRACE_SOURCES)) \
		-o $@ $(LIBBPF_LIBS) -lm -lpthread

driver: $(DRIVER) $(DRIVER_WITHOUT_BTF)

$(DRIVER): $(DRIVER_SOURCES) $(KERNEL_DIRECTORY)/kernel.release
	mkdir -p $(@D)
	cp $(DRIVER_SOURCES) $(@D)/
	$(MAKE) -C $$(cat $(KERNEL_DIRECTORY)/build-tree) M=$(abspath $(@D)) modules

$(DRIVER_WITHOUT_BTF): $(DRIVER)
	mkdir -p $(@D)
	objcopy --remove-section=.BTF $< $@

# hmmtrace. STATIC=1 links libbpf and what it needs (libelf, zlib, and zstd
# where libelf uses it: pkg-config says) into one self-contained binary, in
# its own directory so that toggling STATIC rebuilds.
#
# export serves HTTP with libmicrohttpd. Debian builds it with GnuTLS,
# whose p11-kit has no static library, so the static binary has no HTTP
# server: its export writes node_exporter's textfile (--textfile) only.
#
# SANITIZE=1 builds it with AddressSanitizer (and LeakSanitizer, which comes
# with it) and UndefinedBehaviorSanitizer, which aborts on the first report,
# into build/sanitize/hmmtrace: what tests/lab/test-hmmtrace-sanitized.sh and
# tests/host/test-hmmtrace-argv-fuzz.sh run. Their runtimes are gcc's
# (libasan8, libubsan1).
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
DEBIAN_PACKAGES += libasan8 libubsan1
ifeq ($(STATIC)$(SANITIZE),11)
$(error SANITIZE=1 and STATIC=1 do not go together: the sanitizers' runtimes are shared libraries)
endif
ifeq ($(STATIC),1)
HMMTRACE := $(BUILD)/static/hmmtrace
HMMTRACE_LIBS := -static $(shell pkg-config --static --libs libbpf) -lm -lpthread
HMMTRACE_FLAGS :=
else
HMMTRACE := $(BUILD)/hmmtrace
HMMTRACE_LIBS := $(LIBBPF_LIBS) $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd) \
	-lm -lpthread
HMMTRACE_FLAGS := -DHMMTRACE_HTTP
endif
ifeq ($(SANITIZE),1)
HMMTRACE := $(BUILD)/sanitize/hmmtrace
HMMTRACE_FLAGS += $(SANITIZE_FLAGS)
endif

# The sanitizers' positive control, built with the same flags beside it.
SANITIZER_CONTROL := $(BUILD)/sanitize/sanitizer-control

hmmtrace: $(HMMTRACE) $(if $(filter 1,$(SANITIZE)),$(SANITIZER_CONTROL))

$(SANITIZER_CONTROL): tests/unit/sanitizer_control.c
	mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE_FLAGS) $< -o $@

# The flame graph page of `hmmtrace causes --html` inlines d3 and
# d3-flame-graph (tools/README.md, "Flame graphs"): the npm packages pinned
# in tools/flamegraph/package-lock.json, installed with `npm ci` into
# build/flamegraph/node_modules and their three files copied beside it with
# a LICENSES note, rebuilt only when the pins change. hmmtrace itself does
# not need them (it says so when --html finds none), so `make hmmtrace`
# needs no npm; `make install` installs them when they were built.
# FLAMEGRAPH_ASSETS is where install takes them from. The renderer test
# program (one of TEST_PROGRAMS) writes a page from folded stacks on stdin.
FLAMEGRAPH_ASSETS := $(BUILD)/flamegraph
FLAMEGRAPH_FILES := d3.min.js d3-flamegraph.min.js d3-flamegraph.css LICENSES
FLAMEGRAPH_BUILT := $(addprefix $(BUILD)/flamegraph/,$(FLAMEGRAPH_FILES))
# npm comes with the machine's Node.js where it has one (Debian's npm would
# conflict with it); Debian's otherwise.
DEBIAN_PACKAGES += chromium $(if $(shell command -v npm),,npm)
.PHONY: flamegraph-assets

flamegraph-assets: $(FLAMEGRAPH_BUILT)

$(FLAMEGRAPH_BUILT) &: tools/flamegraph/package.json tools/flamegraph/package-lock.json \
		tools/flamegraph/build-assets.sh
	tools/flamegraph/build-assets.sh $(BUILD)/flamegraph

$(BUILD)/tests/flamegraph_render: tests/unit/flamegraph_render.c tools/flamegraph.c tools/flamegraph.h \
		tools/json_writer.c tools/json_writer.h tools/format.c tools/format.h tools/grow.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itools tests/unit/flamegraph_render.c tools/flamegraph.c tools/json_writer.c \
		tools/format.c -o $@ -lm

# The committed vmlinux.h comes from the patched kernel's BTF: it has the
# btf_trace_* typedefs of our tracepoints, and CO-RE relocates it on any
# other kernel. tests/host/test-vmlinux-header.sh checks it is current.
PATCHED_KERNEL := $(HMMTRACE_CACHE)/$(KERNEL_SOURCE_VERSION)/patched

vmlinux-header:
	bpf/vmlinux/generate.sh $(PATCHED_KERNEL) >$(VMLINUX_HEADER).partial || \
		{ rm -f $(VMLINUX_HEADER).partial; exit 1; }
	mv $(VMLINUX_HEADER).partial $(VMLINUX_HEADER)

$(BUILD)/include/hmmtrace_events.h: tracepoints/events.json tracepoints/catalog.py | $(BUILD)/include
	python3 tracepoints/catalog.py header >$@

# The model's row fields: tools/fields.json is their one description; and
# the exporter's metrics, made of them: tools/metrics.json.
$(BUILD)/include/hmmtrace_fields.h: tools/fields.json tools/fields.py | $(BUILD)/include
	python3 tools/fields.py header >$@.partial
	mv $@.partial $@

# The syscall names causes shows, from Debian's linux-libc-dev (build-essential).
SYSCALL_HEADER ?= /usr/include/x86_64-linux-gnu/asm/unistd_64.h

$(BUILD)/include/hmmtrace_syscalls.h: $(SYSCALL_HEADER) tools/syscalls.py | $(BUILD)/include
	python3 tools/syscalls.py $(SYSCALL_HEADER) >$@.partial
	mv $@.partial $@

$(BUILD)/include/hmmtrace_metrics.h: tools/metrics.json tools/fields.json tools/fields.py | $(BUILD)/include
	python3 tools/fields.py metrics-header >$@.partial
	mv $@.partial $@

# The BPF side: layers in bpf/*.bpf.h, one file per attach family
# (bpf/attach_*.bpf.c), linked into one object and one skeleton, as
# retsnoop links its parts.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HEADERS) $(VMLINUX_HEADER) \
		$(BUILD)/include/hmmtrace_events.h
	mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -I$(BUILD)/include -Ibpf -c $< -o $@

$(BUILD)/hmmtrace.bpf.o: $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(wildcard bpf/*.bpf.c))
	bpftool gen object $@ $^

$(BUILD)/include/hmmtrace.skel.h: $(BUILD)/hmmtrace.bpf.o
	bpftool gen skeleton $< name hmmtrace_bpf >$@

$(HMMTRACE): $(HMMTRACE_SOURCES) $(wildcard tools/*.h) bpf/hmmtrace.h bpf/handlers.h \
		$(BUILD)/include/hmmtrace.skel.h $(BUILD)/include/hmmtrace_events.h \
		$(BUILD)/include/hmmtrace_fields.h $(BUILD)/include/hmmtrace_metrics.h \
		$(BUILD)/include/hmmtrace_syscalls.h
	mkdir -p $(@D)
	$(CC) $(CFLAGS) $(HMMTRACE_FLAGS) -I$(BUILD)/include -Ibpf -Itools $(HMMTRACE_SOURCES) -o $@ \
		$(HMMTRACE_LIBS)

# Installing, under PREFIX with the paths the FHS and Debian expect; DESTDIR
# stages the tree (a package build, tests/host/test-install.sh). hmmtrace
# needs CAP_BPF, so it is an administrator's tool: sbin. The exporter's
# systemd unit goes in SYSTEMD_UNIT_DIR (systemd reads
# /usr/local/lib/systemd/system as well as /usr/lib/systemd/system), and
# reads its options from SYSCONF_DIR/default/hmmtrace-export (/etc for
# PREFIX=/usr), which is the administrator's and not installed. The Grafana
# dashboard and the Prometheus rules are data that an administrator points
# the servers at: HMMTRACE_DATA_DIR/grafana and HMMTRACE_DATA_DIR/prometheus.
# The flame graph assets, when built (make flamegraph-assets), go in
# HMMTRACE_DATA_DIR/flamegraph, where hmmtrace looks for them.
# Each file installed is in INSTALLED, which uninstall removes; it leaves
# the directories, which other packages share.
PREFIX ?= /usr/local
SBIN_DIR := $(PREFIX)/sbin
DATA_DIR := $(PREFIX)/share
MAN8_DIR := $(DATA_DIR)/man/man8
HMMTRACE_DATA_DIR := $(DATA_DIR)/hmmtrace
SYSTEMD_UNIT_DIR := $(PREFIX)/lib/systemd/system
SYSCONF_DIR := $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNIT := $(SYSTEMD_UNIT_DIR)/hmmtrace-export.service
DASHBOARD := $(HMMTRACE_DATA_DIR)/grafana/hmmtrace.json
RULES := $(HMMTRACE_DATA_DIR)/prometheus/hmmtrace-rules.yml
INSTALLED := $(SBIN_DIR)/hmmtrace $(MAN8_DIR)/hmmtrace.8 $(UNIT) $(DASHBOARD) $(RULES)
FLAMEGRAPH_DATA_DIR := $(HMMTRACE_DATA_DIR)/flamegraph
INSTALLED += $(addprefix $(FLAMEGRAPH_DATA_DIR)/,$(FLAMEGRAPH_FILES))

install: $(HMMTRACE) tools/hmmtrace.8 dist/systemd/hmmtrace-export.service.in \
		dashboards/grafana/hmmtrace.json dashboards/prometheus/hmmtrace-rules.yml
	install -d $(DESTDIR)$(SBIN_DIR) $(DESTDIR)$(MAN8_DIR) $(DESTDIR)$(SYSTEMD_UNIT_DIR) \
		$(DESTDIR)$(dir $(DASHBOARD)) $(DESTDIR)$(dir $(RULES))
	install -m 0755 $(HMMTRACE) $(DESTDIR)$(SBIN_DIR)/hmmtrace
	install -m 0644 tools/hmmtrace.8 $(DESTDIR)$(MAN8_DIR)/hmmtrace.8
	sed -e 's|@SBIN_DIR@|$(SBIN_DIR)|g' -e 's|@SYSCONF_DIR@|$(SYSCONF_DIR)|g' \
		dist/systemd/hmmtrace-export.service.in >$(DESTDIR)$(UNIT).partial
	chmod 0644 $(DESTDIR)$(UNIT).partial
	mv $(DESTDIR)$(UNIT).partial $(DESTDIR)$(UNIT)
	install -m 0644 dashboards/grafana/hmmtrace.json $(DESTDIR)$(DASHBOARD)
	install -m 0644 dashboards/prometheus/hmmtrace-rules.yml $(DESTDIR)$(RULES)
	if (cd $(FLAMEGRAPH_ASSETS) && ls $(FLAMEGRAPH_FILES)) >/dev/null 2>&1; then \
		install -d $(DESTDIR)$(FLAMEGRAPH_DATA_DIR) && \
		install -m 0644 $(addprefix $(FLAMEGRAPH_ASSETS)/,$(FLAMEGRAPH_FILES)) $(DESTDIR)$(FLAMEGRAPH_DATA_DIR)/; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

$(BUILD)/include:
	mkdir -p $@

$(BUILD)/tests:
	mkdir -p $@
.SECONDARY:
