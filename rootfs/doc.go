// Package rootfs builds a container from programs installed on a server: it
// asks rootfs/elfdeps which files the programs need, copies them into a new,
// private root file system (never linking or mounting a host file into it),
// writes the few files a container needs changed (/etc/passwd, /etc/group,
// /etc/hosts, /etc/hostname, /etc/resolv.conf), the manifest that says why
// each file is there, and the execution file with its init program, and
// hands the result over as an OCI bundle.
//
// rootfs owns the bundle it writes until Build returns; afterwards the
// bundle belongs to whoever runs it. It reads definition files (ParseDefinition)
// and manifests (ReadManifest). It does not run containers (package container
// does) and does not decide which files are needed (package elfdeps does).
package rootfs
