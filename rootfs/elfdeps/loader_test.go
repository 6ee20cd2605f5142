package elfdeps

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The host's cache parses to what ldconfig -p prints.
func TestParseLDCacheHost(t *testing.T) {
	b, err := os.ReadFile("/etc/ld.so.cache")
	if err != nil {
		t.Skip("no /etc/ld.so.cache on this host")
	}
	out, err := exec.Command("ldconfig", "-p").Output()
	if err != nil {
		t.Skipf("ldconfig -p: %v", err)
	}
	m, err := parseLDCache(b)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n")[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(l), " => ")
		if !ok {
			continue
		}
		key = strings.Fields(key)[0]
		n++
		if !slices.Contains(m[key], val) {
			t.Errorf("cache entry %s => %s missing (got %q)", key, val, m[key])
		}
	}
	if n == 0 {
		t.Fatal("ldconfig -p printed nothing")
	}
}

// buildLDCache writes a cache in the new format, optionally behind an old table.
func buildLDCache(old bool, entries [][2]string) []byte {
	le := binary.LittleEndian
	var strs bytes.Buffer
	hdr := 48 + 24*len(entries)
	type ent struct{ k, v uint32 }
	var es []ent
	for _, e := range entries {
		k := uint32(hdr + strs.Len())
		strs.WriteString(e[0] + "\x00")
		v := uint32(hdr + strs.Len())
		strs.WriteString(e[1] + "\x00")
		es = append(es, ent{k, v})
	}
	var nb bytes.Buffer
	nb.WriteString(ldCacheMagicNew)
	binary.Write(&nb, le, uint32(len(entries)))
	binary.Write(&nb, le, uint32(strs.Len()))
	nb.Write([]byte{2, 0, 0, 0}) // flags: little-endian
	nb.Write(make([]byte, 4+12)) // extension offset, unused
	for _, e := range es {
		binary.Write(&nb, le, int32(0x0303))
		binary.Write(&nb, le, e.k)
		binary.Write(&nb, le, e.v)
		binary.Write(&nb, le, uint32(0))
		binary.Write(&nb, le, uint64(0))
	}
	nb.Write(strs.Bytes())
	if !old {
		return nb.Bytes()
	}
	var ob bytes.Buffer
	ob.WriteString(ldCacheMagicOld + "\x00")
	binary.Write(&ob, le, uint32(1))
	ob.Write(make([]byte, 12)) // one old entry
	for ob.Len()%8 != 0 {
		ob.WriteByte(0)
	}
	ob.Write(nb.Bytes())
	return ob.Bytes()
}

func TestParseLDCache(t *testing.T) {
	entries := [][2]string{
		{"libfoo.so.1", "/opt/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1"},
		{"libfoo.so.1", "/opt/lib/libfoo.so.1"},
		{"libbar.so.2", "/usr/lib/libbar.so.2"},
	}
	for _, old := range []bool{false, true} {
		m, err := parseLDCache(buildLDCache(old, entries))
		if err != nil {
			t.Fatalf("old=%v: %v", old, err)
		}
		if got := m["libfoo.so.1"]; !slices.Equal(got, []string{entries[0][1], entries[1][1]}) {
			t.Errorf("old=%v: libfoo.so.1 => %q", old, got)
		}
		if got := m["libbar.so.2"]; !slices.Equal(got, []string{"/usr/lib/libbar.so.2"}) {
			t.Errorf("old=%v: libbar.so.2 => %q", old, got)
		}
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a cache at all, not a cache at all, not a cache at all"),
		"truncated": buildLDCache(false, entries)[:60],
	} {
		if _, err := parseLDCache(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestParseLDConf(t *testing.T) {
	r := newFakeRoot(t)
	r.file("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n/opt/a:/opt/b, /opt/c\n", 0o644)
	r.file("/etc/ld.so.conf.d/10-x.conf", "# comment\n/usr/local/lib\ninclude more/*.conf\nhwcap 0 nosegneg\n", 0o644)
	r.file("/etc/ld.so.conf.d/more/y.conf", "/srv/lib=ELF\n", 0o644)
	r.file("/etc/ld.so.conf.d/20-y.conf", "/opt/x86\n", 0o644)
	r.file("/etc/ld.so.conf.d/.hidden.conf", "/hidden\n", 0o644)
	r.file("/etc/ld.so.conf.d/skip.txt", "/skip\n", 0o644)
	rfs, err := openRoot(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.close()
	d := &discoverer{fs: rfs}
	got := d.parseLDConf("/etc/ld.so.conf", 0, map[string]bool{})
	want := []string{"/usr/local/lib", "/srv/lib", "/opt/x86", "/opt/a", "/opt/b", "/opt/c"}
	if !slices.Equal(got, want) {
		t.Errorf("dirs %q, want %q", got, want)
	}
}

func TestExpandDST(t *testing.T) {
	r := newFakeRoot(t).merged()
	rfs, err := openRoot(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.close()
	d := &discoverer{fs: rfs}
	a := arch{elf.EM_X86_64, elf.ELFCLASS64, elf.ELFDATA2LSB}
	for in, want := range map[string]string{
		"$ORIGIN/../lib":       "/opt/app/bin/../lib",
		"${ORIGIN}/x":          "/opt/app/bin/x",
		"/opt/$LIB/foo":        "/opt/lib/x86_64-linux-gnu/foo",
		"/opt/${PLATFORM}/foo": "/opt/x86_64/foo",
		"/plain":               "/plain",
		"$UNKNOWN/x":           "$UNKNOWN/x",
	} {
		if got := d.expandDST(in, "/opt/app/bin", a); got != want {
			t.Errorf("expandDST(%s) = %s, want %s", in, got, want)
		}
	}
	// Without a multiarch directory, $LIB is lib64 (Red Hat layout).
	r2 := newFakeRoot(t)
	rfs2, err := openRoot(r2.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs2.close()
	d2 := &discoverer{fs: rfs2}
	if got := d2.expandDST("/$LIB", "/", a); got != "/lib64" {
		t.Errorf("$LIB without multiarch = %s", got)
	}
}

func TestParseShebang(t *testing.T) {
	tests := []struct{ in, interp, arg, prog string }{
		{"#!/bin/sh\necho", "/bin/sh", "", ""},
		{"#! /usr/bin/python3 -u\n", "/usr/bin/python3", "-u", ""},
		{"#!/usr/bin/env python3\n", "/usr/bin/env", "python3", "python3"},
		{"#!/usr/bin/env -S python3 -u -X dev\n", "/usr/bin/env", "-S python3 -u -X dev", "python3"},
		{"#!/usr/bin/env -Spython3 -u\n", "/usr/bin/env", "-Spython3 -u", "python3"},
		{"#!/usr/bin/env -i PYTHONPATH=/x -u FOO perl -w\r\n", "/usr/bin/env", "-i PYTHONPATH=/x -u FOO perl -w", "perl"},
		{"#!/usr/bin/env -- node\n", "/usr/bin/env", "-- node", "node"},
		{"#!\t/bin/bash\t-e \n", "/bin/bash", "-e", ""},
		{"#!\n", "", "", ""},
	}
	for _, tt := range tests {
		interp, arg := parseShebang([]byte(tt.in))
		if interp != tt.interp || arg != tt.arg {
			t.Errorf("parseShebang(%q) = %q, %q; want %q, %q", tt.in, interp, arg, tt.interp, tt.arg)
		}
		if prog := envProgram(arg); tt.prog != "" && prog != tt.prog {
			t.Errorf("envProgram(%q) = %q, want %q", arg, prog, tt.prog)
		}
	}
}

func TestNSSServices(t *testing.T) {
	conf := `# comment
passwd:         files systemd
group:          files [SUCCESS=merge] systemd
hosts:          files mdns4_minimal [NOTFOUND=return] dns myhostname
netgroup:       nis
shadow: files [ !UNAVAIL=return ] sss # trailing
`
	want := []string{"files", "systemd", "mdns4_minimal", "dns", "myhostname", "nis", "sss"}
	if got := nssServices([]byte(conf)); !slices.Equal(got, want) {
		t.Errorf("services %q, want %q", got, want)
	}
}

func TestArch(t *testing.T) {
	x64 := arch{elf.EM_X86_64, elf.ELFCLASS64, elf.ELFDATA2LSB}
	for a, want := range map[arch]bool{
		x64: true,
		{elf.EM_386, elf.ELFCLASS32, elf.ELFDATA2LSB}:     true,
		{elf.EM_X86_64, elf.ELFCLASS32, elf.ELFDATA2LSB}:  true,
		{elf.EM_AARCH64, elf.ELFCLASS64, elf.ELFDATA2LSB}: false,
		{elf.EM_PPC64, elf.ELFCLASS64, elf.ELFDATA2MSB}:   false,
	} {
		if got := x64.runnable(a); got != want {
			t.Errorf("x86_64 host runs %s: %v, want %v", a, got, want)
		}
	}
	if got := (arch{elf.EM_386, elf.ELFCLASS32, elf.ELFDATA2LSB}).defaultDirs(); got[0] != "/lib/i386-linux-gnu" {
		t.Errorf("i386 default dirs %q", got)
	}
	if s := (arch{elf.EM_AARCH64, elf.ELFCLASS64, elf.ELFDATA2LSB}).String(); s != "AARCH64 64-bit LE" {
		t.Errorf("String() = %q", s)
	}
}

func TestParseELF(t *testing.T) {
	f, err := os.Open("/bin/ls")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	o, err := parseELF(f)
	if err != nil {
		t.Fatal(err)
	}
	if o.Interp == "" || !slices.Contains(o.Needed, "libc.so.6") || !o.Dynamic {
		t.Errorf("/bin/ls: %+v", o)
	}
	// A header for another machine parses (so it can be refused by arch).
	o, err = parseELF(bytes.NewReader(fakeELF(elf.EM_AARCH64, elf.ELFCLASS64, elf.ET_EXEC)))
	if err != nil {
		t.Fatal(err)
	}
	if o.Machine != elf.EM_AARCH64 || o.Dynamic {
		t.Errorf("fake aarch64: %+v", o)
	}
	// Truncated files do not.
	b, _ := os.ReadFile("/bin/ls")
	for _, n := range []int{20, 64, 200} {
		if _, err := parseELF(bytes.NewReader(b[:n])); err == nil {
			t.Errorf("parsed the first %d bytes of /bin/ls", n)
		}
	}
}
