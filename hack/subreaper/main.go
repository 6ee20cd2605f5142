// Command subreaper runs a command as a child subreaper: processes the command
// leaves behind (orphans, such as the detached processes of runc's bats suite)
// become its children and are reaped at once, instead of waiting for the
// machine's PID 1, which here may reap late (a zombie still answers kill -0,
// and the suite checks that killed processes are gone within two seconds).
// It forwards SIGINT, SIGTERM and SIGHUP to the command and exits with the
// command's status (128+signal if it was killed).
//
// Usage: subreaper COMMAND [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: subreaper COMMAND [ARG...]")
		os.Exit(2)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "subreaper: becoming a subreaper: %v\n", err)
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "subreaper: %v\n", err)
		os.Exit(2)
	}
	// Reap with wait4 ourselves (not cmd.Wait), so that no exit is missed.
	pid := cmd.Process.Pid
	for s := range sigs {
		if s != unix.SIGCHLD {
			_ = unix.Kill(pid, s.(unix.Signal))
			continue
		}
		for {
			var ws unix.WaitStatus
			p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || p <= 0 {
				break
			}
			if p != pid {
				continue
			}
			// Orphans still running are reparented to our parent's
			// subreaper (or init) when we exit.
			if ws.Signaled() {
				os.Exit(128 + int(ws.Signal()))
			}
			os.Exit(ws.ExitStatus())
		}
	}
}
