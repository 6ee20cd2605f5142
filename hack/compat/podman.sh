#!/usr/bin/env bash
# podman.sh RUNTIME - drive an OCI runtime through podman + conmon, as a user
# of `podman --runtime RUNTIME` would, and check what comes out.
#
#   hack/compat/podman.sh /usr/sbin/runc      # the reference
#   hack/compat/podman.sh $PWD/vmctr          # the same flows through vmctr
#
# Self-contained and non-interactive: a private podman store, run root, tmp
# dir and containers.conf under a temp dir; cgroups under /vmctr/compat-*
# (cgroupfs manager); --network none; a locally imported busybox-static image
# (no registry). An argv-logging wrapper around RUNTIME records every call
# conmon and podman make; the log is printed at the end. Terminals come from
# script(1). Everything is removed at exit (KEEP=1 keeps the temp dir).
# Skips (exit 0) if podman or conmon is not installed; exit 1 if a check
# fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/compat/lib.sh
. "$HERE/lib.sh"

for b in podman conmon script; do
	command -v "$b" >/dev/null 2>&1 || skip "$b is not installed (apt-get install podman conmon)"
done
# podman passes no --root: the wrapper adds one in the temp dir, so that
# nothing of these containers can outlive the test in /run/runc or /run/vmctr.
RUNTIME_ROOT=runtime-root
compat_init podman "${1:-}"

# --- private podman configuration ------------------------------------------

mkdir -p "$T/root" "$T/runroot" "$T/tmp"
cat >"$T/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$T/root"
runroot = "$T/runroot"
EOF
ulimits=""
if nocap_sys_resource; then
	# podman asks for RLIMIT_NOFILE 1048576, which needs CAP_SYS_RESOURCE
	# to raise the hard limit; stay at what we have (see known pitfalls).
	ulimits='default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
	say "note: no CAP_SYS_RESOURCE here; containers get nofile/nproc 1024 instead of podman's defaults"
fi
cat >"$T/containers.conf" <<EOF
[containers]
$ulimits
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
lock_type = "file"
tmp_dir = "$T/tmp"
static_dir = "$T/root/libpod"
volume_path = "$T/root/volumes"
EOF
export CONTAINERS_CONF=$T/containers.conf
export CONTAINERS_STORAGE_CONF=$T/storage.conf
export TMPDIR=$T/tmp
P=(podman --root "$T/root" --runroot "$T/runroot" --tmpdir "$T/tmp" --storage-driver vfs
	--cgroup-manager cgroupfs --events-backend file --runtime "$WRAPPER")
RUNOPTS=(--network none --cgroup-parent "/$CGPARENT")
# Stop and remove whatever podman still knows about, then its storage
# (vfs: plain directories), before the generic cleanup.
on_cleanup '"${P[@]}" rm -a -f -t 0; "${P[@]}" rmi -a -f'
pod() { "${P[@]}" "$@"; }
# the podman command line as one shell string (for script -c)
podstr() { printf '%q ' "${P[@]}" "$@"; }

IMG=localhost/vmctr-compat-busybox:latest
tar -C "$T/rootfs" -c . | pod import --quiet --change CMD=/bin/sh - "$IMG" >/dev/null

memfile='cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'

# --- attached, no terminal --------------------------------------------------

capture "${P[@]}" run --rm "${RUNOPTS[@]}" "$IMG" sh -c 'echo out; echo err >&2; exit 3'
expect_rc "run attached: exit code passed through" 3
expect_has "run attached: stdout" out "$OUT"
expect_has "run attached: stderr" err "$OUT"

capture_in $'line1\nline2\n' "${P[@]}" run --rm -i "${RUNOPTS[@]}" "$IMG" sh -c 'cat; tty || true'
expect_rc "run -i: exit 0" 0
expect_has "run -i: stdin reaches the container" $'line1\nline2' "$OUT"
expect_has "run -i: no terminal" "not a tty" "$OUT"

capture "${P[@]}" run --rm "${RUNOPTS[@]}" -u 1234:5678 -e FOO=bar -w /tmp --hostname box1 "$IMG" \
	sh -c 'id; echo FOO=$FOO; pwd; hostname'
expect_rc "run -u/-e/-w: exit 0" 0
expect_match "run -u 1234:5678" "uid=1234[( ].*gid=5678" "$OUT"
expect_has "run -e FOO=bar" "FOO=bar" "$OUT"
expect_has "run -w /tmp" "/tmp" "$OUT"
expect_has "run --hostname" "box1" "$OUT"

capture "${P[@]}" run --rm "${RUNOPTS[@]}" -m 64m "$IMG" sh -c "$memfile"
expect_rc "run -m 64m: exit 0" 0
expect_has "run -m 64m: limit seen inside" 67108864 "$OUT"

# --- what else podman puts in config.json ----------------------------------

mkdir -p "$T/vol"
echo from-host >"$T/vol/f"
capture "${P[@]}" run --rm "${RUNOPTS[@]}" -v "$T/vol:/data" --tmpfs /scratch:size=1m --read-only "$IMG" \
	sh -c 'cat /data/f; echo x >/data/g; echo y >/scratch/z && echo tmpfs-ok; touch /ro 2>&1 || true; grep -E " /scratch " /proc/mounts'
expect_rc "run -v/--tmpfs/--read-only: exit 0" 0
expect_has "run -v: bind mount readable" from-host "$OUT"
expect_eq "run -v: bind mount writable" x "$(cat "$T/vol/g" 2>/dev/null)"
expect_has "run --tmpfs: writable tmpfs" tmpfs-ok "$OUT"
expect_match "run --read-only: root is read-only" "Read-only file system" "$OUT"

capture "${P[@]}" run --rm "${RUNOPTS[@]}" --privileged "$IMG" sh -c 'grep CapEff /proc/self/status; grep Seccomp: /proc/self/status; ls /dev | wc -l'
expect_rc "run --privileged: exit 0" 0
expect_match "run --privileged: every capability we have" "CapEff:[[:space:]]+$(awk '/^CapEff:/ { print $2 }' /proc/self/status)" "$OUT"
expect_match "run --privileged: no seccomp filter" "Seccomp:[[:space:]]+0" "$OUT"

capture "${P[@]}" run --rm "${RUNOPTS[@]}" --cap-drop all --cap-add NET_RAW --security-opt no-new-privileges "$IMG" \
	sh -c 'grep -E "CapEff|NoNewPrivs|Seccomp:" /proc/self/status'
expect_rc "run --cap-drop/--cap-add/no-new-privileges: exit 0" 0
expect_match "run --cap-drop all --cap-add NET_RAW: only CAP_NET_RAW" "CapEff:[[:space:]]+0+2000" "$OUT"
expect_match "run --security-opt no-new-privileges" "NoNewPrivs:[[:space:]]+1" "$OUT"
expect_match "run: podman's seccomp profile is loaded" "Seccomp:[[:space:]]+2" "$OUT"

# --init needs catatonit (a Recommends of podman's package)
init=()
[ -x /usr/libexec/podman/catatonit ] && init=(--init) || say "note: no /usr/libexec/podman/catatonit: not testing --init"
capture "${P[@]}" run --rm "${RUNOPTS[@]}" --pids-limit 50 --sysctl net.ipv4.ip_forward=1 --oom-score-adj 300 --shm-size 8m "${init[@]}" "$IMG" \
	sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj; df -k /dev/shm | tail -n 1; cat /proc/1/cmdline | tr "\0" " "; echo; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
expect_rc "run --pids-limit/--sysctl/--oom-score-adj/--shm-size ${init[*]}: exit 0" 0
expect_eq "run --sysctl net.ipv4.ip_forward=1, --oom-score-adj 300" "1 300" "$(printf '%s\n' "$OUT" | head -n 2 | tr '\n' ' ' | sed 's/ $//')"
expect_match "run --shm-size 8m" " 8192 " "$OUT"
[ ${#init[@]} = 0 ] || expect_match "run --init: podman's init is PID 1" "^/run/podman-init -- sh" "$OUT"
expect_eq "run --pids-limit 50" 50 "$(printf '%s\n' "$OUT" | tail -n 1)"

capture "${P[@]}" run --rm "${RUNOPTS[@]}" --uidmap 0:200000:65536 --gidmap 0:200000:65536 "$IMG" \
	sh -c 'id -u; cat /proc/self/uid_map; touch /tmp/f && stat -c %u /tmp/f'
expect_rc "run --uidmap/--gidmap (user namespace): exit 0" 0
expect_match "run --uidmap: the mapping is in place" "^ +0 +200000 +65536$" "$OUT"
expect_eq "run --uidmap: root inside, files written as it" "0 0" "$(printf '%s\n' "$OUT" | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"

# --- attached, with a terminal ----------------------------------------------

with_tty "$(podstr run --rm -i -t "${RUNOPTS[@]}" "$IMG" sh -c 'tty; echo READY; read x; echo got:$x; exit 7')"
expect_rc "run -it: exit code back through the pty" 7
expect_match "run -it: tty is a /dev/pts" '/dev/pts/[0-9]+' "$OUT"
expect_has "run -it: typed input reaches the container" "got:hello" "$OUT"

# --- detached: exec, pause, update, stop, restart, kill, rm -----------------

# PID 1 reports SIGTERM and SIGUSR1 and exits 0 on SIGTERM.
handler='trap "echo got-USR1" USR1; trap "echo got-TERM; exit 0" TERM; echo started; while :; do sleep 0.2; done'
capture "${P[@]}" run -d --name c1 "${RUNOPTS[@]}" -m 64m -e FOO=bar "$IMG" sh -c "$handler"
expect_rc "run -d: exit 0" 0

capture "${P[@]}" exec c1 sh -c 'echo FOO=$FOO; exit 5'
expect_rc "exec: exit code passed through" 5
expect_has "exec: container env" "FOO=bar" "$OUT"

capture "${P[@]}" exec -u 1234:5678 -w /tmp -e X=y c1 sh -c 'id; pwd; echo X=$X'
expect_rc "exec -u/-w/-e: exit 0" 0
expect_match "exec -u 1234:5678" "uid=1234[( ].*gid=5678" "$OUT"
expect_has "exec -w /tmp" "/tmp" "$OUT"
expect_has "exec -e X=y" "X=y" "$OUT"

capture_in $'abc\n' "${P[@]}" exec -i c1 cat
expect_has "exec -i: stdin reaches the process" abc "$OUT"

with_tty "$(podstr exec -i -t c1 sh -c 'tty; echo READY; read x; echo got:$x; exit 9')"
expect_rc "exec -it: exit code back through the pty" 9
expect_match "exec -it: tty is a /dev/pts" '/dev/pts/[0-9]+' "$OUT"
expect_has "exec -it: typed input reaches the process" "got:hello" "$OUT"

capture "${P[@]}" exec c1 /no/such/binary
expect_rc "exec of a missing binary: podman exits 127" 127
expect_match "exec of a missing binary: the runtime's error is shown" '/no/such/binary.*(no such file|not found)' "$OUT"
say "     (podman said: $(printf '%s' "$OUT" | tail -n 1))"

capture "${P[@]}" exec -d c1 sleep 300
expect_rc "exec -d: exit 0" 0

capture "${P[@]}" exec c1 sh -c "$memfile"
expect_has "run -d -m 64m: limit seen inside" 67108864 "$OUT"

capture "${P[@]}" pause c1
expect_rc "pause: exit 0" 0
capture "${P[@]}" inspect -f '{{.State.Status}}' c1
expect_eq "pause: state" paused "$OUT"
capture "${P[@]}" unpause c1
expect_rc "unpause: exit 0" 0
capture "${P[@]}" inspect -f '{{.State.Status}}' c1
expect_eq "unpause: state" running "$OUT"

capture "${P[@]}" update -m 128m c1
expect_rc "update -m 128m: exit 0" 0
capture "${P[@]}" exec c1 sh -c "$memfile"
expect_eq "update -m 128m: limit seen inside" 134217728 "$OUT"

capture "${P[@]}" kill -s USR1 c1
expect_rc "kill -s USR1: exit 0" 0
sleep 0.5

start=$(date +%s)
capture "${P[@]}" stop -t 20 c1
expect_rc "stop: exit 0" 0
took=$(($(date +%s) - start))
if [ "$took" -lt 15 ]; then pass "stop: SIGTERM handled (${took}s)"; else fail "stop: took ${took}s, SIGTERM did not reach PID 1's handler"; fi
capture "${P[@]}" inspect -f '{{.State.Status}} {{.State.ExitCode}}' c1
expect_eq "stop: exited with PID 1's own status" "exited 0" "$OUT"
capture "${P[@]}" logs c1
expect_has "kill -s USR1: reached PID 1's handler" got-USR1 "$OUT"
expect_has "stop: SIGTERM reached PID 1's handler" got-TERM "$OUT"

capture "${P[@]}" start c1
expect_rc "start (again) of a stopped container: exit 0" 0
capture "${P[@]}" inspect -f '{{.State.Status}}' c1
expect_eq "start again: state" running "$OUT"
capture "${P[@]}" restart -t 20 c1
expect_rc "restart: exit 0" 0
capture "${P[@]}" exec c1 echo alive
expect_eq "restart: exec works afterwards" alive "$OUT"

capture "${P[@]}" kill c1
expect_rc "kill (SIGKILL): exit 0" 0
capture "${P[@]}" wait c1
expect_eq "kill: exit status 137" 137 "$OUT"
capture "${P[@]}" rm c1
expect_rc "rm of a stopped container: exit 0" 0

# detached with a terminal: conmon keeps the pty master and logs what it reads
capture "${P[@]}" run -d -t --name c4 "${RUNOPTS[@]}" "$IMG" sh -c 'tty; echo tty-ok; sleep 300'
expect_rc "run -d -t: exit 0" 0
for i in $(seq 1 50); do "${P[@]}" logs c4 2>/dev/null | grep -q tty-ok && break; sleep 0.1; done
capture "${P[@]}" logs c4
expect_match "run -d -t: the container has a /dev/pts terminal" '/dev/pts/[0-9]+' "$OUT"
capture "${P[@]}" exec c4 sh -c 'tty || true'
expect_has "run -d -t: exec without -t has no terminal" "not a tty" "$OUT"
capture "${P[@]}" rm -f -t 2 c4
expect_rc "rm -f of a container with a terminal: exit 0" 0

capture "${P[@]}" run -d --name c2 "${RUNOPTS[@]}" "$IMG" sleep 300
expect_rc "run -d (sleep): exit 0" 0
capture "${P[@]}" pause c2
capture "${P[@]}" rm -f -t 2 c2
expect_rc "rm -f of a paused container: exit 0" 0
capture "${P[@]}" run -d --name c3 "${RUNOPTS[@]}" "$IMG" sleep 300
capture "${P[@]}" rm -f -t 2 c3
expect_rc "rm -f of a running container: exit 0" 0
capture "${P[@]}" ps -a -q
expect_eq "nothing left" "" "$OUT"

# --- errors reach the user --------------------------------------------------

capture "${P[@]}" run --rm "${RUNOPTS[@]}" "$IMG" /no/such/binary
expect_rc "run of a missing binary: podman exits 127" 127
expect_match "run of a missing binary: the runtime's error is shown" '/no/such/binary.*(no such file|not found)' "$OUT"
say "     (podman said: $(printf '%s' "$OUT" | tail -n 1))"

capture "${P[@]}" run --rm "${RUNOPTS[@]}" "$IMG" /etc/passwd
expect_rc "run of a non-executable file: podman exits 126" 126
expect_match "run of a non-executable file: the runtime's error is shown" '/etc/passwd.*permission denied' "$OUT"
say "     (podman said: $(printf '%s' "$OUT" | tail -n 1))"

# The same error when conmon is told the runtime writes JSON logs
# (containers.conf runtime_supports_json names it): conmon then passes
# --log-format=json --log FILE, and podman shows the "msg" of its last line.
sed 's/^\[engine\]$/[engine]\nruntime_supports_json = ["crun", "runc", "'"$RTNAME"'"]/' "$T/containers.conf" >"$T/containers-json.conf"
CONTAINERS_CONF=$T/containers-json.conf capture "${P[@]}" run --rm "${RUNOPTS[@]}" "$IMG" /no/such/binary
expect_rc "with --log: run of a missing binary: podman exits 127" 127
expect_match "with --log: the runtime's error is shown" '/no/such/binary.*(no such file|not found)' "$OUT"
say "     (podman said: $(printf '%s' "$OUT" | tail -n 1))"
expect_match "with --log: conmon passed --log-format=json --log" "^conmon rc=1 --log-format=json --log [^ ]+ create" "$(tail -n 2 "$ARGVLOG")"

# (vmctr keeps its lock files in <root>/.locks; a container's is removed with it)
capture ls -A "$T/runtime-root"
expect_eq "no runtime state left in --root" "" "$(printf '%s' "$OUT" | grep -vx .locks || true)"
capture ls -A "$T/runtime-root/.locks"
expect_eq "no lock file left in --root" "" "$(printf '%s' "$OUT" | grep -v 'No such file' || true)"

# No cgroup of a removed container may remain (conmon's own may).
left=$(cgroup_dirs | grep libpod- || true)
expect_eq "no container cgroup left under /$CGPARENT" "" "$left"

summary
