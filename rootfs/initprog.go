package rootfs

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// hostMachine is the ELF machine of this build of vmctr.
var hostMachine = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"386":     elf.EM_386,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
}[runtime.GOARCH]

// loadInit reads the init program (vmctr-init) and checks that it can run
// in any container: a static executable for this machine, needing no
// loader and no library.
func loadInit(p string) ([]byte, error) {
	if p == "" {
		return nil, fmt.Errorf("%w: no init program given", ErrBadInit)
	}
	// A regular file of a sane size only: not a FIFO (reading waits),
	// not /dev/zero (reading never ends).
	f0, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInit, err)
	}
	defer f0.Close()
	if fi, err := f0.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<20 {
		return nil, fmt.Errorf("%w: %s is not a regular file of at most 64 MiB", ErrBadInit, p)
	}
	b, err := io.ReadAll(io.LimitReader(f0, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInit, err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not an ELF executable: %w", ErrBadInit, p, err)
	}
	defer f.Close()
	if f.Machine != hostMachine {
		return nil, fmt.Errorf("%w: %s is for %v, not this machine (%v)", ErrBadInit, p, f.Machine, hostMachine)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%w: %s is not an executable", ErrBadInit, p)
	}
	for _, pr := range f.Progs {
		if pr.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%w: %s is dynamically linked (it must be static: build it with make)", ErrBadInit, p)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return nil, fmt.Errorf("%w: %s needs shared libraries %v (it must be static)", ErrBadInit, p, libs)
	}
	return b, nil
}
