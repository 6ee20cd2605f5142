# Go from /usr/local/go when it is not on PATH (README: "at /usr/local/go or on PATH").
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
# urfave_cli_no_docs leaves out urfave/cli's man-page generator (blackfriday),
# whose package init costs every vmctr process, init included, about 0.3 ms
# (docs/performance.md).
TAGS ?= seccomp urfave_cli_no_docs
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: all vmctr install uninstall test deps vet unit e2e test-compat test-conformance clean
all: vmctr _output/vmctr-init

# hack/build-vmctr.sh is how every part of the tree builds vmctr (static
# unless STATIC=0).
vmctr:
	TAGS="$(TAGS)" VERSION="$(VERSION)" COMMIT="$(COMMIT)" GO="$(GO)" bash hack/build-vmctr.sh vmctr

# The init program of built containers (vmctr build): static, so that it
# needs nothing from the container. vmctr finds it in _output/ beside itself.
CC ?= gcc
_output/vmctr-init: rootfs/init/vmctr-init.c
	@mkdir -p _output
	$(CC) -static -Os -s -Wall -Wextra -Werror -o $@ $<

# vmctr finds its init in ../libexec/vmctr/ beside its own directory.
PREFIX ?= /usr/local
install: all
	install -D -m 0755 vmctr $(DESTDIR)$(PREFIX)/bin/vmctr
	install -D -m 0755 _output/vmctr-init $(DESTDIR)$(PREFIX)/libexec/vmctr/vmctr-init

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vmctr $(DESTDIR)$(PREFIX)/libexec/vmctr/vmctr-init
	-rmdir $(DESTDIR)$(PREFIX)/libexec/vmctr

# --- tests (docs/testing.md) ------------------------------------------------
# `make test` is what CI runs (.ci/run), as root: missing packages, vet,
# unit tests (no root needed; fuzz targets run their seed corpus), end-to-end
# tests that start real containers with a freshly built vmctr, then the
# compatibility suites. Not root: the e2e tests skip themselves.
GO_TEST_FLAGS ?= -count=1
# e2e tests mostly wait for containers: run more of them than there are CPUs.
E2E_PARALLEL ?= 8
# A subset: make e2e E2E_RUN='TestE2EExec|TestE2EHooks'
E2E_RUN ?= ^TestE2E

test: deps vet unit e2e test-compat

# Debian packages the tests need and the machine lacks (hack/deps.sh; only
# as root, and a no-op when everything is there).
deps:
	@if [ "$$(id -u)" = 0 ]; then bash hack/deps.sh; else echo "deps: not root: not installing packages"; fi

vet:
	$(GO) vet -tags "$(TAGS)" ./...

# -race: the lock and store tests run goroutines against each other.
UNIT_FLAGS ?= -race
unit:
	$(GO) test -tags "$(TAGS)" -short $(UNIT_FLAGS) $(GO_TEST_FLAGS) ./...

e2e:
	VMCTR_BUILD_TAGS="$(TAGS)" $(GO) test -tags "$(TAGS)" $(GO_TEST_FLAGS) -timeout 30m \
		-parallel $(E2E_PARALLEL) -run '$(E2E_RUN)' ./cmd/vmctr/

# Client compatibility suites (hack/compat/, owned with the client work),
# each run with ./vmctr as its argument; they skip themselves (exit 0) when
# their client is not installed. Add new suites to this list.
COMPAT_TESTS ?= hack/compat/podman.sh hack/compat/containerd.sh hack/runc-compat.sh
# The OCI runtime-tools suite needs its runner (../shared/tools beside the
# repository, or OCI_VALIDATION_SH); without it test-conformance says so and
# passes.
OCI_VALIDATION_SH ?= $(abspath $(CURDIR)/../shared/tools/oci-validation.sh)
test-compat: vmctr
	@set -e; for s in $(COMPAT_TESTS); do echo "== $$s"; bash $$s $(CURDIR)/vmctr; done
	@$(MAKE) --no-print-directory test-conformance

test-conformance: vmctr
	@if [ -x "$(OCI_VALIDATION_SH)" ]; then \
		echo "== hack/conformance.sh"; OCI_VALIDATION_SH="$(OCI_VALIDATION_SH)" bash hack/conformance.sh $(CURDIR)/vmctr; \
	else \
		echo "== hack/conformance.sh: skipped, no OCI runtime-tools runner at $(OCI_VALIDATION_SH)"; \
	fi

clean:
	rm -f vmctr _output/vmctr-init
