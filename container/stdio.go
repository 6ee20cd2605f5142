package container

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// IO says where a container process's standard streams go.
type IO struct {
	// Stdin, Stdout and Stderr are handed to the process as they are (no
	// copying) when it has no terminal. Nil means vmctr's own.
	Stdin, Stdout, Stderr *os.File
	// ConsoleSocket is the path of an AF_UNIX socket that receives the pty
	// master (SCM_RIGHTS) when the process has a terminal and vmctr detaches.
	ConsoleSocket string
	// PidfdSocket is the path of an AF_UNIX socket that receives a pidfd of
	// the process (SCM_RIGHTS) once it runs, as with runc --pidfd-socket.
	PidfdSocket string
}

// stdio is the host side of a process's streams while vmctr is attached.
type stdio struct {
	postStart []io.Closer // our copies of fds handed to the process
	hostCons  console.Console
	cons      console.Console
	consC     chan error
	wg        sync.WaitGroup
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// setupIO wires a libcontainer process's streams. With a terminal and
// detach, the pty master goes to the console socket; with a terminal and no
// detach, vmctr relays between its own terminal and the pty; without a
// terminal the process gets the given fds directly.
func setupIO(p *libcontainer.Process, o IO, terminal, detach bool) (*stdio, error) {
	s := &stdio{}
	if o.PidfdSocket != "" {
		f, err := dialSocket(o.PidfdSocket)
		if err != nil {
			return nil, fmt.Errorf("connecting to pidfd socket: %w", err)
		}
		s.postStart = append(s.postStart, f)
		p.PidfdSocket = f
	}
	if !terminal {
		if o.ConsoleSocket != "" {
			return nil, errors.New("--console-socket given but the process has no terminal")
		}
		p.Stdin = orStd(o.Stdin, os.Stdin)
		p.Stdout = orStd(o.Stdout, os.Stdout)
		p.Stderr = orStd(o.Stderr, os.Stderr)
		return s, nil
	}
	if detach {
		if o.ConsoleSocket == "" {
			return nil, errors.New("the process has a terminal but vmctr detaches: --console-socket is required")
		}
		f, err := dialSocket(o.ConsoleSocket)
		if err != nil {
			return nil, fmt.Errorf("connecting to console socket: %w", err)
		}
		s.postStart = append(s.postStart, f)
		p.ConsoleSocket = f
		return s, nil
	}
	if o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket can only be used with a detached process")
	}
	hc, err := hostConsole()
	if err != nil {
		return nil, fmt.Errorf("the process wants a terminal but vmctr has none (use --detach with --console-socket, or run under a tty): %w", err)
	}
	s.hostCons = hc
	// The pty starts at our terminal's size (resize() follows it later):
	// the process must not see a 0x0 terminal before the first resize.
	if ws, err := hc.Size(); err == nil && ws.Width > 0 && ws.Height > 0 {
		p.ConsoleWidth, p.ConsoleHeight = ws.Width, ws.Height
	}
	parent, child, err := utils.NewSockPair("console")
	if err != nil {
		return nil, err
	}
	p.ConsoleSocket = child
	s.postStart = append(s.postStart, parent, child)
	s.consC = make(chan error, 1)
	go func() { s.consC <- s.relay(parent) }()
	return s, nil
}

// dialSocket connects to the AF_UNIX socket at path and returns the
// connection as a file, to hand to libcontainer.
func dialSocket(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func hostConsole() (console.Console, error) {
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if c, err := console.ConsoleFromFile(f); err == nil {
			return c, nil
		}
	}
	f, err := os.Open("/dev/tty")
	if err != nil {
		return nil, err
	}
	return console.ConsoleFromFile(f)
}

// relay receives the pty master and copies between it and our terminal.
func (s *stdio) relay(sock *os.File) error {
	master, err := recvFd(sock)
	if err != nil {
		return fmt.Errorf("receiving pty master: %w", err)
	}
	cons, err := console.ConsoleFromFile(master)
	if err != nil {
		return err
	}
	_ = console.ClearONLCR(cons.Fd())
	s.cons = cons
	if err := s.hostCons.SetRaw(); err != nil {
		return fmt.Errorf("setting terminal raw: %w", err)
	}
	go func() { _, _ = io.Copy(cons, os.Stdin) }()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_, _ = io.Copy(os.Stdout, cons)
	}()
	go func() { // a ^C in raw mode reaches the container, not us; but be safe
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		<-c
		_ = s.hostCons.Reset()
	}()
	return nil
}

func recvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, 0)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("expected one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("expected one fd (%v)", err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// waitConsole waits until the pty is set up (attached terminal only).
func (s *stdio) waitConsole() error {
	if s.consC == nil {
		return nil
	}
	return <-s.consC
}

func (s *stdio) resize() {
	if s.cons != nil && s.hostCons != nil {
		_ = s.cons.ResizeFrom(s.hostCons)
	}
}

func (s *stdio) closePostStart() {
	for _, c := range s.postStart {
		_ = c.Close()
	}
	s.postStart = nil
}

// Close releases everything and restores our terminal. The process is gone.
func (s *stdio) Close() {
	s.closePostStart()
	if s.cons != nil {
		// The copy ends when the pty's last slave fd closes; a process the
		// container left in the background may hold one, so do not wait long.
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		_ = s.cons.Close()
	}
	if s.hostCons != nil {
		_ = s.hostCons.Reset()
	}
}
