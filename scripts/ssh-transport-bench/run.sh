#!/usr/bin/env bash
# Measure bollard's SSH transport against ours (see src/main.rs for why).
#
# Starts a throw-away sshd on 127.0.0.1 (random free port; host key, client key, known_hosts,
# authorized_keys, sshd_config and ssh_config all in a temp dir; nothing in /etc/ssh or ~/.ssh is
# written, and neither the system's nor the user's ssh_config is read), whose
# remote side is this machine's own Docker engine (user root), runs the benchmark, and tears
# everything down. Needs: /usr/sbin/sshd, /usr/bin/ssh, ssh-keygen, a running Docker engine, root.
#
#   ./run.sh              # all ways, BENCH_RUNS (default 10) rounds
#   ./run.sh a b          # only some ways: local, a, b, bka
#   BENCH_LEAN_SHELL=1 ./run.sh   # remote sessions skip root's ~/.bashrc (see below)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

(cd "$here" && CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release --quiet)
bin="$here/target/release/ssh-transport-bench"

tmp=$(mktemp -d /tmp/nk-sshbench.XXXXXX)
chmod 700 "$tmp"
sshd_pid=""
cleanup() {
    [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
    # ssh processes this run started (masters are daemonized): their command line names $tmp.
    for p in /proc/[0-9]*; do
        if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "^/usr/bin/ssh .*$tmp"; then
            kill "${p#/proc/}" 2>/dev/null || true
        fi
    done
    if [ -n "${BENCH_KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$tmp/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$tmp/id_ed25519"
cp "$tmp/id_ed25519.pub" "$tmp/authorized_keys"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/host_ed25519.pub")" >"$tmp/known_hosts"

cat >"$tmp/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/host_ed25519
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
EOF
# Every ssh session runs the remote user's shell (root: bash), and Debian's bash sources
# ~/.bashrc when started by sshd; this machine's /root/.bashrc runs `pyenv init` (~0.2 s a
# session). BENCH_LEAN_SHELL=1 models a server with a light login shell without touching
# ~/.bashrc: with SHLVL=1 from sshd, bash starts at level 2 and does not source it.
if [ -n "${BENCH_LEAN_SHELL:-}" ]; then
    echo "SetEnv SHLVL=1" >>"$tmp/sshd_config"
fi

# The openssh crate (way A) runs the `ssh` on PATH, which would read ~/.ssh/config: this wrapper
# makes every ssh of the benchmark (A and B alike) read only the temp config, and logs each call.
mkdir "$tmp/bin"
# `Port`: bollard 0.21.1 hands ssh the destination `user@host:port` verbatim (openssh's
# SessionBuilder::resolve only splits the port off an `ssh://` string, and bollard passes the
# bare authority), so way A can only reach a non-22 port through ssh_config, as a user would.
cat >"$tmp/ssh_config" <<EOF
Host 127.0.0.1
    Port $port
Host *
    IdentityFile $tmp/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $tmp/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    BatchMode yes
EOF
cat >"$tmp/bin/ssh" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/ssh-calls.log"
exec /usr/bin/ssh -F "$tmp/ssh_config" "\$@"
EOF
chmod +x "$tmp/bin/ssh"
: >"$tmp/ssh-calls.log"

mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do
    grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "Server listening" "$tmp/sshd.log" || { cat "$tmp/sshd.log"; exit 1; }

# Fail early, with ssh's own words, if the setup is wrong.
PATH="$tmp/bin:$PATH" ssh -p "$port" root@127.0.0.1 docker version --format '{{.Server.Version}}' >/dev/null

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(nproc) cores  $(uname -r)  $(ssh -V 2>&1)  docker $(docker version --format '{{.Server.Version}}')"
echo "# remote shell: $([ -n "${BENCH_LEAN_SHELL:-}" ] && echo 'lean (SetEnv SHLVL=1: ~/.bashrc not sourced)' || echo "as is (root's ~/.bashrc sourced by every session)")"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
PATH="$tmp/bin:$PATH" XDG_STATE_HOME="$tmp/state" \
    BENCH_PORT=$port BENCH_KEY="$tmp/id_ed25519" BENCH_KNOWN_HOSTS="$tmp/known_hosts" \
    BENCH_SSHD_LOG="$tmp/sshd.log" BENCH_CALLS_LOG="$tmp/ssh-calls.log" BENCH_TMP="$tmp" \
    "$bin" "$@"

# What one piece of a session costs (median of 10, ms), to explain the totals above.
ms_median() { # command...: run it 10 times, print the median wall time in ms
    local t=() s e
    for _ in $(seq 10); do
        s=$(date +%s%N); "$@" </dev/null >/dev/null 2>&1 || true; e=$(date +%s%N)
        t+=($(((e - s) / 1000000)))
    done
    printf '%s\n' "${t[@]}" | sort -n | sed -n '5,6p' | awk '{s+=$1} END {printf "%d", s/2}'
}
sshc=(env PATH="$tmp/bin:$PATH" ssh -p "$port" -l root -o ControlPath="$tmp/cm" -o ControlPersist=60)
echo
echo "# components (median of 10 runs, ms):"
echo "#   docker CLI start, local (\`docker --version\`):                  $(ms_median docker --version)"
echo "#   local \`docker system dial-stdio\`, stdin closed at once:       $(ms_median docker system dial-stdio)"
echo "#   ssh with a full handshake, no master (\`ssh host true\`):       $(ms_median "${sshc[@]}" -o ControlMaster=no 127.0.0.1 true)"
"${sshc[@]}" -f -N -o ControlMaster=yes 127.0.0.1
echo "#   ssh session over a live master (\`ssh host true\`):             $(ms_median "${sshc[@]}" -o ControlMaster=no 127.0.0.1 true)"
echo "#   ssh session over a live master running dial-stdio:             $(ms_median "${sshc[@]}" -o ControlMaster=no 127.0.0.1 docker system dial-stdio)"
"${sshc[@]}" -O exit 127.0.0.1 2>/dev/null || true
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
