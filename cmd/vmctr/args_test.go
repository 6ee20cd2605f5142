package main

import (
	"slices"
	"strings"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want string }{
		// flags after the ID move in front of it (runc's urfave/cli v1 does this)
		{"vmctr update ct --cpuset-cpus 1", "vmctr update --cpuset-cpus 1 ct"},
		{"vmctr update ct --memory -1 --pids-limit=5", "vmctr update --memory -1 --pids-limit=5 ct"},
		{"vmctr --root /r delete ct --force", "vmctr --root /r delete --force ct"},
		{"vmctr --debug --root=/r kill ct KILL -a", "vmctr --debug --root=/r kill -a ct KILL"},
		{"vmctr run ct -d --bundle b", "vmctr run -d --bundle b ct"},
		{"vmctr list -q", "vmctr list -q"},
		{"vmctr state ct --help", "vmctr state --help ct"},
		// already in order: unchanged
		{"vmctr run -d --bundle b ct", "vmctr run -d --bundle b ct"},
		// exec and ps pass what follows the ID on
		{"vmctr exec ct ls --all", "vmctr exec ct ls --all"},
		{"vmctr ps ct -ef", "vmctr ps ct -ef"},
		// after "--" nothing moves; unknown flags are left for the parser
		{"vmctr delete -- -ct --force", "vmctr delete -- -ct --force"},
		{"vmctr delete ct --nope", "vmctr delete ct --nope"},
		// no command, unknown command, value flag at the end
		{"vmctr --root /r", "vmctr --root /r"},
		{"vmctr frob ct --force", "vmctr frob ct --force"},
		{"vmctr update ct --memory", "vmctr update --memory ct"},
	} {
		got := reorderArgs(app, strings.Fields(tc.in))
		if want := strings.Fields(tc.want); !slices.Equal(got, want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.in, got, want)
		}
	}
}
