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
type forwarder struct {
	c chan os.Signal
}

// newForwarder must be called before the process starts so that no SIGCHLD
// is missed.
func newForwarder() *forwarder {
	if err := system.SetSubreaper(1); err != nil {
		logrus.Warnf("becoming a subreaper: %v", err)
	}
	f := &forwarder{c: make(chan os.Signal, 2048)}
	signal.Notify(f.c)
	return f
}

func (f *forwarder) stop() { signal.Stop(f.c) }

// wait forwards signals until p exits and returns its exit status
// (128+signal if it was killed).
func (f *forwarder) wait(p *libcontainer.Process, io *stdio) (int, error) {
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
