package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/apparmor"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	selinux "github.com/opencontainers/selinux/go-selinux"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// ConfigFile is the name of the OCI config in a bundle.
const ConfigFile = "config.json"

// CgroupParent is where containers whose cgroupsPath is empty or relative
// get their cgroup, in every hierarchy: /vmctr/<id> or /vmctr/<relative path>.
// vmctr never creates cgroups inside cgroups it does not own.
const CgroupParent = "/vmctr"

// SpecOpt changes a spec before it becomes a libcontainer config.
type SpecOpt func(*specs.Spec) error

// MaxConfigSize caps config.json (and exec's --process file). Real configs
// are kilobytes (a large seccomp profile is about 100 KiB, Kubernetes caps
// all annotations at 256 KiB together); decoding a 300 MB one took vmctr
// 2.3 GB of memory and 14 s, and its annotations would be copied into the
// state.
const MaxConfigSize = 16 << 20

// ReadConfigFile reads a JSON file of at most MaxConfigSize bytes.
func ReadConfigFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, p)
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("%w: %s is larger than %d MiB", ErrInvalidSpec, name, MaxConfigSize>>20)
	}
	return b, nil
}

// LoadSpec reads and validates bundle/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, ConfigFile)
	b, err := ReadConfigFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s not found", ErrInvalidSpec, p)
	}
	if errors.Is(err, ErrInvalidSpec) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	spec, err := ParseSpec(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return spec, nil
}

// ParseSpec decodes and validates an OCI runtime config. Unknown fields are
// allowed (the spec says runtimes must ignore them), malformed JSON is not.
func ParseSpec(b []byte) (*specs.Spec, error) {
	var spec *specs.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON: %w", ErrInvalidSpec, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidSpec)
	}
	if spec == nil {
		return nil, fmt.Errorf("%w: config is null", ErrInvalidSpec)
	}
	if err := validateSpec(spec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	return spec, nil
}

func validateSpec(spec *specs.Spec) error {
	if spec.Version == "" {
		return errors.New("ociVersion is empty")
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return errors.New("root.path is empty")
	}
	if err := validateProcess(spec.Process); err != nil {
		return err
	}
	if spec.Linux == nil {
		return errors.New("linux section is missing")
	}
	for i, m := range spec.Mounts {
		if !path.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d]: destination %q is not an absolute path", i, m.Destination)
		}
		if slices.Contains(strings.Split(m.Destination, "/"), "..") {
			return fmt.Errorf("mounts[%d]: destination %q contains ..", i, m.Destination)
		}
	}
	return nil
}

func validateProcess(p *specs.Process) error {
	if p == nil {
		return errors.New("process is missing")
	}
	if len(p.Args) == 0 && p.CommandLine == "" {
		return errors.New("process.args is empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd %q is not an absolute path", p.Cwd)
	}
	if p.Capabilities != nil {
		for _, set := range [][]string{p.Capabilities.Bounding, p.Capabilities.Effective,
			p.Capabilities.Inheritable, p.Capabilities.Permitted, p.Capabilities.Ambient} {
			for _, c := range set {
				if !knownCapability(c) {
					return fmt.Errorf("unknown capability %q", c)
				}
			}
		}
	}
	if _, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity); err != nil {
		return fmt.Errorf("process.execCPUAffinity: %w", err)
	}
	for _, r := range p.Rlimits {
		if _, ok := rlimitTypes[r.Type]; !ok {
			return fmt.Errorf("unknown rlimit type %q", r.Type)
		}
		if r.Soft > r.Hard {
			return fmt.Errorf("rlimit %s: soft limit %d is above hard limit %d", r.Type, r.Soft, r.Hard)
		}
	}
	return nil
}

// knownCapability reports whether name is a capability Linux defines (known
// to the capability library), whether or not this kernel has it. Names are
// exact, as in capabilities(7): "CAP_CHOWN", not "CAP_chown" or "chown"
// (libcontainer would silently ignore those).
func knownCapability(name string) bool {
	for _, c := range capability.ListKnown() {
		if name == capName(c) {
			return true
		}
	}
	return false
}

func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// withCgroupParent puts a container whose cgroupsPath is empty or relative
// under CgroupParent. An absolute path is the caller's choice and is kept.
func withCgroupParent(id string, systemd bool) SpecOpt {
	return func(s *specs.Spec) error {
		if systemd {
			return nil
		}
		p := s.Linux.CgroupsPath
		switch {
		case p == "":
			s.Linux.CgroupsPath = path.Join(CgroupParent, id)
		case !path.IsAbs(p):
			joined := path.Join(CgroupParent, p)
			if !strings.HasPrefix(joined, CgroupParent+"/") {
				return fmt.Errorf("%w: linux.cgroupsPath %q: a relative path must name a cgroup under %s", ErrInvalidSpec, p, CgroupParent)
			}
			s.Linux.CgroupsPath = joined
		}
		return nil
	}
}

// statSyscalls are the stat-family system calls that older seccomp profiles
// allow by name. statx is the same operation with a newer interface.
var statSyscalls = []string{"stat", "lstat", "fstat", "newfstatat", "fstatat64", "stat64", "lstat64", "fstat64"}

// withStatx lets a seccomp profile that allows the stat family but predates
// statx also allow statx. libcontainer's init needs statx (it checks mount
// IDs before closing inherited fds), and so does glibc >= 2.33; profiles
// written before 2019 (like the OCI runtime-tools default) list the stat
// family but not statx, which would otherwise make every container fail to
// start. Profiles that mention statx at all are left as they are: their
// author decided.
func withStatx(s *specs.Spec) error {
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction == specs.ActAllow {
		return nil
	}
	allowsStat := false
	for _, sy := range sc.Syscalls {
		for _, n := range sy.Names {
			if n == "statx" {
				return nil
			}
			if sy.Action == specs.ActAllow && len(sy.Args) == 0 && slices.Contains(statSyscalls, n) {
				allowsStat = true
			}
		}
	}
	if allowsStat {
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{Names: []string{"statx"}, Action: specs.ActAllow})
	}
	return nil
}

// splitHooks takes the poststart and poststop hooks out of the spec: vmctr
// runs them itself (see Record), so that poststart runs after `start` and a
// failing poststart or poststop hook only warns, as the runtime spec says.
func splitHooks(s *specs.Spec, r *Record) {
	if s.Hooks == nil {
		return
	}
	r.Poststart, s.Hooks.Poststart = s.Hooks.Poststart, nil
	r.Poststop, s.Hooks.Poststop = s.Hooks.Poststop, nil
}

// grantableCaps returns the capabilities vmctr itself can hand to a
// container: those of this kernel that are in vmctr's own bounding and
// permitted sets. On a host whose root lacks CAP_SYS_RESOURCE, that one is
// missing. A child in a new user namespace cannot get more either: its
// permitted set after execve is capped by the bounding set it inherits.
func grantableCaps() (map[string]bool, error) {
	own, err := capability.NewPid2(0)
	if err == nil {
		err = own.Load()
	}
	if err != nil {
		return nil, fmt.Errorf("reading vmctr's own capabilities: %w", err)
	}
	supported, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("listing the kernel's capabilities: %w", err)
	}
	have := make(map[string]bool, len(supported))
	for _, c := range supported {
		if own.Get(capability.BOUNDING, c) && own.Get(capability.PERMITTED, c) {
			have[capName(c)] = true
		}
	}
	return have, nil
}

// withGrantableCaps drops from every capability set the capabilities that
// have says vmctr cannot grant, with one warning naming them. The runtime
// spec: a capability that "cannot be granted otherwise MUST be logged as a
// warning", and runtimes "SHOULD NOT fail" because of it. Names that are not
// Linux capabilities at all were already rejected by validateProcess: those
// are errors in the config, not limits of this host.
func withGrantableCaps(have map[string]bool) SpecOpt {
	return func(s *specs.Spec) error {
		if s.Process == nil || s.Process.Capabilities == nil {
			return nil
		}
		c := s.Process.Capabilities
		var dropped []string
		for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Inheritable, &c.Permitted, &c.Ambient} {
			*set = slices.DeleteFunc(slices.Clone(*set), func(name string) bool {
				if have[name] {
					return false
				}
				if !slices.Contains(dropped, name) {
					dropped = append(dropped, name)
				}
				return true
			})
		}
		if len(dropped) > 0 {
			logrus.Warnf("capabilities %s cannot be granted on this host (not in vmctr's own bounding set); the container runs without them", strings.Join(dropped, ", "))
		}
		return nil
	}
}

// withFifoDevices clears major and minor of FIFO devices: the spec does not
// require them for type "p", mknod(2) ignores them for a FIFO, and
// libcontainer checks the new inode against them, failing on any non-zero
// value ("incorrect major:minor").
func withFifoDevices(s *specs.Spec) error {
	for i := range s.Linux.Devices {
		if d := &s.Linux.Devices[i]; d.Type == "p" {
			d.Major, d.Minor = 0, 0
		}
	}
	return nil
}

// withLSMs checks the Linux security module settings against what this host
// has. A process label or AppArmor profile is a confinement request: without
// SELinux or AppArmor it cannot be honoured, so it is an error (as
// libcontainer already does for process labels). A mount label only names
// the SELinux context of the container's files; without SELinux no context
// exists or is enforced, so it is dropped with a warning rather than passed
// to mount(2) as a "context=" option the kernel rejects.
func withLSMs(selinuxOn, apparmorOn bool) SpecOpt {
	return func(s *specs.Spec) error {
		if p := s.Process; p != nil && p.ApparmorProfile != "" && !apparmorOn {
			return fmt.Errorf("%w: process.apparmorProfile %q: AppArmor is not enabled on this host", ErrInvalidSpec, p.ApparmorProfile)
		}
		if p := s.Process; p != nil && p.SelinuxLabel != "" && !selinuxOn {
			return fmt.Errorf("%w: process.selinuxLabel %q: SELinux is not enabled on this host", ErrInvalidSpec, p.SelinuxLabel)
		}
		if s.Linux.MountLabel != "" && !selinuxOn {
			logrus.Warnf("linux.mountLabel %q ignored: SELinux is not enabled on this host", s.Linux.MountLabel)
			s.Linux.MountLabel = ""
		}
		return nil
	}
}

// hostSpecOpts are the changes vmctr makes to every config before
// specconv: the cgroup parent, and the adjustments to what this host can do.
func hostSpecOpts(id string, systemd bool) ([]SpecOpt, error) {
	caps, err := grantableCaps()
	if err != nil {
		return nil, err
	}
	return []SpecOpt{
		withCgroupParent(id, systemd),
		withStatx,
		withGrantableCaps(caps),
		withFifoDevices,
		withLSMs(selinux.GetEnabled(), apparmor.IsEnabled()),
	}, nil
}

// lateRlimitTypes are the limits on a process's memory size. libcontainer
// sets rlimits on the container's init while that init (vmctr itself, a Go
// program that has reserved more than 1 GiB of address space) still has work
// to do: under a lower RLIMIT_AS its remaining allocations fail (libseccomp:
// "cannot allocate memory"). vmctr sets these itself once init waits for
// `start`, before the user's program runs (see setLateRlimits).
var lateRlimitTypes = []int{unix.RLIMIT_AS, unix.RLIMIT_DATA}

// splitLateRlimits separates the limits of lateRlimitTypes from the others.
func splitLateRlimits(rl []configs.Rlimit) (early, late []configs.Rlimit) {
	for _, r := range rl {
		if slices.Contains(lateRlimitTypes, r.Type) {
			late = append(late, r)
		} else {
			early = append(early, r)
		}
	}
	return early, late
}

// canSetRlimitsLate reports whether vmctr (real uid, gid) may still change
// the rlimits of the container's init after init has switched to the
// container's user. prlimit(2) on another process needs the target's uids
// and gids to match the caller's, or CAP_SYS_RESOURCE in the target's user
// namespace: vmctr has every capability in a user namespace it creates, and
// in the host's only if it holds CAP_SYS_RESOURCE (root here may not).
func canSetRlimitsLate(s *specs.Spec, uid, gid int, capSysResource bool) bool {
	if capSysResource {
		return true
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace && ns.Path == "" {
			return true
		}
	}
	return s.Process.User.UID == uint32(uid) && s.Process.User.GID == uint32(gid)
}

// hasEffectiveCap reports whether vmctr holds c in its effective set.
func hasEffectiveCap(c capability.Cap) bool {
	own, err := capability.NewPid2(0)
	if err == nil {
		err = own.Load()
	}
	return err == nil && own.Get(capability.EFFECTIVE, c)
}

// deferRlimits takes the late limits out of the init's rlimits and returns
// them, for setLateRlimits. libcontainer uses the process's rlimits if it
// has any, else the config's (which specconv leaves empty). Where vmctr could
// not set them later it leaves them to libcontainer.
func deferRlimits(s *specs.Spec, config *configs.Config, p *libcontainer.Process) []configs.Rlimit {
	if !canSetRlimitsLate(s, os.Getuid(), os.Getgid(), hasEffectiveCap(capability.CAP_SYS_RESOURCE)) {
		return nil
	}
	var late []configs.Rlimit
	config.Rlimits, late = splitLateRlimits(config.Rlimits)
	if len(p.Rlimits) > 0 {
		p.Rlimits, late = splitLateRlimits(p.Rlimits)
	}
	return late
}

// setLateRlimits applies rl to the container's init, which waits for
// `start`; the user's program inherits them through execve.
func setLateRlimits(p *libcontainer.Process, rl []configs.Rlimit) error {
	if len(rl) == 0 {
		return nil
	}
	pid, err := p.Pid()
	if err != nil {
		return err
	}
	for _, r := range rl {
		if err := unix.Prlimit(pid, r.Type, &unix.Rlimit{Cur: r.Soft, Max: r.Hard}, nil); err != nil {
			return fmt.Errorf("setting rlimit %s of the container's init: %w", rlimitName(r.Type), err)
		}
	}
	return nil
}

func rlimitName(t int) string {
	for name, v := range rlimitTypes {
		if v == t {
			return name
		}
	}
	return strconv.Itoa(t)
}

// dropBindMountData removes filesystem-specific options (mount(2)'s data
// argument) from bind mounts, with a warning. mount(2) ignores data for
// MS_BIND, and mount(8), which the runtime spec says to follow, accepts and
// ignores them; libcontainer rejects such a config outright.
func dropBindMountData(config *configs.Config) {
	for _, m := range config.Mounts {
		if m.IsBind() && m.Data != "" {
			logrus.Warnf("mount %s: options %q ignored: a bind mount takes no filesystem-specific options", m.Destination, m.Data)
			m.Data = ""
		}
	}
}
