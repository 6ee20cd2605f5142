package container_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/container"
)

// A container's whole life through the container API, as the vmctr
// commands drive it. The program must also be a libcontainer init: vmctr
// re-executes itself as "vmctr init" inside the new namespaces (see
// cmd/vmctr/init.go), so this example is compiled but not run.
func Example() {
	ctx := context.Background()
	const root, id = "/run/vmctr", "web-1"

	// create: the process waits for start (the OCI "created" state).
	err := container.Create(ctx, container.CreateOpts{
		Root:    root,
		ID:      id,
		Bundle:  "/srv/bundles/web", // holds config.json and rootfs/
		PidFile: "/run/web-1.pid",
		IO:      container.IO{Stdout: os.Stdout, Stderr: os.Stderr},
	})
	if errors.Is(err, container.ErrExist) {
		log.Fatalf("%s exists already", id)
	} else if err != nil {
		log.Fatal(err)
	}
	// Make sure nothing is left whatever happens below.
	defer func() {
		if err := container.Delete(ctx, root, id, true); err != nil {
			log.Print(err)
		}
	}()

	if err := container.Start(ctx, root, id); err != nil {
		log.Fatal(err)
	}
	s, err := container.GetState(ctx, root, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Status, s.Pid)

	// exec: a second process, with the container's own defaults.
	p, err := container.DefaultExecProcess(ctx, root, id)
	if err != nil {
		log.Fatal(err)
	}
	p.Args = []string{"ps"}
	status, err := container.Exec(ctx, container.ExecOpts{Root: root, ID: id, Process: p})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ps exited with", status)

	if err := container.Kill(ctx, root, id, unix.SIGTERM, false); err != nil {
		log.Fatal(err)
	}
}

func ExampleValidateID() {
	for _, id := range []string{"web-1", "db_2.replica", "../etc", "a/b", ""} {
		err := container.ValidateID(id)
		fmt.Printf("%q valid: %v\n", id, err == nil)
	}
	// Output:
	// "web-1" valid: true
	// "db_2.replica" valid: true
	// "../etc" valid: false
	// "a/b" valid: false
	// "" valid: false
}

func ExampleParseSignal() {
	for _, s := range []string{"9", "KILL", "sigterm", "HUP", "BOGUS"} {
		sig, err := container.ParseSignal(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s -> %d\n", s, int(sig))
	}
	// Output:
	// 9 -> 9
	// KILL -> 9
	// sigterm -> 15
	// HUP -> 1
	// unknown signal "BOGUS"
}

func ExampleParseSpec() {
	spec, err := container.ParseSpec([]byte(`{
		"ociVersion": "1.0.2",
		"root": {"path": "rootfs"},
		"process": {"args": ["sh"], "cwd": "/"},
		"linux": {}
	}`))
	fmt.Println(spec.Process.Args, err)

	_, err = container.ParseSpec([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
		"process": {"args": ["sh"], "cwd": "relative"}, "linux": {}}`))
	fmt.Println(errors.Is(err, container.ErrInvalidSpec), err)
	// Output:
	// [sh] <nil>
	// true invalid container config: process.cwd "relative" is not an absolute path
}
