#!/usr/bin/env bash
# Builds the platform's images with buildah (daemonless, chroot isolation) and pushes them to the
# platform's registry (registry.sh). Each image's tag is <yyyymmdd>-<hash8>, where the hash covers
# everything that goes into it (its folder under images/, generated files, its base's reference):
# an image whose hash already has a tag in the registry is not built again, and no tag is ever
# overwritten or deleted.
#   images.sh [NAME...]   builds what is missing (default: all), prints NAME=REFERENCE lines
# NAME: pause, busybox, debian, notebook; course (not by default) is the notebook image with nbgrader
# and the grader's driver.py, for autograde units (dev/grader/pods.sh).
# HOTSTEPPER_IMAGES_SCRATCH=<dir>: build everything asked for again in that (fresh) buildah storage,
# whatever the registry has, and push nothing (the bench's cold build, bench-images.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../env.sh"
REGISTRY="$(bash "$HERE/registry.sh" ensure)"
REGISTRY_STORAGE="$(bash "$HERE/registry.sh" storage)"
REGISTRY_LOG="$(dirname "$REGISTRY_STORAGE")/registry.log"
SCRATCH="${HOTSTEPPER_IMAGES_SCRATCH:-}"
STORE="${SCRATCH:-$CACHE/buildah}"
BUILDAH=(buildah --root "$STORE/root" --runroot "$STORE/run" --storage-driver overlay)
mkdir -p "$STORE"
log() { printf '[node/images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# One build at a time per machine: a second caller waits, then finds the tags pushed.
exec 8>"$STORE/.lock"
flock 8

declare -A REF=()

context_hash() { # dir -> sha256 over every file's path, mode and content
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z |
    xargs -0 -r sh -c 'for f; do printf "%s %s " "$f" "$(stat -c %a "$f")"; sha256sum < "$f"; done' _) |
    sha256sum | cut -c1-8
}

existing_tag() { # name hash8 -> a tag of that hash in the registry whose image resolves, if any
  local tag
  for tag in $(curl -fsS --max-time 10 "http://$REGISTRY/v2/hotstepper/$1/tags/list" 2>/dev/null |
    grep -oE "\"[0-9]{8}-$2\"" | tr -d '"'); do
    if resolves "$1" "$tag"; then echo "$tag"; return; fi
    log "hotstepper/$1:$tag is listed in the registry but does not resolve (a push that failed half way): pushing it again"
  done
}

# A tag is only there when its manifest and every blob it names answer: a push that failed half way
# (a full disk, say) can leave a tag listed whose manifest or layers are missing or empty.
resolves() { # name tag
  local manifest digests digest
  manifest="$(curl -fsS --max-time 10 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/hotstepper/$1/manifests/$2" 2>/dev/null)" || return 1
  digests="$(python3 -c 'import json, sys; m = json.load(sys.stdin)
print(m["config"]["digest"]); [print(l["digest"]) for l in m["layers"]]' <<<"$manifest" 2>/dev/null)" || return 1
  for digest in $digests; do
    curl -fsS -I -o /dev/null --max-time 10 "http://$REGISTRY/v2/hotstepper/$1/blobs/$digest" 2>/dev/null || return 1
  done
}

# Pushes ref to the registry. On a failure, one line saying why: the registry's storage full is
# told apart (its log, or the space left where it stores), any other failure shows buildah's words.
push() { # ref
  local ref=$1 out logsize free
  out="$(mktemp)"
  logsize="$(stat -c %s "$REGISTRY_LOG" 2>/dev/null || echo 0)"
  if "${BUILDAH[@]}" push --quiet --tls-verify=false "$ref" "docker://$ref" >/dev/null 2>"$out"; then
    rm -f "$out"
    return 0
  fi
  free="$(df -k --output=avail "$REGISTRY_STORAGE" 2>/dev/null | tail -1 | tr -d ' ' || true)"
  if tail -c +"$((logsize + 1))" "$REGISTRY_LOG" 2>/dev/null | grep -q 'no space left on device' ||
    grep -q 'no space left on device' "$out" || { [ -n "$free" ] && [ "$free" -lt 1024 ]; }; then
    log "could not push $ref: the registry at $REGISTRY is out of space in its storage $REGISTRY_STORAGE (${free:-?} KiB free); free space there, or point HOTSTEPPER_CACHE at a disk with room, then run this again (what it already serves is untouched)"
  else
    log "could not push $ref to the registry at $REGISTRY: $(grep -v '^\s*$' "$out" | tail -1 | cut -c1-400) (registry log: $REGISTRY_LOG)"
  fi
  rm -f "$out"
  return 1
}

prepare() { # name ctx : the generated files an image needs beside its folder
  case "$1" in
    pause)
      (cd "$2" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOWORK=off \
        GOCACHE="$CACHE/k8s/go/build" go build -trimpath -ldflags "-s -w" -o pause .)
      rm -f "$2/main.go" "$2/go.mod" ;;
    busybox)
      [ -x /bin/busybox ] || { log "busybox-static is not installed: run npm run setup"; exit 1; }
      cp /bin/busybox "$2/busybox" ;;
    notebook)
      wheels notebook "$2"
      local wheel; wheel="$(ls "$ROOT"/jupyter/dist/hotstepper-*.whl 2>/dev/null | head -1)"
      [ -n "$wheel" ] || { log "no Hotstepper wheel in jupyter/dist: run npm run setup"; exit 1; }
      mkdir -p "$2/hotstepper" && cp "$wheel" "$2/hotstepper/" ;;
    course)
      # nbgrader at the notebook image's versions of what both have (constraints), so installing it
      # over that image changes nothing the notebook image pinned.
      wheels course "$2" -c "$HERE/images/notebook/requirements.txt"
      cp "$ROOT/server/src/features/grader/driver.py" "$2/driver.py" ;;
  esac
}

# Wheels downloaded on the host once per requirements file (and constraints); the build needs no network.
wheels() { # name ctx [pip download args...]
  local name=$1 ctx=$2; shift 2
  local wheels; wheels="$CACHE/wheels/$name-$(cat "$ctx/requirements.txt" "${@:2}" | sha256sum | cut -c1-12)"
  if [ ! -f "$wheels/.complete" ]; then
    log "downloading the $name image's wheels to $wheels"
    rm -rf "$wheels"
    python3 -m pip download -q --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
      --platform manylinux_2_28_x86_64 --platform linux_x86_64 --implementation cp \
      -d "$wheels" -r "$ctx/requirements.txt" "$@" >&2
    touch "$wheels/.complete"
  fi
  cp -a "$wheels" "$ctx/wheels" && rm -f "$ctx/wheels/.complete"
}

# The Debian base: a root filesystem from mmdebstrap, committed as one layer.
build_debian() { # ref ctx
  command -v mmdebstrap >/dev/null || { log "mmdebstrap is not installed: run npm run setup"; exit 1; }
  local ref=$1 ctx=$2 suite variant include
  suite="$(sed -n 's/^suite=//p' "$ctx/recipe")" variant="$(sed -n 's/^variant=//p' "$ctx/recipe")"
  include="$(sed -n 's/^include=//p' "$ctx/recipe")"
  local mirror="http://deb.debian.org/debian"
  mmdebstrap --quiet --variant="$variant" --include="$include" "$suite" "$ctx/rootfs.tar" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" \
    "deb http://deb.debian.org/debian-security $suite-security main" >&2
  local c; c="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" add "$c" "$ctx/rootfs.tar" / >&2
  "${BUILDAH[@]}" config --env "PATH=$(sed -n 's/^path=//p' "$ctx/recipe")" --env LANG=C.UTF-8 --cmd /bin/bash "$c" >&2
  "${BUILDAH[@]}" commit --quiet "$c" "$ref" >&2
  "${BUILDAH[@]}" rm "$c" >/dev/null
}

build() { # name [build-arg...]
  local name=$1; shift
  local ctx; ctx="$(mktemp -d)"
  cp -a "$HERE/images/$name/." "$ctx/"
  prepare "$name" "$ctx"
  printf '%s\n' "$@" > "$ctx/.build-args"
  local hash tag ref
  hash="$(context_hash "$ctx")"
  tag="$([ -n "$SCRATCH" ] || existing_tag "$name" "$hash")"
  if [ -n "$tag" ]; then
    ref="$REGISTRY/hotstepper/$name:$tag"
    log "cached: $ref"
  else
    tag="$(date -u +%Y%m%d)-$hash"
    ref="$REGISTRY/hotstepper/$name:$tag"
    log "building $ref"
    local t0=$SECONDS args=() a
    for a in "$@"; do args+=(--build-arg "$a"); done
    if [ "$name" = debian ]; then
      build_debian "$ref" "$ctx"
    else
      BUILDAH_ISOLATION=chroot "${BUILDAH[@]}" build --quiet --pull=never --isolation chroot \
        --tls-verify=false --layers "${args[@]}" -t "$ref" "$ctx" >&2
    fi
    [ -n "$SCRATCH" ] || push "$ref" || exit 1
    log "built $ref in $((SECONDS - t0)) s$([ -n "$SCRATCH" ] && echo ' (scratch storage, not pushed)' || echo ', pushed')"
  fi
  rm -rf "$ctx"
  REF[$name]=$ref
  echo "$name=$ref"
}

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(pause busybox debian notebook)
for name in "${wanted[@]}"; do
  case "$name" in
    pause | busybox | debian) build "$name" ;;
    notebook)
      [ -n "${REF[debian]:-}" ] || build debian >/dev/null
      build notebook "BASE=${REF[debian]}" ;;
    course)
      # Its hash covers the notebook image's reference (a build argument): a new base, a new tag.
      [ -n "${REF[debian]:-}" ] || build debian >/dev/null
      [ -n "${REF[notebook]:-}" ] || build notebook "BASE=${REF[debian]}" >/dev/null
      build course "BASE=${REF[notebook]}" ;;
    *) log "unknown image: $name"; exit 2 ;;
  esac
done
