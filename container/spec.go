package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigFile is the name of the OCI config in a bundle.
const ConfigFile = "config.json"

// CgroupParent is where containers whose cgroupsPath is empty or relative
// get their cgroup, in every hierarchy: /vmctr/<id> or /vmctr/<relative path>.
// vmctr never creates cgroups inside cgroups it does not own.
const CgroupParent = "/vmctr"

// SpecOpt changes a spec before it becomes a libcontainer config.
type SpecOpt func(*specs.Spec) error

// LoadSpec reads and validates bundle/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, ConfigFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s not found", ErrInvalidSpec, p)
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
// to the capability library), whether or not this kernel has it.
func knownCapability(name string) bool {
	if !strings.HasPrefix(name, "CAP_") {
		return false
	}
	n := strings.ToLower(strings.TrimPrefix(name, "CAP_"))
	for _, c := range capability.ListKnown() {
		if c.String() == n {
			return true
		}
	}
	return false
}

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
			s.Linux.CgroupsPath = path.Join(CgroupParent, p)
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
