GO ?= go
TAGS ?= seccomp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: vmctr test unit e2e clean
vmctr:
	$(GO) build -tags "$(TAGS)" -ldflags "-X main.version=$(VERSION)" -o vmctr ./cmd/vmctr

clean:
	rm -f vmctr
