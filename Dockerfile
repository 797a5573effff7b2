# The lazyaf runner image: `npm run image` builds it (after `npm run build`, which makes dist/).
# It builds on any Debian bookworm image with Node at /usr/local/bin/node and npm beside it, as
# the official Node images have them.
ARG BASE_IMAGE=node:22-bookworm-slim
FROM ${BASE_IMAGE}

# Agent CLIs to install from npm, comma-separated: claude, gemini, codex. `npm run image` passes
# the versions lazyaf is tested with (src/shared/agents/versions.ts); a bare `docker build` takes
# the latest.
ARG AGENTS=""
ARG CLAUDE_VERSION=latest
ARG CODEX_VERSION=latest
ARG GEMINI_VERSION=latest
# The user jobs run as: not root, since Claude Code refuses --dangerously-skip-permissions as root.
# 1000 is the usual first user of a desktop, so a mounted ~/.claude keeps its owner.
ARG RUNNER_UID=1000

# Node reads its own CA list; this makes it (npm, the runner, the agents) trust the system's too.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt

# What dpkg leaves out of every install from here on: docs, man pages and translations (as the
# official -slim images do; a no-op on them), and the parts of git a job does not use: the server
# side (daemon, http-backend, git-shell), push over WebDAV, imap-send, scalar, and what needs Perl
# (gitweb, instaweb, the Perl `add -i` that git's built-in one replaced, Git.pm).
COPY docker/dpkg-excludes /etc/dpkg/dpkg.cfg.d/lazyaf-slim
# Debian's git depends on Perl (about 50 MB with its modules) for a few scripts only, none of which
# a job needs: a local package that provides perl and liberror-perl lets apt install git without
# them, and keeps apt's view whole (a job may still `apt-get install perl`, the real one). So
# `git add -i` with add.interactive.useBuiltin=false, `git instaweb`, `git send-email`, `git svn`
# and `git cvs*` do not work in this image; every other git command does.
# Debian ships git twice, in /usr/bin and git-core (3.7 MB): the link makes them one file.
# Debian's mirror is plain HTTP (apt checks signatures), so this works before any CA is trusted.
# iptables: the runner walls its jobs' network off with rules in the container's own namespace.
RUN set -eu; \
    export DEBIAN_FRONTEND=noninteractive; \
    stub=$(mktemp -d); \
    mkdir "$stub/DEBIAN"; \
    printf '%s\n' 'Package: lazyaf-git-without-perl' 'Version: 1' 'Architecture: all' 'Maintainer: lazyaf' \
      'Provides: perl, liberror-perl' 'Description: lets git install without Perl in the lazyaf runner image' \
      > "$stub/DEBIAN/control"; \
    dpkg-deb --build "$stub" "$stub.deb" >/dev/null; \
    dpkg -i "$stub.deb" >/dev/null; \
    rm -rf "$stub" "$stub.deb"; \
    apt-get update -q; \
    apt-get install -y -q --no-install-recommends git ca-certificates tini iptables; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/cache/debconf/*-old \
      /var/lib/dpkg/*-old /var/log/apt /var/log/dpkg.log /var/log/alternatives.log; \
    ln -f /usr/bin/git /usr/lib/git-core/git; \
    git --version >/dev/null

# Extra certificate authorities to trust (a TLS-intercepting company proxy), as PEM files named
# *.crt in docker/extra-ca/ (`npm run image` puts LAZYAF_IMAGE_CA_FILE there): used by git, by npm
# while building, and by node (the runner, the agent CLIs) at run time.
COPY docker/extra-ca/ /usr/local/share/ca-certificates/lazyaf/
# The official Node images already have a user with uid 1000 (node): it becomes lazyaf.
RUN set -eu; \
    update-ca-certificates >/dev/null; \
    existing="$(getent passwd "$RUNNER_UID" | cut -d: -f1)"; \
    if [ -n "$existing" ]; then \
      usermod --login lazyaf --home /home/lazyaf --move-home "$existing"; \
      groupmod --new-name lazyaf "$(id -gn lazyaf)"; \
    else \
      useradd --uid "$RUNNER_UID" --user-group --create-home --home-dir /home/lazyaf --shell /bin/bash lazyaf; \
    fi

RUN set -eu; \
    packages=""; \
    for agent in $(echo "$AGENTS" | tr ',' ' '); do \
      case "$agent" in \
        claude) packages="$packages @anthropic-ai/claude-code@$CLAUDE_VERSION" ;; \
        gemini) packages="$packages @google/gemini-cli@$GEMINI_VERSION" ;; \
        codex) packages="$packages @openai/codex@$CODEX_VERSION" ;; \
        *) echo "AGENTS: unknown agent '$agent' (this image installs claude, gemini, codex)" >&2; exit 1 ;; \
      esac; \
    done; \
    if [ -n "$packages" ]; then \
      npm install --global --no-audit --no-fund --update-notifier=false $packages; \
      npm cache clean --force; \
      rm -rf /root/.npm; \
    fi

# The runner is bundled (npm run build makes it): no node_modules, and a start that reads one module
# instead of hundreds; what only a job needs is in chunks beside it, loaded at the first job.
# package.json only gives it its version.
COPY package.json /opt/lazyaf/
COPY dist/bundle/ /opt/lazyaf/dist/bundle/

# The container is the job's wall: the runner does not set up bubblewrap inside it. The runner
# runs as root and each job as lazyaf (through setpriv), so a job cannot read the runner's
# environment (the registration token) or memory, and the runner kills what a job leaves running.
# The server's relay sockets are mounted under /run/lazyaf, which only root may enter.
ENV LAZYAF_SANDBOX=container LAZYAF_JOB_USER=lazyaf
RUN install -d -m 0700 /run/lazyaf
WORKDIR /home/lazyaf
# tini reaps the jobs' orphans and passes SIGTERM on (a drain); -s keeps that so under `docker run --init` too.
# The arguments of `docker run ... IMAGE [args]` go to the runner.
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "node", "/opt/lazyaf/dist/bundle/runner.mjs"]
