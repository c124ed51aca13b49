#!/usr/bin/env bash
# Installs and starts everything the test suite needs on a fresh Debian machine (as root,
# or with sudo): Debian's docker.io engine, neovim, static busybox and caddy to build the
# test images locally (no image can be pulled here), then builds those images.
# Idempotent: what is already there is kept. Any failure stops the run with a message.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v nvim >/dev/null || need+=(neovim)
[ -x /bin/busybox ] && file /bin/busybox 2>/dev/null | grep -q static || need+=(busybox-static)
command -v caddy >/dev/null || need+=(caddy)
command -v file >/dev/null || need+=(file)
command -v curl >/dev/null || need+=(curl)
command -v pidof >/dev/null || need+=(procps)
command -v unzip >/dev/null || need+=(unzip)
command -v cc >/dev/null || need+=(build-essential)
command -v npm >/dev/null || need+=(npm)
# sshd for the "Docker on a VPS" tests (run on 127.0.0.1 with keys in a temporary folder; the
# package's own service is not used) and the ssh client nkdev runs to reach a remote engine.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "test-deps: starting dockerd"
  # Its own session: the engine outlives the shell that started it, and the fault tests
  # restart it the same way.
  $SUDO setsid sh -c 'nohup dockerd >/tmp/nanokit-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "test-deps: the Docker engine did not start; its log:" >&2
    tail -n 30 /tmp/nanokit-dockerd.log >&2 || true
    exit 1
  fi
fi
# sshd's privilege separation folder, which the package's service would create.
$SUDO mkdir -p /run/sshd
# pre-commit (PyPI) for the hook test, in its own venv.
tools="${NANOKIT_TOOLS:-$HOME/.cache/nanokit-tools}"
if [ ! -x "$tools/venv/bin/pre-commit" ]; then
  python3 -m venv --help >/dev/null 2>&1 || { $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null; }
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q pre-commit
fi
# moto_server (PyPI moto[server]) stands in for AWS in the AWS provider tests.
if [ ! -x "$tools/venv/bin/moto_server" ]; then
  "$tools/venv/bin/pip" install -q 'moto[server]'
fi
echo "test-deps: moto $("$tools/venv/bin/python" -c 'import moto; print(moto.__version__)')"
echo "test-deps: $("$tools/venv/bin/pre-commit" --version)"
echo "test-deps: docker engine API $(docker version --format '{{.Server.APIVersion}}')"
"$here/build-test-images.sh"
