#!/usr/bin/env bash
# Makes a base image for the runner image where no registry can be reached: Debian bookworm
# (debootstrap minbase, about 30 s, then kept for a week) with this machine's Node where the official Node images keep it
# (node in /usr/local/bin, npm in /usr/local/lib/node_modules/npm), imported into the engine at
# DOCKER_HOST (about 5 s). Slimmed as Docker's official debian:bookworm-slim is (no docs, man pages
# or translations, no apt lists or downloaded packages), so that the runner image built on it
# weighs about what it would on node:22-bookworm-slim. Usage: ci-base-image.sh TAG
set -euo pipefail
tag=${1:?usage: ci-base-image.sh TAG}
# Not under /tmp: it may be a tmpfs mounted nodev, where debootstrap refuses to build a system.
root=$(mktemp -d /var/tmp/lazyaf-base.XXXXXX)
trap 'rm -rf --one-file-system "$root"' EXIT

# The slimmed system is kept for a week between runs (debootstrap downloads and unpacks it each time,
# about 25 s); node and npm are this machine's, added each time.
cache=/var/cache/lazyaf-base
kept="$cache/bookworm-minbase-$(date -u +%G-w%V).tar"
if [ -f "$kept" ] && tar -C "$root" -xf "$kept"; then
  echo "ci-base-image: the system from $kept"
else
  find "$root" -mindepth 1 -delete
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 || {
    echo "ci-base-image: debootstrap failed; its output ends with:" >&2
    tail -n 20 "$root.log" >&2
    rm -f "$root.log"
    exit 1
  }
  rm -f "$root.log"
  # debuerreotype's slimming, as the official -slim images have it: dpkg leaves these paths out of
  # every later install too (the runner image's git and its libraries).
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{info,groff,linda,lintian,locale,man}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  find "$root/var/cache/apt/archives" -name '*.deb' -delete
  mkdir -p "$cache"
  rm -f "$cache"/bookworm-minbase-*.tar
  if tar -C "$root" -cf "$kept.$$" . && mv "$kept.$$" "$kept"; then :; else rm -f "$kept.$$"; fi
fi
install -D -m 0755 "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$(npm root -g)/npm" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
tar -C "$root" -c . | docker import - "$tag" >/dev/null
# A Node built against the machine's shared libraries (some distributions' packages) would not run there.
if ! version=$(docker run --rm --network none "$tag" node --version 2>&1); then
  echo "ci-base-image: this machine's node does not run in $tag: $version" >&2
  exit 1
fi
echo "ci-base-image: $tag (node $version)"
