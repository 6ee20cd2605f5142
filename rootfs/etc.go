package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The modified copies: files of /etc that a container gets changed, made
// from the source root's own (never from this host's, unless the source
// root is this host).
const (
	etcPasswd   = "/etc/passwd"
	etcGroup    = "/etc/group"
	etcShadow   = "/etc/shadow"
	etcGshadow  = "/etc/gshadow"
	etcHosts    = "/etc/hosts"
	etcHostname = "/etc/hostname"
	etcResolv   = "/etc/resolv.conf"
)

// generatedPaths are never copied from the source: Build writes them.
var generatedPaths = []string{etcPasswd, etcGroup, etcShadow, etcGshadow, etcHosts, etcHostname, etcResolv}

// secretPaths are never copied, even inside a --file tree: the backups of
// the account databases (shadow-, gshadow- hold every password hash of the
// source) and PAM's store of old passwords. The container gets generated
// databases instead (writeEtc).
var secretPaths = []string{"/etc/shadow-", "/etc/gshadow-", "/etc/passwd-", "/etc/group-", "/etc/security/opasswd"}

// readSource reads a small file of the source root, resolving symbolic
// links the way the container would (RESOLVE_IN_ROOT). A missing file is
// (nil, nil).
func readSource(srcFd int, p string) ([]byte, error) {
	fd, err := unix.Openat2(srcFd, rel(p), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s in the source root: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s in the source root is not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s in the source root: %w", p, err)
	}
	return b, nil
}

// dbLines splits a colon-separated database (passwd, group) into records
// of at least n fields, skipping comments, blank lines and NIS +/- lines.
func dbLines(b []byte, n int) [][]string {
	var out [][]string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || l[0] == '#' || l[0] == '+' || l[0] == '-' {
			continue
		}
		f := strings.Split(l, ":")
		if len(f) < n {
			continue
		}
		out = append(out, f)
	}
	return out
}

// accounts is the source root's users and groups, and what the container
// keeps of them.
type accounts struct {
	passwd [][]string // name:pw:uid:gid:gecos:home:shell
	group  [][]string // name:pw:gid:members

	users  map[string]bool // names kept
	groups map[string]bool
}

func loadAccounts(srcFd int) (*accounts, error) {
	pw, err := readSource(srcFd, etcPasswd)
	if err != nil {
		return nil, err
	}
	gr, err := readSource(srcFd, etcGroup)
	if err != nil {
		return nil, err
	}
	a := &accounts{passwd: dbLines(pw, 7), group: dbLines(gr, 4), users: map[string]bool{}, groups: map[string]bool{}}
	if a.userByName("root") == nil {
		a.passwd = append([][]string{{"root", "x", "0", "0", "root", "/root", "/bin/sh"}}, a.passwd...)
	}
	if a.groupByName("root") == nil {
		a.group = append([][]string{{"root", "x", "0", ""}}, a.group...)
	}
	return a, nil
}

func (a *accounts) userByName(n string) []string {
	for _, f := range a.passwd {
		if f[0] == n {
			return f
		}
	}
	return nil
}

func (a *accounts) userByID(id int) []string {
	for _, f := range a.passwd {
		if f[2] == strconv.Itoa(id) {
			return f
		}
	}
	return nil
}

func (a *accounts) groupByName(n string) []string {
	for _, f := range a.group {
		if f[0] == n {
			return f
		}
	}
	return nil
}

func (a *accounts) groupByID(id int) []string {
	for _, f := range a.group {
		if f[2] == strconv.Itoa(id) {
			return f
		}
	}
	return nil
}

// keepUser keeps a user and its primary group.
func (a *accounts) keepUser(f []string) {
	a.users[f[0]] = true
	if gid, err := strconv.Atoi(f[3]); err == nil {
		if g := a.groupByID(gid); g != nil {
			a.groups[g[0]] = true
		}
	}
}

// identity is who the container's processes run as.
type identity struct {
	uid, gid   uint32
	additional []uint32
	home       string
}

// resolveUser resolves a --user value (name, uid, name:group, uid:gid) in
// the source root's databases and keeps the user and group it names.
func (a *accounts) resolveUser(spec string) (identity, error) {
	id := identity{home: "/"}
	if spec == "" {
		spec = "root"
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	var pw []string
	if n, err := strconv.ParseUint(u, 10, 32); err == nil {
		id.uid = uint32(n)
		pw = a.userByID(int(n))
	} else {
		if pw = a.userByName(u); pw == nil {
			return id, fmt.Errorf("%w: user %q is not in the source root's /etc/passwd", ErrInvalidOptions, u)
		}
		n, err := strconv.ParseUint(pw[2], 10, 32)
		if err != nil {
			return id, fmt.Errorf("user %q has a bad uid %q in the source root's /etc/passwd", u, pw[2])
		}
		id.uid = uint32(n)
	}
	if pw != nil {
		a.keepUser(pw)
		if n, err := strconv.ParseUint(pw[3], 10, 32); err == nil {
			id.gid = uint32(n)
		}
		if pw[5] != "" {
			id.home = pw[5]
		}
	}
	if hasGroup {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			id.gid = uint32(n)
			if gr := a.groupByID(int(n)); gr != nil {
				a.groups[gr[0]] = true
			}
		} else {
			gr := a.groupByName(g)
			if gr == nil {
				return id, fmt.Errorf("%w: group %q is not in the source root's /etc/group", ErrInvalidOptions, g)
			}
			n, err := strconv.ParseUint(gr[2], 10, 32)
			if err != nil {
				return id, fmt.Errorf("group %q has a bad gid %q in the source root's /etc/group", g, gr[2])
			}
			id.gid = uint32(n)
			a.groups[g] = true
		}
	}
	if pw != nil && !hasGroup {
		for _, gr := range a.group {
			if slices.Contains(strings.Split(gr[3], ","), pw[0]) {
				if n, err := strconv.ParseUint(gr[2], 10, 32); err == nil && uint32(n) != id.gid {
					id.additional = append(id.additional, uint32(n))
					a.groups[gr[0]] = true
				}
			}
		}
	}
	return id, nil
}

// files returns the container's /etc/passwd and /etc/group: the kept users
// and groups in the source's order, without password hashes, with group
// members limited to kept users.
func (a *accounts) files() (passwd, group []byte) {
	var pw, gr bytes.Buffer
	for _, f := range a.passwd {
		if !a.users[f[0]] {
			continue
		}
		g := slices.Clone(f)
		g[1] = "x"
		pw.WriteString(strings.Join(g, ":") + "\n")
	}
	for _, f := range a.group {
		if !a.groups[f[0]] {
			continue
		}
		g := slices.Clone(f)
		g[1] = "x"
		var members []string
		for _, m := range strings.Split(g[3], ",") {
			if m != "" && a.users[m] {
				members = append(members, m)
			}
		}
		g[3] = strings.Join(members, ",")
		gr.WriteString(strings.Join(g, ":") + "\n")
	}
	return pw.Bytes(), gr.Bytes()
}

// shadowFiles returns /etc/shadow and /etc/gshadow with every kept account
// locked: no password hash of the source ever reaches a container.
func (a *accounts) shadowFiles() (shadow, gshadow []byte) {
	var s, g bytes.Buffer
	for _, f := range a.passwd {
		if a.users[f[0]] {
			s.WriteString(f[0] + ":!*:::::::\n")
		}
	}
	for _, f := range a.group {
		if a.groups[f[0]] {
			g.WriteString(f[0] + ":!::\n")
		}
	}
	return s.Bytes(), g.Bytes()
}

func (a *accounts) names() (users, groups []string) {
	for _, f := range a.passwd {
		if a.users[f[0]] {
			users = append(users, f[0])
		}
	}
	for _, f := range a.group {
		if a.groups[f[0]] {
			groups = append(groups, f[0])
		}
	}
	return users, groups
}

// hostsFile is the container's /etc/hosts.
func hostsFile(hostname string) []byte {
	return []byte("127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"127.0.1.1\t" + hostname + "\n")
}

// resolvConf makes the container's /etc/resolv.conf from the source's. A
// source that names only resolvers on its own loopback (a local stub such
// as systemd-resolved's 127.0.0.53) cannot serve the container, which has
// its own loopback: then the upstream list systemd-resolved keeps is used,
// and failing that a file naming 127.0.0.1 only, so that nothing outside
// the container is asked until the network is set up. It returns the
// content and what was changed ("" if it is the source's as is).
func resolvConf(srcFd int) ([]byte, string, error) {
	src, err := readSource(srcFd, etcResolv)
	if err != nil {
		return nil, "", err
	}
	if src != nil && !loopbackOnly(src) {
		return src, "", nil
	}
	up, err := readSource(srcFd, "/run/systemd/resolve/resolv.conf")
	if err != nil {
		logrus.Debugf("rootfs: %v", err)
	}
	if up != nil && !loopbackOnly(up) {
		return up, "the source names only a local stub resolver; upstream servers from /run/systemd/resolve/resolv.conf", nil
	}
	why := "the source has no /etc/resolv.conf"
	if src != nil {
		why = "the source names only resolvers on its own loopback"
	}
	var keep []string
	for _, l := range strings.Split(string(src), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
			keep = append(keep, l)
		}
	}
	out := "# Generated by vmctr build: " + why + ".\nnameserver 127.0.0.1\n"
	if len(keep) > 0 {
		out += strings.Join(keep, "\n") + "\n"
	}
	return []byte(out), why + "; loopback-only default", nil
}

// loopbackOnly reports whether a resolv.conf names no nameserver outside
// loopback.
func loopbackOnly(b []byte) bool {
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		ip, err := netip.ParseAddr(strings.Split(f[1], "%")[0])
		if err == nil && !ip.IsLoopback() {
			return false
		}
	}
	return true
}
