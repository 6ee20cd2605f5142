package container

import (
	"os"
	"os/signal"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/system"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// forwarder relays signals vmctr receives to an attached container process,
// reaps children (vmctr is a subreaper while attached) and reports the
// process's exit status.
//
// Catching a signal costs the Go runtime a round trip to its signal-mask
// thread, and catching all of them (signal.Notify without a list) takes
// 64 round trips: about 2.5 ms on a small VM, and as much again to stop.
// So newForwarder does that work in the background, overlapping the
// caller's set-up, ready waits for it, and stop undoes it in the background.
type forwarder struct {
	c     chan os.Signal
	ready chan struct{} // closed once every signal is caught
}

// newForwarder starts catching every signal and becomes a subreaper.
// Call it as early as possible, and wait for ready before the process
// starts: from then on no signal meant for the container kills vmctr
// instead, and no SIGCHLD is missed.
func newForwarder() *forwarder {
	f := &forwarder{c: make(chan os.Signal, 2048), ready: make(chan struct{})}
	go func() {
		defer close(f.ready)
		if err := system.SetSubreaper(1); err != nil {
			logrus.Warnf("becoming a subreaper: %v", err)
		}
		signal.Notify(f.c)
	}()
	return f
}

// waitReady blocks until every signal is caught.
func (f *forwarder) waitReady() { <-f.ready }

// stop stops catching signals without waiting for the runtime to finish
// (the caller is done with the process; signals still delivered to f.c
// meanwhile are dropped once its buffer is full, never blocking).
func (f *forwarder) stop() {
	go func() {
		<-f.ready
		signal.Stop(f.c)
	}()
}

// wait forwards signals until p exits and returns its exit status
// (128+signal if it was killed).
func (f *forwarder) wait(p *libcontainer.Process, io *stdio) (int, error) {
	f.waitReady()
	pid, err := p.Pid()
	if err != nil {
		return -1, err
	}
	io.resize()
	// The process may have exited before we were ready to reap it.
	if st, ok := reapAll(pid); ok {
		_, _ = p.Wait()
		return st, nil
	}
	for s := range f.c {
		switch s {
		case unix.SIGWINCH:
			io.resize()
		case unix.SIGCHLD:
			if st, ok := reapAll(pid); ok {
				_, _ = p.Wait()
				return st, nil
			}
		case unix.SIGURG: // Go's runtime preemption; never the container's
		default:
			if err := p.Signal(s); err != nil {
				logrus.Debugf("forwarding %v to %d: %v", s, pid, err)
			}
		}
	}
	return -1, nil
}

// reapAll reaps every exited child and reports the status of pid if it was
// among them.
func reapAll(pid int) (status int, found bool) {
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || p <= 0 {
			return status, found
		}
		if p == pid {
			status, found = utils.ExitStatus(ws), true
		}
	}
}
