#!/usr/bin/env bash
# A Docker engine of its own for CI, everything under DIR (data, exec root, socket, pid file, log).
#   ci-dockerd.sh start DIR [dockerd flags...]   returns once the engine answers (within 60 s)
#   ci-dockerd.sh stop DIR                       removes its containers and networks, stops it by its pid
#                                                (SIGTERM, SIGKILL after 30 s), removes DIR
# Beside another engine, never pass --bridge=none: dockerd then deletes the docker0 bridge, and
# the other engine's containers (and its image builds) lose their network.
set -euo pipefail
cmd=${1:-}
dir=${2:?usage: ci-dockerd.sh start|stop DIR [dockerd flags...]}
shift 2

log_tail() {
  echo "ci-dockerd: $1; its log ($dir/log) ends with:" >&2
  tail -n 20 "$dir/log" >&2
  exit 1
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dockerd --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$dir/docker.sock" --pidfile "$dir/pid" "$@" \
      </dev/null >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
      DOCKER_HOST="unix://$dir/docker.sock" docker version >/dev/null 2>&1 && exit 0
      kill -0 "$pid" 2>/dev/null || log_tail "dockerd exited"
      sleep 0.5
    done
    log_tail "dockerd did not answer within 60 s"
    ;;
  stop)
    # Its containers and networks go first: the bridge of a user network outlives an engine
    # stopped with the network in place, and some thirty of those left by earlier runs held every
    # address pool Docker picks from ("could not find an available, non-overlapping IPv4 address pool").
    if DOCKER_HOST="unix://$dir/docker.sock" docker version >/dev/null 2>&1; then
      ids=$(DOCKER_HOST="unix://$dir/docker.sock" docker ps -aq)
      [ -z "$ids" ] || DOCKER_HOST="unix://$dir/docker.sock" docker rm -f $ids >/dev/null 2>&1 || true
      DOCKER_HOST="unix://$dir/docker.sock" docker network prune -f >/dev/null 2>&1 || true
    fi
    if [ -s "$dir/pid" ]; then
      pid=$(cat "$dir/pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
      done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    # dockerd can leave its network namespace mounted under its exec root, which rm cannot remove.
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$dir" || echo "ci-dockerd: could not remove $dir" >&2
    ;;
  *)
    echo "usage: ci-dockerd.sh start|stop DIR [dockerd flags...]" >&2
    exit 2
    ;;
esac
