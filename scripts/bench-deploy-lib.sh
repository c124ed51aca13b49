# The files the deploy benchmarks deploy, shared by bench-deploy.sh and bench-deploy-ssh.sh
# (sourced): N busybox httpd services, one routed host each.

# nanokit_file PROJECT N V: the value of V in service s1 (changing it changes exactly one service).
nanokit_file() {
  echo "name: $1"
  echo "services:"
  for i in $(seq 1 "$2"); do
    v=1; [ "$i" = 1 ] && v="$3"
    printf '  s%s:\n    image: nk-test/busybox:1\n    command: mkdir -p /tmp/w && exec httpd -f -p 8080 -h /tmp/w\n    expose: 8080\n    host: s%s.%s.localhost\n    env:\n      V: "%s"\n' "$i" "$i" "$1" "$v"
  done
}

# compose_file PROJECT GATEWAY_PORT N V: the same services for docker-compose, with a Caddy gateway.
compose_file() {
  echo "version: '3.7'"
  echo "services:"
  echo "  gateway:"
  echo "    image: nk-test/caddy:1"
  echo "    ports: ['127.0.0.1:$2:80']"
  for i in $(seq 1 "$3"); do
    v=1; [ "$i" = 1 ] && v="$4"
    printf '  s%s:\n    image: nk-test/busybox:1\n    command: sh -c "mkdir -p /tmp/w && exec httpd -f -p 8080 -h /tmp/w"\n    environment: [PORT=8080, V=%s]\n    init: true\n    labels: {host: s%s.%s.localhost}\n' "$i" "$v" "$i" "$1"
  done
}

# t COMMAND…: seconds COMMAND took (it must succeed).
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
