GO ?= go
# urfave_cli_no_docs leaves out urfave/cli's man-page generator (blackfriday),
# whose package init costs every vmctr process, init included, about 0.3 ms
# (docs/performance.md).
TAGS ?= seccomp urfave_cli_no_docs
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all vmctr test unit e2e clean
all: vmctr _output/vmctr-init

vmctr:
	$(GO) build -tags "$(TAGS)" -ldflags "-X main.version=$(VERSION)" -o vmctr ./cmd/vmctr

# The init program of built containers (vmctr build): static, so that it
# needs nothing from the container. vmctr finds it in _output/ beside itself.
CC ?= gcc
_output/vmctr-init: rootfs/init/vmctr-init.c
	@mkdir -p _output
	$(CC) -static -Os -s -Wall -Wextra -Werror -o $@ $<

clean:
	rm -f vmctr _output/vmctr-init
