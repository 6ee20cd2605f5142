package main

import (
	"io"
	"strings"
	"testing"
)

// runApp runs vmctr's command line in-process (no container is touched:
// the commands tested here fail before they would) and returns its error.
func runApp(t *testing.T, args ...string) error {
	t.Helper()
	app := newApp()
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	return app.Run(reorderArgs(app, append([]string{"vmctr", "--root", t.TempDir()}, args...)))
}

// Every flag of runc 1.1.5's and 1.5.2's checkpoint and restore parses, and
// the commands fail saying they are not supported.
func TestCheckpointRestoreFlags(t *testing.T) {
	for _, args := range [][]string{
		{"checkpoint", "--image-path", "/i", "--work-path", "/w", "--parent-path", "../p", "--leave-running",
			"--tcp-established", "--tcp-skip-in-flight", "--link-remap", "--ext-unix-sk", "--shell-job", "--lazy-pages",
			"--status-fd", "5", "--page-server", "127.0.0.1:9", "--file-locks", "--pre-dump",
			"--manage-cgroups-mode", "soft", "--empty-ns", "network", "--auto-dedup", "ct"},
		{"checkpoint", "ct", "--image-path", "/i", "--leave-running"},
		{"restore", "-b", "/b", "-d", "ct"},
		{"restore", "--console-socket", "/s", "--image-path", "/i", "--work-path", "/w", "--tcp-established",
			"--ext-unix-sk", "--shell-job", "--file-locks", "--manage-cgroups-mode", "full", "--bundle", "/b",
			"--detach", "--pid-file", "/p", "--no-subreaper", "--no-pivot", "--empty-ns", "network",
			"--auto-dedup", "--lazy-pages", "--lsm-profile", "apparmor:x", "--lsm-mount-context", "ctx", "ct"},
	} {
		err := runApp(t, args...)
		if err == nil || !strings.Contains(err.Error(), args[0]+" is not supported") || errorExitCode(err) != 1 {
			t.Errorf("vmctr %s: %v (exit %d), want %q, exit 1", strings.Join(args, " "), err, errorExitCode(err), args[0]+" is not supported")
		}
	}
}

// An unknown command exits 3, as with runc; asked for help, it keeps
// urfave/cli's words, which runc's help.bats matches.
func TestUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"bogus", "ct", "--force"}, `unknown command "bogus"`},
		{[]string{"bogus", "-h"}, "No help topic for 'bogus'"},
		{[]string{"help", "bogus"}, "No help topic for 'bogus'"},
	} {
		err := runApp(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errorExitCode(err) != 3 {
			t.Errorf("vmctr %s: %v (exit %d), want %q, exit 3", strings.Join(tc.args, " "), err, errorExitCode(err), tc.want)
		}
	}
	if err := runApp(t); err != nil {
		t.Errorf("vmctr without a command: %v, want the help", err)
	}
}
