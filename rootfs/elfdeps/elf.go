package elfdeps

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strings"
)

// arch is what the dynamic loader compares before it accepts an object.
type arch struct {
	Machine elf.Machine
	Class   elf.Class
	Data    elf.Data
}

func (a arch) String() string {
	bits := "32-bit"
	if a.Class == elf.ELFCLASS64 {
		bits = "64-bit"
	}
	end := "LE"
	if a.Data == elf.ELFDATA2MSB {
		end = "BE"
	}
	return fmt.Sprintf("%s %s %s", strings.TrimPrefix(a.Machine.String(), "EM_"), bits, end)
}

// hostArch is the native ELF arch of the machine vmctr runs on.
func hostArch() arch {
	switch runtime.GOARCH {
	case "amd64":
		return arch{elf.EM_X86_64, elf.ELFCLASS64, elf.ELFDATA2LSB}
	case "386":
		return arch{elf.EM_386, elf.ELFCLASS32, elf.ELFDATA2LSB}
	case "arm64":
		return arch{elf.EM_AARCH64, elf.ELFCLASS64, elf.ELFDATA2LSB}
	case "arm":
		return arch{elf.EM_ARM, elf.ELFCLASS32, elf.ELFDATA2LSB}
	case "ppc64le":
		return arch{elf.EM_PPC64, elf.ELFCLASS64, elf.ELFDATA2LSB}
	case "s390x":
		return arch{elf.EM_S390, elf.ELFCLASS64, elf.ELFDATA2MSB}
	case "riscv64":
		return arch{elf.EM_RISCV, elf.ELFCLASS64, elf.ELFDATA2LSB}
	}
	return arch{}
}

// runnable reports whether this host's kernel can execute a, natively or
// through its 32-bit compat layer.
func (h arch) runnable(a arch) bool {
	if a == h {
		return true
	}
	switch {
	case h.Machine == elf.EM_X86_64 && h.Class == elf.ELFCLASS64:
		return a.Data == elf.ELFDATA2LSB && (a.Machine == elf.EM_386 && a.Class == elf.ELFCLASS32 ||
			a.Machine == elf.EM_X86_64 && a.Class == elf.ELFCLASS32) // i386, x32
	case h.Machine == elf.EM_AARCH64:
		return a.Machine == elf.EM_ARM && a.Class == elf.ELFCLASS32 && a.Data == h.Data
	case h.Machine == elf.EM_S390:
		return a.Machine == elf.EM_S390 && a.Data == h.Data
	}
	return false
}

// triplet is the Debian multiarch directory name for a.
func (a arch) triplet() string {
	switch a.Machine {
	case elf.EM_X86_64:
		if a.Class == elf.ELFCLASS32 {
			return "x86_64-linux-gnux32"
		}
		return "x86_64-linux-gnu"
	case elf.EM_386:
		return "i386-linux-gnu"
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case elf.EM_ARM:
		return "arm-linux-gnueabihf"
	case elf.EM_PPC64:
		if a.Data == elf.ELFDATA2LSB {
			return "powerpc64le-linux-gnu"
		}
		return "powerpc64-linux-gnu"
	case elf.EM_S390:
		return "s390x-linux-gnu"
	case elf.EM_RISCV:
		return "riscv64-linux-gnu"
	case elf.EM_MIPS:
		if a.Class == elf.ELFCLASS64 {
			return "mips64el-linux-gnuabi64"
		}
		return "mipsel-linux-gnu"
	}
	return ""
}

// platform is what ld.so substitutes for $PLATFORM (the kernel's AT_PLATFORM).
func (a arch) platform() string {
	switch a.Machine {
	case elf.EM_X86_64:
		return "x86_64"
	case elf.EM_386:
		return "i686"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_ARM:
		return "v7l"
	case elf.EM_PPC64:
		return "power9"
	case elf.EM_S390:
		return "z13"
	case elf.EM_RISCV:
		return "riscv64"
	}
	return ""
}

// hwcapsSubdirs are the glibc-hwcaps subdirectories ld.so (glibc >= 2.33)
// searches in every library directory, best first.
func (a arch) hwcapsSubdirs() []string {
	switch {
	case a.Machine == elf.EM_X86_64 && a.Class == elf.ELFCLASS64:
		return []string{"x86-64-v4", "x86-64-v3", "x86-64-v2"}
	case a.Machine == elf.EM_PPC64 && a.Data == elf.ELFDATA2LSB:
		return []string{"power10", "power9"}
	case a.Machine == elf.EM_S390:
		return []string{"z16", "z15", "z14", "z13"}
	}
	return nil
}

// elfObj is what discovery needs from one ELF file. Values are shared between
// goroutines once built and never modified.
type elfObj struct {
	arch
	Type       elf.Type
	Interp     string   // PT_INTERP
	Needed     []string // DT_NEEDED, in order
	RPath      []string // DT_RPATH, split at ':'
	RunPath    []string // DT_RUNPATH, split at ':'
	HasRunPath bool
	Soname     string
	NoDefLib   bool // DF_1_NODEFLIB: no ld.so.cache, no default dirs
	Dynamic    bool // has PT_DYNAMIC
	Go         bool // built by the Go toolchain
}

var elfMagic = []byte("\x7fELF")

const (
	// pathMax is Linux's PATH_MAX, terminating NUL included: a longer
	// DT_NEEDED, DT_SONAME, DT_RPATH or DT_RUNPATH string (or ld.so.cache
	// string) is a corrupt file, not a name ld.so could use.
	pathMax = 4096
	// maxNeeded bounds the DT_NEEDED entries of one object (real ones have
	// a few dozen at most).
	maxNeeded = 1024
)

// parseELF reads the ELF file f, the way ld.so reads it: from the program
// headers (PT_INTERP, PT_DYNAMIC and the string table found through the
// PT_LOAD segments), so stripped section headers do not matter. Sections are
// only consulted to recognise Go binaries.
func parseELF(f io.ReaderAt) (*elfObj, error) {
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("truncated or corrupt ELF: %w", err)
	}
	o := &elfObj{
		arch: arch{ef.Machine, ef.Class, ef.Data},
		Type: ef.Type,
		Go:   ef.Section(".go.buildinfo") != nil || ef.Section(".note.go.buildid") != nil,
	}
	var dyn *elf.Prog
	for _, p := range ef.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			b := make([]byte, min(p.Filesz, 4096))
			if _, err := p.ReadAt(b, 0); err != nil && err != io.EOF {
				return nil, fmt.Errorf("truncated or corrupt ELF: reading PT_INTERP: %w", err)
			}
			o.Interp = string(bytes.TrimRight(b, "\x00"))
			if i := strings.IndexByte(o.Interp, 0); i >= 0 {
				o.Interp = o.Interp[:i]
			}
		case elf.PT_DYNAMIC:
			dyn = p
		}
	}
	if dyn == nil {
		return o, nil
	}
	o.Dynamic = true
	if err := o.readDynamic(ef, dyn, f); err != nil {
		return nil, fmt.Errorf("truncated or corrupt ELF: %w", err)
	}
	return o, nil
}

func (o *elfObj) readDynamic(ef *elf.File, dyn *elf.Prog, f io.ReaderAt) error {
	if dyn.Filesz > 1<<20 {
		return fmt.Errorf("PT_DYNAMIC of %d bytes", dyn.Filesz)
	}
	data := make([]byte, dyn.Filesz)
	if _, err := dyn.ReadAt(data, 0); err != nil && err != io.EOF {
		return fmt.Errorf("reading PT_DYNAMIC: %w", err)
	}
	bo := ef.ByteOrder
	entsz := 16
	if ef.Class == elf.ELFCLASS32 {
		entsz = 8
	}
	var (
		needed                 []uint64
		soname, rpath, runpath uint64
		haveSoname, haveRPath  bool
		haveRunPath            bool
		strtab, strsz          uint64
		haveStrtab             bool
	)
	for i := 0; i+entsz <= len(data); i += entsz {
		var tag, val uint64
		if entsz == 16 {
			tag, val = bo.Uint64(data[i:]), bo.Uint64(data[i+8:])
		} else {
			tag, val = uint64(int64(int32(bo.Uint32(data[i:])))), uint64(bo.Uint32(data[i+4:]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			i = len(data)
		case elf.DT_NEEDED:
			if len(needed) == maxNeeded {
				return fmt.Errorf("more than %d DT_NEEDED entries", maxNeeded)
			}
			needed = append(needed, val)
		case elf.DT_SONAME:
			soname, haveSoname = val, true
		case elf.DT_RPATH:
			rpath, haveRPath = val, true
		case elf.DT_RUNPATH:
			runpath, haveRunPath = val, true
		case elf.DT_STRTAB:
			strtab, haveStrtab = val, true
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_FLAGS_1:
			o.NoDefLib = val&uint64(elf.DF_1_NODEFLIB) != 0
		}
	}
	if !haveStrtab {
		if len(needed) > 0 || haveSoname || haveRPath || haveRunPath {
			return fmt.Errorf("dynamic section without DT_STRTAB")
		}
		return nil
	}
	off, ok := vaddrToOffset(ef, strtab)
	if !ok {
		return fmt.Errorf("DT_STRTAB %#x is in no PT_LOAD segment", strtab)
	}
	if strsz == 0 || strsz > 64<<20 {
		return fmt.Errorf("DT_STRSZ %d", strsz)
	}
	// The table must be in the file, but only the strings used are read,
	// each within a window of pathMax bytes: a file cannot make discovery
	// read, or copy, long strings (many DT_NEEDED at one huge string).
	var last [1]byte
	if n, err := f.ReadAt(last[:], int64(off+strsz-1)); err != nil && !(err == io.EOF && n == 1) {
		if err == io.EOF {
			return fmt.Errorf("the dynamic string table (%d bytes at offset %d) ends beyond the end of the file", strsz, off)
		}
		return fmt.Errorf("reading the dynamic string table: %w", err)
	}
	buf := make([]byte, pathMax)
	str := func(tag string, i uint64) (string, error) {
		if i >= strsz {
			return "", fmt.Errorf("%s: dynamic string offset %d beyond DT_STRSZ %d", tag, i, strsz)
		}
		w := buf[:min(strsz-i, pathMax)]
		if n, err := f.ReadAt(w, int64(off+i)); err != nil && !(err == io.EOF && n == len(w)) {
			return "", fmt.Errorf("reading the dynamic string table: %w", err)
		}
		j := bytes.IndexByte(w, 0)
		switch {
		case j >= 0:
			w = w[:j]
		case len(w) == pathMax:
			return "", fmt.Errorf("%s: a string of %d bytes or more (PATH_MAX)", tag, pathMax)
		}
		return string(w), nil
	}
	for _, n := range needed {
		s, err := str("DT_NEEDED", n)
		if err != nil {
			return err
		}
		o.Needed = append(o.Needed, s)
	}
	var err error
	if haveSoname {
		if o.Soname, err = str("DT_SONAME", soname); err != nil {
			return err
		}
	}
	if haveRPath {
		s, err := str("DT_RPATH", rpath)
		if err != nil {
			return err
		}
		o.RPath = splitPathList(s)
	}
	if haveRunPath {
		s, err := str("DT_RUNPATH", runpath)
		if err != nil {
			return err
		}
		o.RunPath, o.HasRunPath = splitPathList(s), true
	}
	return nil
}

func vaddrToOffset(ef *elf.File, va uint64) (uint64, bool) {
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && va >= p.Vaddr && va < p.Vaddr+p.Filesz {
			return va - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

func splitPathList(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// elfIdent reads the arch from the first bytes of a file, for a quick check
// without a full parse. ok is false if head is not an ELF header.
func elfIdent(head []byte) (a arch, ok bool) {
	if len(head) < 20 || !bytes.Equal(head[:4], elfMagic) {
		return arch{}, false
	}
	a.Class, a.Data = elf.Class(head[4]), elf.Data(head[5])
	var bo binary.ByteOrder = binary.LittleEndian
	if a.Data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	a.Machine = elf.Machine(bo.Uint16(head[18:]))
	return a, true
}
