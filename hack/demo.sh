#!/usr/bin/env bash
# demo.sh - vmctr's main job on a built-in example: build vmctr, turn this
# server's installed python3 into a secure container (only the files it
# needs, copied into a private root; no kernel), run it and ask why a file is
# there; then take a busybox container through the runtime's whole life
# (run attached, then create/start/exec/ps/pause/update/kill/delete).
# Everything it makes lives in a temp dir and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

[ "$(id -u)" = 0 ] || { echo "demo: run as root (containers need namespaces and cgroups)" >&2; exit 1; }
bash hack/deps.sh
make -s all
VMCTR=$PWD/vmctr

WORK=$(mktemp -d /tmp/vmctr-demo.XXXXXX)
ROOT=$WORK/state
ID=demo-$$
cleanup() {
	"$VMCTR" --root "$ROOT" delete --force "$ID" >/dev/null 2>&1 || true
	"$VMCTR" --root "$ROOT" delete --force "$ID-py" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "build a secure container from this server's python3 and a script"
mkdir -p "$WORK/app"
cat >"$WORK/app/app.py" <<'PY'
import json, platform, socket, sqlite3, ssl
db = sqlite3.connect(":memory:")
db.execute("create table t (k text, v text)")
db.execute("insert into t values ('tls', ?)", (ssl.OPENSSL_VERSION,))
print(json.dumps({"hostname": socket.gethostname(), "kernel": platform.release(),
                  "python": platform.python_version(), "openssl": db.execute("select v from t").fetchone()[0]}))
PY
run "$VMCTR" build --app /usr/bin/python3 --file "$WORK/app/app.py" --trace \
	--cmd "/usr/bin/python3 $WORK/app/app.py" --hostname pyapp -o "$WORK/pyapp"
printf 'regular files in the container, copied and generated: %s (the host has %s under /usr alone)\n' \
	"$(find "$WORK/pyapp/rootfs" -type f | wc -l)" "$(find /usr -xdev -type f 2>/dev/null | wc -l)"
run "$VMCTR" --root "$ROOT" run --bundle "$WORK/pyapp" "$ID-py"
libssl=$(cd "$WORK/pyapp/rootfs" && find . -name 'libssl.so*' -type f | head -n1 | sed 's|^\.||')
[ -z "$libssl" ] || run "$VMCTR" inspect --file "$libssl" "$WORK/pyapp"

step "make a bundle: busybox-static in $WORK/bundle/rootfs"
mkdir -p "$WORK/bundle/rootfs/bin"
cp /bin/busybox "$WORK/bundle/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$WORK/bundle/rootfs/bin/$a"; done
cd "$WORK/bundle"
run "$VMCTR" spec
# No terminal (works without a tty), a host name and a 64 MiB memory limit.
sed -i -e 's/"terminal": true/"terminal": false/' \
	-e 's/"hostname": "runc"/"hostname": "demo"/' config.json
python3 - <<'PY' 2>/dev/null || true
import json
c = json.load(open("config.json"))
c["linux"].setdefault("resources", {})["memory"] = {"limit": 64 << 20}
json.dump(c, open("config.json", "w"), indent=1)
PY

step "run attached: the container's own view"
sed -i 's/"sh"$/"sh", "-c", "echo hostname: $(hostname); echo pid: $$; echo memory limit: $(cat \/sys\/fs\/cgroup\/memory\/memory.limit_in_bytes 2>\/dev\/null || cat \/sys\/fs\/cgroup\/memory.max); echo files: $(ls \/)"/' config.json
run "$VMCTR" --root "$ROOT" run "$ID"

step "create, then start a long-running container"
sed -i 's/"sh", "-c", .*$/"sleep", "600"/' config.json
run "$VMCTR" --root "$ROOT" create --pid-file "$WORK/pid" "$ID"
run "$VMCTR" --root "$ROOT" state "$ID"
run "$VMCTR" --root "$ROOT" start "$ID"
run "$VMCTR" --root "$ROOT" list
run "$VMCTR" --root "$ROOT" exec "$ID" ps
run "$VMCTR" --root "$ROOT" ps --format json "$ID"
run "$VMCTR" --root "$ROOT" pause "$ID"
run "$VMCTR" --root "$ROOT" list --format json
run "$VMCTR" --root "$ROOT" resume "$ID"
run "$VMCTR" --root "$ROOT" update --memory 128m "$ID"
run "$VMCTR" --root "$ROOT" exec "$ID" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
run "$VMCTR" --root "$ROOT" kill "$ID" KILL
sleep 0.2
run "$VMCTR" --root "$ROOT" state "$ID"
run "$VMCTR" --root "$ROOT" delete "$ID"
run "$VMCTR" --root "$ROOT" list -q
step "done: nothing is left behind"
