package container

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestSecureSpec(t *testing.T) {
	s, err := SecureSpec([]string{"CAP_CHOWN", "CAP_SETUID"})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Process.Capabilities; !slices.Equal(c.Bounding, []string{"CAP_CHOWN", "CAP_SETUID"}) ||
		len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("capabilities %+v", c)
	}
	if !s.Process.NoNewPrivileges {
		t.Error("noNewPrivileges is off")
	}
	if p := s.Linux.Resources.Pids; p == nil || p.Limit == nil || *p.Limit != DefaultPidsLimit {
		t.Errorf("pids %+v", p)
	}
	var nofile []specs.POSIXRlimit
	for _, r := range s.Process.Rlimits {
		if r.Type == "RLIMIT_NOFILE" {
			nofile = append(nofile, r)
		}
	}
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &own); err != nil {
		t.Fatal(err)
	}
	if len(nofile) != 1 || nofile[0].Soft != nofile[0].Hard || nofile[0].Hard != min(SecureNofile, own.Max) {
		t.Errorf("RLIMIT_NOFILE %+v, want %d (own hard limit %d)", nofile, min(SecureNofile, own.Max), own.Max)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/sys/devices/virtual/powercap") {
		t.Errorf("masked paths %q", s.Linux.MaskedPaths)
	}
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Fatalf("seccomp %+v", sc)
	}
	allowed := map[string]bool{}
	for _, r := range sc.Syscalls {
		if r.Action == "SCMP_ACT_ALLOW" && len(r.Args) == 0 {
			for _, n := range r.Names {
				allowed[n] = true
			}
		}
	}
	// statx: libcontainer's init needs it; the others need capabilities
	// the container does not have.
	for n, want := range map[string]bool{"statx": true, "read": true, "mount": false, "unshare": false, "keyctl": false, "bpf": false} {
		if allowed[n] != want {
			t.Errorf("seccomp allows %s: %v, want %v", n, allowed[n], want)
		}
	}
	if _, err := SecureSpec([]string{"CAP_NOPE"}); err == nil {
		t.Error("SecureSpec with an unknown capability: no error")
	}
	// Each call returns its own value.
	s2, _ := SecureSpec([]string{"CAP_CHOWN", "CAP_SETUID"})
	s2.Process.Capabilities.Bounding[0] = "CAP_KILL"
	if s.Process.Capabilities.Bounding[0] != "CAP_CHOWN" {
		t.Error("SecureSpec values share memory")
	}
}
