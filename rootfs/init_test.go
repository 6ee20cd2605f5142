package rootfs

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runInit runs the init program (not as PID 1: it then becomes a child
// subreaper) on an execution file and returns its output and exit status.
func runInit(t *testing.T, rf any, signal func(*exec.Cmd)) (string, string, int) {
	t.Helper()
	init := testInit(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "run.json")
	var b []byte
	switch v := rf.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(init, p)
	cmd.Dir = dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if signal != nil {
		signal(cmd)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the init did not exit\nstdout: %s\nstderr: %s", out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestInit(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	t.Run("in order, last status", func(t *testing.T) {
		out, _, code := runInit(t, RunFile{Version: 1, StopTimeout: 5, Apps: []Command{
			{Name: "setup", Args: sh("sleep 0.2; echo setup"), Wait: true},
			{Args: sh("echo second"), Env: []string{"X=1"}},
			{Args: sh(`echo "third $X $Y"`), Env: []string{"Y=2"}},
		}}, nil)
		if code != 0 || !strings.HasPrefix(out, "setup\n") || !strings.Contains(out, "third  2") || !strings.Contains(out, "second") {
			t.Errorf("exit %d, output %q", code, out)
		}
	})
	t.Run("first failure stops the others", func(t *testing.T) {
		start := time.Now()
		out, errOut, code := runInit(t, RunFile{Version: 1, StopTimeout: 5, Apps: []Command{
			{Name: "server", Args: sh("trap 'echo stopped; exit 0' TERM; while :; do sleep 0.05; done")},
			{Name: "job", Args: sh("sleep 0.2; exit 3")},
		}}, nil)
		if code != 3 || !strings.Contains(out, "stopped") || !strings.Contains(errOut, "job exited with status 3") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("a failed setup step starts nothing else", func(t *testing.T) {
		out, _, code := runInit(t, RunFile{Version: 1, Apps: []Command{
			{Args: sh("exit 4"), Wait: true},
			{Args: sh("echo should-not-run")},
		}}, nil)
		if code != 4 || strings.Contains(out, "should-not-run") {
			t.Errorf("exit %d, output %q", code, out)
		}
	})
	t.Run("signals are forwarded", func(t *testing.T) {
		out, _, code := runInit(t, RunFile{Version: 1, Apps: []Command{
			{Args: sh("trap 'echo usr1; exit 5' USR1; while :; do sleep 0.05; done")},
		}}, func(c *exec.Cmd) {
			time.Sleep(300 * time.Millisecond)
			_ = c.Process.Signal(syscall.SIGUSR1)
		})
		if code != 5 || !strings.Contains(out, "usr1") {
			t.Errorf("exit %d, output %q", code, out)
		}
	})
	t.Run("stop timeout kills", func(t *testing.T) {
		start := time.Now()
		_, errOut, code := runInit(t, RunFile{Version: 1, StopTimeout: 1, Apps: []Command{
			{Args: sh("trap '' TERM; sleep 30 & wait")},
		}}, func(c *exec.Cmd) {
			time.Sleep(300 * time.Millisecond)
			_ = c.Process.Signal(syscall.SIGTERM)
		})
		if code != 128+9 || !strings.Contains(errOut, "killing them") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("working directory and PATH", func(t *testing.T) {
		out, _, code := runInit(t, RunFile{Version: 1, Apps: []Command{{Args: []string{"pwd"}, Cwd: "/tmp"}}}, nil)
		if code != 0 || strings.TrimSpace(out) != "/tmp" {
			t.Errorf("exit %d, output %q", code, out)
		}
	})
	for _, tc := range []struct {
		name, file, want string
		code             int
	}{
		{"missing program", `{"version":1,"apps":[{"args":["/nonexistent/prog"]}]}`, "executing /nonexistent/prog: No such file", 127},
		{"bad directory", `{"version":1,"apps":[{"args":["/bin/true"],"cwd":"/nonexistent"}]}`, "changing to directory /nonexistent", 127},
		{"malformed", "{\"version\":1,\n\"apps\": [}", "run.json:2:", 127},
		{"no apps", `{"version":1,"apps":[]}`, "lists no apps", 127},
		{"no args", `{"version":1,"apps":[{"name":"x"}]}`, "app 1 has no args", 127},
		{"version", `{"version":2,"apps":[{"args":["/bin/true"]}]}`, "unsupported version", 127},
		{"unknown keys are ignored", `{"version":1,"new":{"a":[1,2.5e3,null,true,"\u00e9"]},"apps":[{"args":["/bin/true"],"later":false}]}`, "", 0},
		{"escapes", `{"version":1,"apps":[{"args":["/bin/sh","-c","test \"$0\" = \"a\tb\\\"c\u00e9\"","a\tb\"c\u00e9"]}]}`, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runInit(t, tc.file, nil)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errOut, tc.want)
			}
		})
	}
}
