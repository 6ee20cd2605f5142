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
		// checkpoint and restore take runc's flags, which move too
		{"vmctr checkpoint ct --image-path /i --leave-running", "vmctr checkpoint --image-path /i --leave-running ct"},
		{"vmctr restore ct -b /b -d", "vmctr restore -b /b -d ct"},
	} {
		got := reorderArgs(app, strings.Fields(tc.in))
		if want := strings.Fields(tc.want); !slices.Equal(got, want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.in, got, want)
		}
	}
}

// Wrong argument counts are errors in runc's words that name what was
// wrong; a command that takes no arguments says so.
func TestArgCountError(t *testing.T) {
	app := newApp()
	for _, tc := range []struct {
		cmd      string
		got      []string
		min, max int
		want     string
	}{
		{"state", nil, 1, 1, `"state" requires exactly 1 argument(s) (<container-id>), got 0`},
		{"state", []string{"a", "b"}, 1, 1, `"state" requires exactly 1 argument(s) (<container-id>), got 2; unexpected "b"`},
		{"kill", nil, 1, 2, `"kill" requires a minimum of 1 argument(s) (<container-id> [signal]), got 0`},
		{"kill", []string{"a", "TERM", "x", "y"}, 1, 2, `"kill" requires a maximum of 2 argument(s) (<container-id> [signal]), got 4; unexpected "x", "y"`},
		{"exec", nil, 1, -1, `"exec" requires a minimum of 1 argument(s) (<container-id> [command [args...]]), got 0`},
		{"build", []string{"pos2"}, 0, 0, `build takes no arguments; unexpected "pos2" (a flag value without its flag?)`},
		{"features", []string{"x", "y z"}, 0, 0, `features takes no arguments; unexpected "x", "y z"`},
	} {
		cmd := app.Command(tc.cmd)
		if cmd == nil {
			t.Fatalf("no command %s", tc.cmd)
		}
		if got := argCountError(cmd, tc.got, tc.min, tc.max).Error(); got != tc.want {
			t.Errorf("%s %q:\n got %s\nwant %s", tc.cmd, tc.got, got, tc.want)
		}
	}
}

// --rootless takes runc's values; a command name there is the command the
// flag swallowed.
func TestCheckRootless(t *testing.T) {
	app := newApp()
	for v, want := range map[string]string{
		"": "", "auto": "", "AUTO": "", "true": "", "false": "", "1": "", "0": "", "FALSE": "",
		"bogus": `--rootless "bogus": want true, false or auto`,
		"list":  `took the command as one: write --rootless=VALUE list`,
	} {
		err := checkRootless(app, v)
		switch {
		case want == "" && err != nil:
			t.Errorf("--rootless %q: %v", v, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("--rootless %q: %v, want an error containing %q", v, err, want)
		}
	}
}
