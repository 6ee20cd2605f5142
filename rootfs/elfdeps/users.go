package elfdeps

import (
	"bufio"
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
)

// idNames maps numeric ids to names from a passwd(5) or group(5) file.
func idNames(b []byte) map[uint32]string {
	m := map[uint32]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "+") || strings.HasPrefix(f[0], "-") {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, ok := m[uint32(id)]; !ok {
			m[uint32(id)] = f[0]
		}
	}
	return m
}

// usersAndGroups names the owners of the listed files (from the root's own
// /etc/passwd and /etc/group), the users and groups packaged systemd units
// run as, and root.
func (d *discoverer) usersAndGroups(files []File) (users, groups []string) {
	pw, _, err := d.fs.readResolved("/etc/passwd")
	if err != nil {
		logrus.Debugf("elfdeps: reading /etc/passwd in %s: %v", d.fs.host, err)
	}
	gr, _, err := d.fs.readResolved("/etc/group")
	if err != nil {
		logrus.Debugf("elfdeps: reading /etc/group in %s: %v", d.fs.host, err)
	}
	uname, gname := idNames(pw), idNames(gr)
	u := map[string]bool{"root": true}
	g := map[string]bool{"root": true}
	for _, f := range files {
		n := d.fs.lstat(f.Path)
		if n.err != nil {
			continue
		}
		if s, ok := uname[n.uid]; ok {
			u[s] = true
		} else {
			logrus.Debugf("elfdeps: %s: owner uid %d has no name in /etc/passwd", f.Path, n.uid)
		}
		if s, ok := gname[n.gid]; ok {
			g[s] = true
		} else {
			logrus.Debugf("elfdeps: %s: group gid %d has no name in /etc/group", f.Path, n.gid)
		}
	}
	for _, s := range d.unitUsers {
		u[s] = true
	}
	for _, s := range d.unitGroups {
		g[s] = true
	}
	for s := range u {
		users = append(users, s)
	}
	for s := range g {
		groups = append(groups, s)
	}
	slices.Sort(users)
	slices.Sort(groups)
	return users, groups
}

// unitAccounts reads User= and Group= (and SupplementaryGroups=) from a
// systemd unit file.
func unitAccounts(b []byte) (users, groups []string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" || strings.ContainsAny(v, "%$") { // specifiers and variables: unknowable here
			continue
		}
		switch strings.TrimSpace(k) {
		case "User":
			users = append(users, v)
		case "Group":
			groups = append(groups, v)
		case "SupplementaryGroups":
			groups = append(groups, strings.Fields(v)...)
		}
	}
	return users, groups
}
