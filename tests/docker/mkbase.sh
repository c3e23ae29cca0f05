#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Makes the local base image that FROM debian:bookworm-slim resolves to.
# No registry is reachable here: debootstrap a minimal bookworm from the
# machine's own Debian mirror and import it into podman. Idempotent.
set -euo pipefail
img=docker.io/library/debian:bookworm-slim
podman image exists "$img" && exit 0
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
sec=${mirror%/debian}/debian-security
root=$(mktemp -d /var/tmp/herald-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
cat > "$root/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $sec bookworm-security main
SRC
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import - localhost/debian-local:bookworm >/dev/null
podman tag localhost/debian-local:bookworm "$img"
