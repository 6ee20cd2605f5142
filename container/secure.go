package container

import (
	"fmt"
	"slices"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultPidsLimit is the pids limit of a secure container vmctr builds
// unless its definition says otherwise: a fork bomb inside stops there.
// Threads count: 4096 leaves room for thread-heavy servers (podman's
// default is 2048).
const DefaultPidsLimit = 4096

// SecureNofile is the open-files limit (soft and hard) of a secure
// container: servers copied from a host expect more than runc's 1024
// (redis asks for 10032). It is capped at vmctr's own hard limit, which a
// runtime without CAP_SYS_RESOURCE cannot exceed.
const SecureNofile = 65536

// SecureMaskedPaths are masked in secure containers on top of runc's
// defaults: the RAPL energy counters (CVE-2020-8694, "PLATYPUS"), which
// podman and containerd also mask.
var SecureMaskedPaths = []string{"/sys/devices/virtual/powercap"}

// SecureSpec is the base config of the secure containers vmctr builds
// (vmctr build): DefaultSpec with the given capabilities (bounding,
// effective, permitted; no inheritable or ambient), no new privileges,
// moby's default seccomp profile as it applies to those capabilities on
// this architecture (the profile docker, podman and containerd use, which
// allows statx), SecureMaskedPaths masked, a pids limit, and
// RLIMIT_NOFILE at SecureNofile (or vmctr's own hard limit, if lower). `vmctr spec`
// keeps runc's example: clients and scripts compare it with runc's.
func SecureSpec(caps []string) (*specs.Spec, error) {
	s := DefaultSpec(false)
	for _, c := range caps {
		if !knownCapability(c) {
			return nil, fmt.Errorf("unknown capability %q", c)
		}
	}
	c := slices.Clone(caps)
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: c, Effective: slices.Clone(c), Permitted: slices.Clone(c),
	}
	s.Process.NoNewPrivileges = true
	nofile := uint64(SecureNofile)
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &own); err == nil && own.Max < nofile {
		nofile = own.Max
	}
	s.Process.Rlimits = slices.DeleteFunc(s.Process.Rlimits, func(r specs.POSIXRlimit) bool { return r.Type == "RLIMIT_NOFILE" })
	s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: nofile, Soft: nofile})
	for _, p := range SecureMaskedPaths {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, p)
		}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	limit := int64(DefaultPidsLimit)
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	prof, err := mobyseccomp.GetDefaultProfile(s)
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	s.Linux.Seccomp = prof
	return s, nil
}
