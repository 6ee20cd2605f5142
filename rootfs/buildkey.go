package rootfs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"time"

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
	h := sha256.New()
	var buf [8]byte
	num := func(v int64) { binary.LittleEndian.PutUint64(buf[:], uint64(v)); h.Write(buf[:]) }
	field := func(s string) { num(int64(len(s))); h.Write([]byte(s)) }
	field(buildKeyVersion)

	o := b.o
	opts, _ := json.Marshal(struct {
		SourceRoot                      string
		Apps, Packages, Files, Excludes []string
		Trace                           bool
		TraceTimeout, StopTimeout       time.Duration
		Start                           []Command
		User                            string
		KeepUsers, Env                  []string
		Workdir, Hostname               string
		KeepSetuid                      bool
		UsernsBase                      uint32
		Users, Groups                   []string
	}{
		b.srcRoot, o.Apps, o.Packages, o.Files, o.Excludes, o.Trace, o.TraceTimeout, o.StopTimeout,
		b.start, o.User, o.KeepUsers, o.Env, b.workdir, b.hostname, o.KeepSetuid, o.UsernsBase, found.Users, found.Groups,
	})
	field(string(opts))
	field(string(b.configJSON))
	field(string(b.initProg))
	acc, _ := json.Marshal([][][]string{b.acc.passwd, b.acc.group})
	field(string(acc))
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
	return hex.EncodeToString(h.Sum(nil))
}
