package container

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRecordRoundTrip(t *testing.T) {
	st := store{root: t.TempDir()}
	if err := os.Mkdir(st.dir("c1"), 0o700); err != nil {
		t.Fatal(err)
	}
	want := &Record{
		ID: "c1", Bundle: "/b", Created: time.Now().UTC(),
		CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/vmctr/c1", "": "/sys/fs/cgroup/unified/vmctr/c1"},
		Poststart:   []specs.Hook{{Path: "/bin/true"}},
		Process:     &specs.Process{Args: []string{"sh"}, Cwd: "/"},
		Annotations: map[string]string{"a": "b"},
	}
	if err := st.saveRecord(want); err != nil {
		t.Fatal(err)
	}
	want.Bundle = "/b2" // overwrite in place
	if err := st.saveRecord(want); err != nil {
		t.Fatal(err)
	}
	got, err := st.loadRecord("c1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loadRecord = %+v, want %+v", got, want)
	}
	ents, _ := os.ReadDir(st.dir("c1"))
	if len(ents) != 1 || ents[0].Name() != recordFile {
		t.Errorf("state dir holds %v, want only %s (no temp files)", ents, recordFile)
	}
	if fi, err := os.Stat(filepath.Join(st.dir("c1"), recordFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode: %v %v", fi.Mode(), err)
	}

	// A torn record is an error, not a zero record.
	if err := os.WriteFile(filepath.Join(st.dir("c1"), recordFile), []byte(`{"id": "c1", "bund`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.loadRecord("c1"); err == nil {
		t.Error("loadRecord accepted a torn record")
	}
	// No state dir: saving fails and creates nothing.
	if err := st.saveRecord(&Record{ID: "gone"}); err == nil {
		t.Error("saveRecord without a state dir succeeded")
	}
}

func TestStoreIDs(t *testing.T) {
	st := store{root: filepath.Join(t.TempDir(), "missing")}
	if ids, err := st.ids(); err != nil || ids != nil {
		t.Errorf("ids of a missing root = %v, %v", ids, err)
	}
	st.root = t.TempDir()
	for _, d := range []string{"b", "a", lockDir, ".hidden", "bad name"} {
		if err := os.Mkdir(filepath.Join(st.root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(st.root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := st.ids()
	if err != nil || !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("ids = %v, %v; want [a b]", ids, err)
	}
}

func TestLockExclusive(t *testing.T) {
	st := store{root: t.TempDir()}
	unlock, err := st.lock("c1")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func())
	go func() {
		u, err := st.lock("c1")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("a second lock was granted while the first is held")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	unlock() // idempotent
	select {
	case u := <-got:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("the second lock was not granted after unlock")
	}
	// Other IDs do not wait.
	u1, err := st.lock("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	done := make(chan struct{})
	go func() {
		if u, err := st.lock("c2"); err == nil {
			u()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the lock of c2 waited for c1's")
	}
}

// Lock files of IDs without a state dir are removed at unlock, even while
// others wait for them; mutual exclusion must survive that.
func TestLockFileRemoval(t *testing.T) {
	st := store{root: t.TempDir()}
	lockFile := filepath.Join(st.root, lockDir, "c1")

	u, err := st.lock("c1")
	if err != nil {
		t.Fatal(err)
	}
	u()
	if _, err := os.Stat(lockFile); err == nil {
		t.Error("lock file of an ID without a state dir stays after unlock")
	}
	if err := os.Mkdir(st.dir("c1"), 0o700); err != nil {
		t.Fatal(err)
	}
	u, err = st.lock("c1")
	if err != nil {
		t.Fatal(err)
	}
	u()
	if _, err := os.Stat(lockFile); err != nil {
		t.Errorf("lock file of an existing container removed: %v", err)
	}
	if err := os.Remove(st.dir("c1")); err != nil {
		t.Fatal(err)
	}

	var holders, max atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				u, err := st.lock("c1")
				if err != nil {
					t.Error(err)
					return
				}
				if n := holders.Add(1); n > max.Load() {
					max.Store(n)
				}
				time.Sleep(10 * time.Microsecond)
				holders.Add(-1)
				u()
			}
		}()
	}
	wg.Wait()
	if max.Load() != 1 {
		t.Errorf("%d goroutines held the lock at once", max.Load())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for _, data := range []string{"first", "second, longer", ""} {
		if err := writeFileAtomic(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != data {
			t.Errorf("content %q, %v; want %q", b, err, data)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	if err := writeFileAtomic(filepath.Join(dir, "no", "such", "dir"), nil, 0o600); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
