package elfdeps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
)

// Runtime files: what libc and common libraries open at run time without a
// DT_NEEDED entry. Each set is added only when something in the closure
// uses it, and only what exists in the root:
//
//   - glibc (an object with soname libc.so.6): /etc/ld.so.cache, nsswitch.conf
//     and the libnss_<service>.so.2 modules it names, libgcc_s.so.1 (glibc
//     dlopens it for pthread_cancel/pthread_exit and backtraces), the small
//     network databases (/etc/services, protocols, ...), a gconv subset (the
//     module configuration and the Unicode modules; ASCII, UTF-8 and
//     ISO-8859-1 are built into libc), the C.UTF-8 locale and locale.alias
//     (not locale-archive: it holds every generated locale and can be
//     hundreds of MB; add it with --file), and zoneinfo for UTC and
//     /etc/localtime (the whole zoneinfo tree only with --file);
//   - Go binaries: nsswitch.conf, the network databases, zoneinfo, CA certificates;
//   - a TLS library (OpenSSL, GnuTLS, NSS, mbedTLS, wolfSSL): the CA
//     certificates (/etc/ssl/certs with every link and its target) and the
//     OpenSSL configuration (never /etc/ssl/private);
//   - a terminal library (libtinfo, libncurses): terminfo entries for common
//     terminal types.
//
// /etc/passwd, /etc/group, /etc/hosts, /etc/hostname and /etc/resolv.conf are
// not listed: package rootfs generates them for the container.

var (
	netDatabases  = []string{"/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols", "/etc/networks", "/etc/rpc"}
	zoneFiles     = []string{"/etc/localtime", "/etc/timezone", "/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc/UTC"}
	localeFiles   = []string{"/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8", "/usr/share/locale/locale.alias"}
	gconvFiles    = []string{"gconv-modules", "gconv-modules.cache", "gconv-modules.d", "UTF-16.so", "UTF-32.so", "UTF-7.so", "UNICODE.so"}
	caFiles       = []string{"/etc/ssl/certs", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/pki/tls/cert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"}
	opensslFiles  = []string{"/etc/ssl/openssl.cnf", "/usr/lib/ssl/openssl.cnf", "/usr/lib/ssl/cert.pem", "/usr/lib/ssl/certs", "/etc/pki/tls/openssl.cnf"}
	terminfoDirs  = []string{"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"}
	terminfoTerms = []string{"ansi", "dumb", "linux", "screen", "screen-256color", "tmux", "tmux-256color", "vt100", "vt102", "vt220", "xterm", "xterm-256color", "xterm-color"}
	tlsSonames    = []string{"libssl.so", "libcrypto.so", "libgnutls.so", "libnss3.so", "libmbedtls.so", "libwolfssl.so"}
	opensslSoname = []string{"libssl.so", "libcrypto.so"}
	tinfoSonames  = []string{"libtinfo.so", "libtinfow.so", "libncurses.so", "libncursesw.so"}
)

func hasSonamePrefix(o *elfObj, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(o.Soname, p) {
			return true
		}
	}
	return false
}

// addRuntime adds the runtime files the listed objects call for.
func (d *discoverer) addRuntime(ctx context.Context) error {
	canons := make([]string, 0, len(d.objs))
	for p := range d.objs {
		canons = append(canons, p)
	}
	slices.Sort(canons)
	var libcs []string
	var tls, openssl, tinfo, goBin string
	for _, p := range canons {
		o := d.objs[p]
		switch {
		case o.Soname == "libc.so.6":
			libcs = append(libcs, p)
		case tls == "" && hasSonamePrefix(o, tlsSonames):
			tls = p
		case tinfo == "" && hasSonamePrefix(o, tinfoSonames):
			tinfo = p
		}
		if openssl == "" && hasSonamePrefix(o, opensslSoname) {
			openssl = p
		}
		if goBin == "" && o.Go {
			goBin = p
		}
	}
	if len(libcs) > 0 || goBin != "" {
		who, via := "glibc", goBin
		if len(libcs) == 0 {
			who = "Go binary " + goBin
		} else {
			via = libcs[0]
		}
		for _, f := range netDatabases {
			d.runtimeFile(ctx, f, "network configuration read by "+who, via)
		}
		for _, f := range zoneFiles {
			d.runtimeFile(ctx, f, "time zone read by "+who, via)
		}
	}
	for _, libc := range libcs {
		if err := d.addGlibcRuntime(ctx, libc); err != nil {
			return err
		}
	}
	tlsWho := tls
	if goBin != "" && tls == "" {
		tls, tlsWho = goBin, "Go binary "+goBin
	}
	if tls != "" {
		for _, f := range caFiles {
			d.runtimeFile(ctx, f, "CA certificates for "+tlsWho, tls)
		}
	}
	if openssl != "" {
		for _, f := range opensslFiles {
			d.runtimeFile(ctx, f, "OpenSSL configuration for "+openssl, openssl)
		}
	}
	if tinfo != "" {
		for _, dir := range terminfoDirs {
			for _, t := range terminfoTerms {
				d.runtimeFile(ctx, path.Join(dir, t[:1], t), "terminfo for "+tinfo, tinfo)
			}
		}
	}
	return nil
}

// addGlibcRuntime adds what the glibc at canonical path libc loads by name.
func (d *discoverer) addGlibcRuntime(ctx context.Context, libc string) error {
	obj := d.objs[libc]
	node := &lnode{obj: obj, path: libc, canon: libc, origin: path.Dir(libc)}
	d.runtimeFile(ctx, ldCachePath, "loader cache read by the dynamic loader", libc)
	// NSS modules named in nsswitch.conf, and libgcc_s.
	var mods []string
	if b, _, err := d.fs.readResolved("/etc/nsswitch.conf"); err == nil {
		for _, s := range nssServices(b) {
			mods = append(mods, "libnss_"+s+".so.2")
		}
	}
	mods = append(mods, "libgcc_s.so.1")
	for _, m := range mods {
		f, _ := d.findLib(m, node, obj.arch)
		if f == nil {
			logrus.Debugf("elfdeps: %s not found in %s: not listed", m, d.fs.host)
			continue
		}
		why := fmt.Sprintf("NSS module named in /etc/nsswitch.conf, loaded by %s", libc)
		if m == "libgcc_s.so.1" {
			why = "loaded by " + libc + " for thread cancellation and unwinding"
		}
		for _, v := range append([]*found{f}, f.variants...) {
			d.addResolved(v.res, ReasonRuntime, why, libc)
			if err := d.closeELF(v.path, v.res, v.obj, false); err != nil {
				return err
			}
		}
	}
	gconv := path.Join(path.Dir(libc), "gconv")
	for _, g := range gconvFiles {
		d.runtimeFile(ctx, path.Join(gconv, g), "character set conversion (gconv) of "+libc, libc)
	}
	for _, f := range localeFiles {
		d.runtimeFile(ctx, f, "C.UTF-8 locale of "+libc, libc)
	}
	return nil
}

// nssServices lists the services named in an nsswitch.conf.
func nssServices(b []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		_, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		inAction := false
		for _, w := range strings.Fields(v) {
			switch {
			case strings.HasPrefix(w, "["):
				inAction = !strings.HasSuffix(w, "]")
			case inAction:
				inAction = !strings.HasSuffix(w, "]")
			case !seen[w]:
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// runtimeFile lists an optional runtime file (or directory, recursively)
// if it exists in the root, needed by via. Problems are logged, never
// fatal: these files are extras the apps did not name.
func (d *discoverer) runtimeFile(ctx context.Context, p, why, via string) {
	res, err := d.fs.resolve(p)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			logrus.Warnf("elfdeps: runtime file %s: %v", p, err)
		}
		return
	}
	if kernelIn(p, res) != "" {
		return
	}
	d.addResolved(res, ReasonRuntime, why, via)
	var execs []string
	if res.node.isDir() {
		if err := d.walk(ctx, res.Path, ReasonRuntime, why, via, &execs); err != nil && ctx.Err() == nil {
			// (A cancelled discovery, after another error, is not news.)
			logrus.Warnf("elfdeps: runtime directory %s: %v", p, err)
		}
	} else if mayExecute(res.Path, res.node) {
		execs = append(execs, res.Path)
	}
	if err := d.addExecutables(ctx, execs, true); err != nil {
		logrus.Warnf("elfdeps: runtime file %s: %v", p, err)
	}
}
