package container

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestExecWatch(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		// The shell replaces itself with another program: an execve.
		{name: "execve", script: "read _; exec sleep 5"},
		// The shell exits without executing anything else.
		{name: "exit", script: "read _; exit 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", "-c", tt.script)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Kill()
				<-done
			}()
			w := watchExec(cmd.Process.Pid)
			if w == nil {
				t.Fatal("watchExec returned nil for a live process")
			}

			// Still the shell: wait must not return.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			w.wait(ctx)
			cancel()
			if ctx.Err() == nil {
				t.Fatal("wait returned before the process executed anything")
			}

			// Release the shell; wait returns once it has exec'd or exited.
			if _, err := stdin.Write([]byte("go\n")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			w.wait(ctx)
			if ctx.Err() != nil {
				t.Fatalf("wait did not notice the %s within %v", tt.name, time.Since(start))
			}
		})
	}
}

func TestExecWatchNil(t *testing.T) {
	var w *execWatch
	w.wait(context.Background()) // must not block or panic
	if w := watchExec(1 << 30); w != nil {
		t.Errorf("watchExec of a pid that does not exist = %+v, want nil", w)
	}
}
