package main

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec runs before Go in "vmctr init"
)

// The container's init process is vmctr re-executed as "vmctr init":
// libcontainer/nsenter's constructor has already joined or created the
// namespaces; libcontainer.Init finishes the set-up and execs the user's
// process. It never returns.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}
