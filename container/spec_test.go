package container

import (
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// quietWarnings hides the warnings the spec options log on purpose.
func quietWarnings(t *testing.T) {
	out := logrus.StandardLogger().Out
	logrus.SetOutput(io.Discard)
	t.Cleanup(func() { logrus.SetOutput(out) })
}

func TestWithStatx(t *testing.T) {
	allow := func(names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActAllow}
	}
	statx := allow("statx")
	tests := []struct {
		name string
		in   *specs.LinuxSeccomp
		want []specs.LinuxSyscall // nil in: want nil seccomp
	}{
		{name: "no profile"},
		{
			name: "default allow is left alone",
			in:   &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{allow("stat")}},
			want: []specs.LinuxSyscall{allow("stat")},
		},
		{
			name: "pre-statx profile gets statx",
			in:   &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{allow("read", "newfstatat")}},
			want: []specs.LinuxSyscall{allow("read", "newfstatat"), statx},
		},
		{
			name: "profile that denies statx keeps its decision",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				allow("stat"), {Names: []string{"statx"}, Action: specs.ActErrno},
			}},
			want: []specs.LinuxSyscall{allow("stat"), {Names: []string{"statx"}, Action: specs.ActErrno}},
		},
		{
			name: "profile without the stat family is not widened",
			in:   &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{allow("read")}},
			want: []specs.LinuxSyscall{allow("read")},
		},
		{
			name: "stat allowed only for some arguments is not enough",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActKill, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"stat"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
			}},
			want: []specs.LinuxSyscall{
				{Names: []string{"stat"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{Seccomp: tt.in}}
			if err := withStatx(s); err != nil {
				t.Fatal(err)
			}
			if tt.in == nil {
				if s.Linux.Seccomp != nil {
					t.Fatalf("seccomp = %+v, want nil", s.Linux.Seccomp)
				}
				return
			}
			if got := s.Linux.Seccomp.Syscalls; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("syscalls = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWithCgroupParent(t *testing.T) {
	tests := []struct {
		path    string
		systemd bool
		want    string
	}{
		{path: "", want: "/vmctr/c1"},
		{path: "pod/c1", want: "/vmctr/pod/c1"},
		{path: "testdir/cgrouptest/container", want: "/vmctr/testdir/cgrouptest/container"},
		{path: "/cgrouptest", want: "/cgrouptest"},
		{path: "system.slice:vmctr:c1", systemd: true, want: "system.slice:vmctr:c1"},
	}
	for _, tt := range tests {
		s := &specs.Spec{Linux: &specs.Linux{CgroupsPath: tt.path}}
		if err := withCgroupParent("c1", tt.systemd)(s); err != nil {
			t.Fatal(err)
		}
		if s.Linux.CgroupsPath != tt.want {
			t.Errorf("cgroupsPath %q (systemd %v) -> %q, want %q", tt.path, tt.systemd, s.Linux.CgroupsPath, tt.want)
		}
	}
}

func TestValidateCapabilities(t *testing.T) {
	tests := []struct {
		caps    []string
		wantErr bool
	}{
		{caps: []string{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_CHECKPOINT_RESTORE"}},
		{caps: []string{"CAP_TEST"}, wantErr: true},
		{caps: []string{"chown"}, wantErr: true},
		{caps: []string{"CAP_chown"}, wantErr: true},
	}
	for _, tt := range tests {
		p := &specs.Process{Args: []string{"sh"}, Cwd: "/", Capabilities: &specs.LinuxCapabilities{Bounding: tt.caps}}
		err := validateProcess(p)
		if (err != nil) != tt.wantErr {
			t.Errorf("caps %v: err = %v, want error %v", tt.caps, err, tt.wantErr)
		}
	}
}

func TestWithGrantableCaps(t *testing.T) {
	quietWarnings(t)
	have := map[string]bool{"CAP_CHOWN": true, "CAP_KILL": true, "CAP_SYS_ADMIN": true}
	tests := []struct {
		name string
		in   *specs.LinuxCapabilities
		want *specs.LinuxCapabilities
	}{
		{name: "none"},
		{
			name: "all grantable",
			in:   &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"}},
			want: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"}},
		},
		{
			name: "missing ones dropped from every set",
			in: &specs.LinuxCapabilities{
				Bounding:    []string{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_KILL"},
				Effective:   []string{"CAP_SYS_RESOURCE"},
				Inheritable: []string{},
				Permitted:   []string{"CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"},
				Ambient:     []string{"CAP_SYS_RESOURCE"},
			},
			want: &specs.LinuxCapabilities{
				Bounding:    []string{"CAP_CHOWN", "CAP_KILL"},
				Effective:   []string{},
				Inheritable: []string{},
				Permitted:   []string{"CAP_SYS_ADMIN"},
				Ambient:     []string{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Process: &specs.Process{Capabilities: tt.in}}
			if err := withGrantableCaps(have)(s); err != nil {
				t.Fatal(err)
			}
			if got := s.Process.Capabilities; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("capabilities = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGrantableCaps(t *testing.T) {
	have, err := grantableCaps()
	if err != nil {
		t.Fatal(err)
	}
	for name := range have {
		if !knownCapability(name) {
			t.Errorf("grantableCaps returned %q, which knownCapability rejects", name)
		}
	}
}

func TestWithFifoDevices(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{
		{Path: "/dev/test1", Type: "c", Major: 10, Minor: 666},
		{Path: "/dev/test3", Type: "p", Major: 8, Minor: 666},
	}}}
	if err := withFifoDevices(s); err != nil {
		t.Fatal(err)
	}
	want := []specs.LinuxDevice{
		{Path: "/dev/test1", Type: "c", Major: 10, Minor: 666},
		{Path: "/dev/test3", Type: "p"},
	}
	if !reflect.DeepEqual(s.Linux.Devices, want) {
		t.Errorf("devices = %+v, want %+v", s.Linux.Devices, want)
	}
}

func TestWithLSMs(t *testing.T) {
	quietWarnings(t)
	const label = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
	tests := []struct {
		name                  string
		selinuxOn, apparmorOn bool
		process               specs.Process
		mountLabel            string
		wantErr               bool
		wantMountLabel        string
	}{
		{name: "nothing asked"},
		{name: "mount label kept with SELinux", selinuxOn: true, mountLabel: label, wantMountLabel: label},
		{name: "mount label dropped without SELinux", mountLabel: label},
		{name: "process label without SELinux", process: specs.Process{SelinuxLabel: label}, wantErr: true},
		{name: "process label with SELinux", selinuxOn: true, process: specs.Process{SelinuxLabel: label}},
		{name: "AppArmor profile without AppArmor", process: specs.Process{ApparmorProfile: "acme"}, wantErr: true},
		{name: "AppArmor profile with AppArmor", apparmorOn: true, process: specs.Process{ApparmorProfile: "acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.process
			s := &specs.Spec{Process: &p, Linux: &specs.Linux{MountLabel: tt.mountLabel}}
			err := withLSMs(tt.selinuxOn, tt.apparmorOn)(s)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidSpec) {
					t.Errorf("err = %v, want ErrInvalidSpec", err)
				}
				return
			}
			if s.Linux.MountLabel != tt.wantMountLabel {
				t.Errorf("mountLabel = %q, want %q", s.Linux.MountLabel, tt.wantMountLabel)
			}
		})
	}
}

func TestSplitLateRlimits(t *testing.T) {
	as := configs.Rlimit{Type: unix.RLIMIT_AS, Soft: 1 << 30, Hard: 2 << 30}
	data := configs.Rlimit{Type: unix.RLIMIT_DATA, Soft: 5 << 30, Hard: 6 << 30}
	nofile := configs.Rlimit{Type: unix.RLIMIT_NOFILE, Soft: 3000, Hard: 4000}
	cpu := configs.Rlimit{Type: unix.RLIMIT_CPU, Soft: 60, Hard: 120}
	tests := []struct {
		in, early, late []configs.Rlimit
	}{
		{},
		{in: []configs.Rlimit{nofile, cpu}, early: []configs.Rlimit{nofile, cpu}},
		{in: []configs.Rlimit{as, nofile, data, cpu}, early: []configs.Rlimit{nofile, cpu}, late: []configs.Rlimit{as, data}},
		{in: []configs.Rlimit{as}, late: []configs.Rlimit{as}},
	}
	for _, tt := range tests {
		early, late := splitLateRlimits(tt.in)
		if !reflect.DeepEqual(early, tt.early) || !reflect.DeepEqual(late, tt.late) {
			t.Errorf("split(%v) = %v, %v; want %v, %v", tt.in, early, late, tt.early, tt.late)
		}
	}
}

func TestCanSetRlimitsLate(t *testing.T) {
	userns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.UserNamespace}}
	joinedUserns := []specs.LinuxNamespace{{Type: specs.UserNamespace, Path: "/proc/1/ns/user"}}
	tests := []struct {
		name   string
		user   specs.User
		ns     []specs.LinuxNamespace
		sysRes bool
		want   bool
	}{
		{name: "root container, root vmctr", want: true},
		{name: "other uid, no CAP_SYS_RESOURCE", user: specs.User{UID: 1000, GID: 1000}},
		{name: "other gid, no CAP_SYS_RESOURCE", user: specs.User{UID: 0, GID: 5}},
		{name: "other uid, CAP_SYS_RESOURCE", user: specs.User{UID: 1000, GID: 1000}, sysRes: true, want: true},
		{name: "new user namespace", user: specs.User{UID: 1000, GID: 1000}, ns: userns, want: true},
		{name: "joined user namespace", user: specs.User{UID: 1000, GID: 1000}, ns: joinedUserns},
	}
	for _, tt := range tests {
		s := &specs.Spec{Process: &specs.Process{User: tt.user}, Linux: &specs.Linux{Namespaces: tt.ns}}
		if got := canSetRlimitsLate(s, 0, 0, tt.sysRes); got != tt.want {
			t.Errorf("%s: canSetRlimitsLate = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDropBindMountData(t *testing.T) {
	quietWarnings(t)
	config := &configs.Config{Mounts: []*configs.Mount{
		{Source: "tmpfs", Destination: "/tmp/t", Device: "tmpfs", Data: "mode=755,size=1k"},
		{Source: "/etc", Destination: "/mnt/etc", Device: "bind", Flags: unix.MS_BIND | unix.MS_NOSUID, Data: "mode=755,size=1k"},
		{Source: "/etc", Destination: "/mnt/etc-r", Device: "bind", Flags: unix.MS_BIND | unix.MS_REC},
	}}
	dropBindMountData(config)
	for i, want := range []string{"mode=755,size=1k", "", ""} {
		if got := config.Mounts[i].Data; got != want {
			t.Errorf("mount %s: data %q, want %q", config.Mounts[i].Destination, got, want)
		}
	}
	if config.Mounts[1].Flags != unix.MS_BIND|unix.MS_NOSUID {
		t.Errorf("flags of a bind mount changed: %#x", config.Mounts[1].Flags)
	}
}
