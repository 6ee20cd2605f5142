package rootfs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"

	"github.com/vmctr/vmctr/rootfs/elfdeps"
)

// buildKeyVersion changes whenever what buildKey digests, or how the
// builder turns the same inputs into files, changes: a bundle built by an
// older vmctr is then rebuilt rather than taken as current.
const buildKeyVersion = "vmctr-build-key-1"

// buildKey digests everything a build's output depends on: the options, the
// config.json and init program it writes, the source's accounts and
// resolv.conf, and the planned paths with their source metadata (inode,
// size, mode, owner, modification and change times, link targets). Two
// builds with the same key write the same bundle, so a build into an
// existing bundle with its key has nothing to do. Content is not read: an
// edit in place changes a file's ctime, which is in the key.
func (b *builder) buildKey(nodes []*node, found *elfdeps.Result) string {
	// Everything goes into one buffer, hashed once: thousands of small
	// writes to the hash cost more than the hashing.
	buf := make([]byte, 0, 64<<10)
	num := func(v int64) { buf = binary.LittleEndian.AppendUint64(buf, uint64(v)) }
	field := func(s string) { num(int64(len(s))); buf = append(buf, s...) }
	field(buildKeyVersion)
	// Who builds decides the copies' owners (only root keeps the
	// source's).
	num(int64(os.Geteuid()))

	list := func(l []string) {
		num(int64(len(l)))
		for _, s := range l {
			field(s)
		}
	}
	flag := func(v bool) {
		if v {
			num(1)
		} else {
			num(0)
		}
	}

	// The options (without encoding/json: its first use costs more than
	// the whole key).
	o := b.o
	field(b.srcRoot)
	for _, l := range [][]string{o.Apps, o.Packages, o.Files, o.Excludes, o.KeepUsers, o.Env, found.Users, found.Groups} {
		list(l)
	}
	flag(o.Trace)
	flag(o.KeepSetuid)
	num(int64(o.TraceTimeout))
	num(int64(o.StopTimeout))
	num(int64(o.UsernsBase))
	field(o.User)
	field(b.workdir)
	field(b.hostname)
	num(int64(len(b.start)))
	for _, c := range b.start {
		field(c.Name)
		list(c.Args)
		list(c.Env)
		field(c.Cwd)
		flag(c.Wait)
	}
	field(string(b.configJSON))
	// The init by identity, not content: hashing its 700 KB took most of
	// the key's 1.5 ms. A rebuilt init is a new file or has a new ctime.
	is := &b.initStat
	for _, v := range []int64{int64(is.Dev), int64(is.Ino), is.Size, is.Mtim.Nano(), is.Ctim.Nano()} {
		num(v)
	}
	for _, db := range [][][]string{b.acc.passwd, b.acc.group} {
		num(int64(len(db)))
		for _, l := range db {
			list(l)
		}
	}
	field(string(b.resolv))
	field(b.resolvWhy)

	for _, n := range nodes {
		field(n.path)
		num(int64(n.kind))
		field(n.target)
		field(n.linkTo)
		field(n.reason)
		st := &n.st
		num(int64(st.Mode))
		num(int64(st.Uid))
		num(int64(st.Gid))
		if n.kind == kindDir {
			// A directory's times change with any entry made in it
			// (the output's own parent, /etc): only its own attributes
			// count; what is copied from it is planned path by path.
			continue
		}
		for _, v := range []int64{int64(st.Dev), int64(st.Ino), st.Size, st.Mtim.Nano(), st.Ctim.Nano()} {
			num(v)
		}
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}
