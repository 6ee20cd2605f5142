// Package container owns the lifecycle of vmctr containers: it turns an OCI
// bundle into a running container (create, start, run, exec), signals,
// pauses, updates, inspects and deletes it, and owns the state directory
// under the runtime root.
//
// It is the only package that uses github.com/opencontainers/runc/libcontainer.
// Callers (cmd/vmctr) pass plain option structs and get plain values back;
// sentinel errors they may test with errors.Is are listed in errors.go.
// Library code never prints: output goes to the io.Writer in the options, and
// warnings go to logrus at Warn level.
package container
