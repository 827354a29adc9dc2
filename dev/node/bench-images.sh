#!/usr/bin/env bash
# Bench: building the notebook image, cold and warm, in the same run.
#   cold: a fresh buildah storage and no tag to reuse: the Debian base from mmdebstrap, then the
#         notebook image's layers (its wheels come from the host's download cache, as on every
#         build after the first set-up: downloading them is the network's time, not the build's)
#   warm: what every npm start does: images.sh finds the tag of the same hash in the registry
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../env.sh"
bash "$HERE/images.sh" notebook >/dev/null 2>&1 # the registry has its tag (the warm case's premise)
scratch="$(mktemp -d /var/tmp/hs-bench-buildah-XXXXXX)"
cleanup() {
  buildah --root "$scratch/root" --runroot "$scratch/run" --storage-driver overlay rm -a >/dev/null 2>&1 || true
  buildah --root "$scratch/root" --runroot "$scratch/run" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true
  grep -o " $scratch[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t0=$(date +%s%N)
HOTSTEPPER_IMAGES_SCRATCH="$scratch" bash "$HERE/images.sh" notebook > /dev/null 2> "$scratch.log" ||
  { tail -20 "$scratch.log" >&2; rm -f "$scratch.log"; exit 1; }
rm -f "$scratch.log"
cold=$(ms "$t0")
warm=()
for _ in 1 2 3; do
  s=$(date +%s%N)
  bash "$HERE/images.sh" notebook >/dev/null 2>&1
  warm+=("$(ms "$s")")
done
median=$(printf '%s\n' "${warm[@]}" | sort -n | sed -n 2p)
awk -v c="$cold" -v w="$median" 'BEGIN { printf "notebook image build: cold %.1f s (fresh buildah storage: Debian base by mmdebstrap, then the image), warm %.2f s (median of 3: the tag of the same hash is in the registry, as on every npm start); warm/cold %.3f\n", c / 1000, w / 1000, w / c }'
