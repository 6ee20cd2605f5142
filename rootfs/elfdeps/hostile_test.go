package elfdeps

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// Hostile source roots: files crafted to make discovery spend memory or
// time. Each test bounds what Discover allocates in total (TotalAlloc, so a
// short-lived huge allocation counts too).

const hostileAllocLimit = 100 << 20

// allocated runs fn and returns how many bytes it allocated.
func allocated(t *testing.T, fn func()) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	n := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB", n>>10)
	return n
}

// dynELF is a minimal ELF64 of the host's machine with one PT_LOAD that
// maps the whole file at address 0, a PT_DYNAMIC with nNeeded DT_NEEDED
// entries all at offset neededAt of strtab, and extra entries.
func dynELF(t *testing.T, nNeeded int, neededAt uint64, strtab []byte, extra ...elf.Dyn64) []byte {
	t.Helper()
	h := hostArch()
	if h.Class != elf.ELFCLASS64 || h.Data != elf.ELFDATA2LSB {
		t.Skipf("the test writes little-endian ELF64, this host is %s", h)
	}
	bo := binary.LittleEndian
	const ehsize, phsize = 64, 56
	dynOff := uint64(ehsize + 2*phsize)
	var dyn []elf.Dyn64
	for i := 0; i < nNeeded; i++ {
		dyn = append(dyn, elf.Dyn64{Tag: int64(elf.DT_NEEDED), Val: neededAt})
	}
	dyn = append(dyn, extra...)
	dynSize := uint64(len(dyn)+3) * 16
	strOff := dynOff + dynSize
	dyn = append(dyn,
		elf.Dyn64{Tag: int64(elf.DT_STRTAB), Val: strOff},
		elf.Dyn64{Tag: int64(elf.DT_STRSZ), Val: uint64(len(strtab))},
		elf.Dyn64{Tag: int64(elf.DT_NULL)})
	total := strOff + uint64(len(strtab))

	var b bytes.Buffer
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	binary.Write(&b, bo, elf.Header64{
		Ident: ident, Type: uint16(elf.ET_DYN), Machine: uint16(h.Machine), Version: uint32(elf.EV_CURRENT),
		Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: 2, Shentsize: 64,
	})
	binary.Write(&b, bo, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R),
		Off: 0, Vaddr: 0, Paddr: 0, Filesz: total, Memsz: total, Align: 0x1000})
	binary.Write(&b, bo, elf.Prog64{Type: uint32(elf.PT_DYNAMIC), Flags: uint32(elf.PF_R),
		Off: dynOff, Vaddr: dynOff, Paddr: dynOff, Filesz: dynSize, Memsz: dynSize, Align: 8})
	binary.Write(&b, bo, dyn)
	b.Write(strtab)
	if uint64(b.Len()) != total {
		t.Fatalf("dynELF: wrote %d bytes, want %d", b.Len(), total)
	}
	return b.Bytes()
}

// longStrtab is a string table whose string at offset 1 is n bytes of c.
func longStrtab(n int, c byte) []byte {
	return append(append([]byte{0}, bytes.Repeat([]byte{c}, n)...), 0)
}

func TestHostileELF(t *testing.T) {
	for _, tc := range []struct {
		name string
		elf  func(t *testing.T) []byte
		want string // in the error
	}{
		// 8 MB string, 200 DT_NEEDED at it: used 1.76 GB.
		{"long DT_NEEDED", func(t *testing.T) []byte { return dynELF(t, 200, 1, longStrtab(8<<20, 'a')) }, "DT_NEEDED: a string of 4096 bytes or more"},
		{"unterminated DT_NEEDED", func(t *testing.T) []byte { return dynELF(t, 1, 1, longStrtab(8<<20, 'a')[:8<<20]) }, "DT_NEEDED: a string of 4096 bytes or more"},
		{"too many DT_NEEDED", func(t *testing.T) []byte { return dynELF(t, 2000, 1, []byte("\x00libc.so.6\x00")) }, "more than 1024 DT_NEEDED"},
		{"long DT_RUNPATH", func(t *testing.T) []byte {
			return dynELF(t, 0, 0, longStrtab(1<<20, '/'), elf.Dyn64{Tag: int64(elf.DT_RUNPATH), Val: 1})
		}, "DT_RUNPATH: a string of 4096 bytes or more"},
		{"long DT_RPATH", func(t *testing.T) []byte {
			return dynELF(t, 0, 0, longStrtab(4096, '/'), elf.Dyn64{Tag: int64(elf.DT_RPATH), Val: 1})
		}, "DT_RPATH: a string of 4096 bytes or more"},
		{"long DT_SONAME", func(t *testing.T) []byte {
			return dynELF(t, 0, 0, longStrtab(1<<20, 's'), elf.Dyn64{Tag: int64(elf.DT_SONAME), Val: 1})
		}, "DT_SONAME: a string of 4096 bytes or more"},
		{"string table beyond the file", func(t *testing.T) []byte {
			b := dynELF(t, 1, 1, longStrtab(100, 'a'))
			return b[:len(b)-50]
		}, "ends beyond the end of the file"},
		{"huge string offset", func(t *testing.T) []byte {
			return dynELF(t, 0, 0, []byte("\x00"), elf.Dyn64{Tag: int64(elf.DT_SONAME), Val: 1 << 63})
		}, "offset 9223372036854775808 beyond DT_STRSZ 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRoot(t).merged()
			r.file("/usr/bin/evil", string(tc.elf(t)), 0o755)
			r.file("/opt/tree/evil.so", string(tc.elf(t)), 0o755)

			// An app: the build fails, naming the file.
			var err error
			n := allocated(t, func() { _, err = Discover(context.Background(), Options{Root: r.dir, Apps: []string{"/usr/bin/evil"}}) })
			wantErr(t, err, ErrUnreadable, "/usr/bin/evil", tc.want)
			if n > hostileAllocLimit {
				t.Errorf("app: Discover allocated %d MB", n>>20)
			}

			// A file in a --file tree: listed, its dependencies skipped.
			var files map[string]File
			n = allocated(t, func() { files, _ = discover(t, Options{Root: r.dir, Files: []string{"/opt/tree"}}) })
			if _, ok := files["/opt/tree/evil.so"]; !ok {
				t.Errorf("/opt/tree/evil.so not listed")
			}
			if n > hostileAllocLimit {
				t.Errorf("file: Discover allocated %d MB", n>>20)
			}
		})
	}
}

// Strings just under PATH_MAX and DT_NEEDED entries at the cap are parsed,
// cheaply: the string is read once per entry, in a bounded window.
func TestHostileELFAtLimits(t *testing.T) {
	r := newFakeRoot(t).merged()
	long := strings.Repeat("b", pathMax-1)
	r.file("/opt/tree/many.so", string(dynELF(t, maxNeeded, 1, []byte("\x00"+long+"\x00"+"/x:/y\x00"),
		elf.Dyn64{Tag: int64(elf.DT_RUNPATH), Val: uint64(len(long) + 2)},
		elf.Dyn64{Tag: int64(elf.DT_SONAME), Val: 1})), 0o755)
	b, err := os.ReadFile(r.host("/opt/tree/many.so"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseELF(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Needed) != maxNeeded || o.Needed[0] != long || o.Soname != long || !o.HasRunPath || strings.Join(o.RunPath, ":") != "/x:/y" {
		t.Errorf("parsed %d DT_NEEDED, soname of %d bytes, runpath %q", len(o.Needed), len(o.Soname), o.RunPath)
	}
	n := allocated(t, func() { discover(t, Options{Root: r.dir, Files: []string{"/opt/tree"}}) })
	if n > hostileAllocLimit {
		t.Errorf("Discover allocated %d MB", n>>20)
	}
}

// rawLDCache is a new-format cache header with entries (key, value
// offsets) followed by tail.
func rawLDCache(nlibs uint32, entries [][2]uint32, tail []byte) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString(ldCacheMagicNew)
	binary.Write(&b, le, nlibs)
	binary.Write(&b, le, uint32(len(tail)))
	b.Write([]byte{2, 0, 0, 0})
	b.Write(make([]byte, 4+12))
	for _, e := range entries {
		binary.Write(&b, le, int32(0x0303))
		binary.Write(&b, le, e[0])
		binary.Write(&b, le, e[1])
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, uint64(0))
	}
	b.Write(tail)
	return b.Bytes()
}

func hostileLDCaches() map[string]struct {
	b    []byte
	want string
} {
	caches := map[string]struct {
		b    []byte
		want string
	}{}
	// 300 entries at one 1 MB string starting with "/": used 420 MB.
	{
		n := 300
		hdr := uint32(48 + 24*n)
		tail := append([]byte("libx.so\x00/"), bytes.Repeat([]byte("a"), 1<<20)...)
		var es [][2]uint32
		for i := 0; i < n; i++ {
			es = append(es, [2]uint32{hdr, hdr + 8})
		}
		caches["long path"] = struct {
			b    []byte
			want string
		}{rawLDCache(uint32(n), es, append(tail, 0)), "no NUL within 4096 bytes"}
	}
	// 5000 entries at successive offsets of a 1.1 MB string: took 6 s.
	{
		n := 5000
		hdr := uint32(48 + 24*n)
		tail := bytes.Repeat([]byte("k"), 1100<<10)
		var es [][2]uint32
		for i := 0; i < n; i++ {
			es = append(es, [2]uint32{hdr + uint32(i), hdr + uint32(i)})
		}
		caches["unterminated strings"] = struct {
			b    []byte
			want string
		}{rawLDCache(uint32(n), es, tail), "no NUL within 4096 bytes"}
	}
	caches["too many entries"] = struct {
		b    []byte
		want string
	}{rawLDCache(maxLDCacheEntries+1, nil, make([]byte, 24*(maxLDCacheEntries+1))), "more than 65536"}
	{
		hdr := uint32(48 + 24*(maxLDCachePaths+1))
		var tail bytes.Buffer
		tail.WriteString("libx.so\x00")
		var es [][2]uint32
		for i := 0; i <= maxLDCachePaths; i++ {
			es = append(es, [2]uint32{hdr, hdr + uint32(tail.Len())})
			fmt.Fprintf(&tail, "/d%d/libx.so\x00", i)
		}
		caches["too many paths for a name"] = struct {
			b    []byte
			want string
		}{rawLDCache(uint32(len(es)), es, tail.Bytes()), "more than 256 paths"}
	}
	return caches
}

func TestHostileLDCache(t *testing.T) {
	for name, c := range hostileLDCaches() {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocated(t, func() { _, err = parseLDCache(c.b) })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if n > hostileAllocLimit {
				t.Errorf("parseLDCache allocated %d MB", n>>20)
			}
		})
	}

	// The largest cache accepted: every entry at one path just under
	// PATH_MAX costs one copy of the file, not one string per entry.
	n := maxLDCacheEntries
	hdr := uint32(48 + 24*n)
	tail := []byte("libx.so\x00/" + strings.Repeat("a", pathMax-2) + "\x00")
	es := make([][2]uint32, n)
	for i := range es {
		es[i] = [2]uint32{hdr, hdr + 8}
	}
	var m map[string][]string
	var err error
	alloc := allocated(t, func() { m, err = parseLDCache(rawLDCache(uint32(n), es, tail)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m["libx.so"]) != 1 || len(m["libx.so"][0]) != pathMax-1 {
		t.Errorf("libx.so => %d paths", len(m["libx.so"]))
	}
	if alloc > hostileAllocLimit {
		t.Errorf("parseLDCache allocated %d MB", alloc>>20)
	}
}

// A source root with a crafted ld.so.cache: discovery warns, uses the
// standard directories, and still finds an app's libraries.
func TestHostileLDCacheDiscover(t *testing.T) {
	needProgram(t, "/bin/true")
	hook := logtest.NewGlobal()
	defer hook.Reset()
	for name, c := range hostileLDCaches() {
		t.Run(name, func(t *testing.T) {
			hook.Reset()
			r := newFakeRoot(t).merged()
			r.installProgram("/bin/true", "/usr/bin/true")
			r.file("/etc/ld.so.cache", string(c.b), 0o644)
			var files map[string]File
			n := allocated(t, func() { files, _ = discover(t, Options{Root: r.dir, Apps: []string{"/usr/bin/true"}}) })
			if _, ok := files["/usr/lib/x86_64-linux-gnu/libc.so.6"]; !ok && runtime.GOARCH == "amd64" {
				t.Errorf("libc.so.6 not found in the default directories")
			}
			warned := false
			for _, e := range hook.AllEntries() {
				if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "/etc/ld.so.cache") && strings.Contains(e.Message, c.want) {
					warned = true
				}
			}
			if !warned {
				t.Errorf("no warning about /etc/ld.so.cache naming %q", c.want)
			}
			if n > hostileAllocLimit {
				t.Errorf("Discover allocated %d MB", n>>20)
			}
		})
	}
}
