package rootfs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultCapabilities are the capabilities a built container's processes
// may have: podman's default set. It is more than runc's example (which
// has no CAP_SETUID/CAP_SETGID) because daemons copied from a server, like
// nginx, start as root and switch to their own user.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// UsernsSize is how many IDs a built container's user namespace maps
// (BuildOpts.UsernsBase): 0-65535 inside, as on a Debian system.
const UsernsSize = 65536

// DefaultPath is the PATH of a built container's processes.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BundleSpecVersion is the ociVersion of a built bundle's config.json: the
// oldest runtime-spec version that has every field the config uses, so
// that older runtimes run it too (crun 1.8 refuses 1.2 and later).
const BundleSpecVersion = "1.0.2"

// Annotations a built bundle's config.json carries.
const (
	AnnotationManifest = "org.vmctr.build.manifest" // path of the manifest inside the container
	AnnotationRunFile  = "org.vmctr.build.runfile"  // path of the execution file inside the container
)

// bundleSpec makes a built container's config.json from base (the
// caller's defaults, usually container.DefaultSpec, which must use no field
// newer than BundleSpecVersion): the root is ./rootfs,
// writable (it is the container's own copy); the process is the init with
// the execution file, without a terminal; namespaces, mounts, masked
// paths and the rest stay as base has them.
func bundleSpec(base *specs.Spec, id identity, env []string, cwd, hostname string, usernsBase uint32) (*specs.Spec, error) {
	if base == nil {
		return nil, fmt.Errorf("%w: no base config (BuildOpts.Spec)", ErrInvalidOptions)
	}
	// Deep copy: the caller's value is left alone.
	b, err := json.Marshal(base)
	if err != nil {
		return nil, fmt.Errorf("copying the base config: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("copying the base config: %w", err)
	}
	if s.Linux == nil {
		return nil, fmt.Errorf("%w: the base config has no linux section", ErrInvalidOptions)
	}
	s.Version = BundleSpecVersion
	s.Root = &specs.Root{Path: "rootfs"}
	s.Hostname = hostname
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	p := s.Process
	p.Terminal = false
	p.ConsoleSize = nil
	p.Args = []string{InitPath, RunFilePath}
	p.CommandLine = ""
	p.Cwd = cwd
	p.Env = mergeEnv([]string{"PATH=" + DefaultPath, "HOME=" + id.home, "container=vmctr"}, env)
	p.User = specs.User{UID: id.uid, GID: id.gid, AdditionalGids: id.additional}
	caps := slices.Clone(DefaultCapabilities)
	p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	p.NoNewPrivileges = true
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if usernsBase != 0 {
		if id.uid >= UsernsSize || id.gid >= UsernsSize {
			return nil, fmt.Errorf("%w: user %d:%d is outside the user namespace's IDs 0-%d", ErrInvalidOptions, id.uid, id.gid, UsernsSize-1)
		}
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: usernsBase, Size: UsernsSize}}
		s.Linux.UIDMappings, s.Linux.GIDMappings = m, slices.Clone(m)
	}
	s.Annotations[AnnotationManifest] = ManifestPath
	s.Annotations[AnnotationRunFile] = RunFilePath
	return &s, nil
}

// mergeEnv returns base with the KEY=VALUE entries of add appended, an
// entry of add replacing base's entry of the same key.
func mergeEnv(base, add []string) []string {
	out := slices.Clone(base)
	for _, e := range add {
		k, _, _ := strings.Cut(e, "=")
		out = slices.DeleteFunc(out, func(o string) bool {
			ok, _, _ := strings.Cut(o, "=")
			return ok == k
		})
		out = append(out, e)
	}
	return out
}
