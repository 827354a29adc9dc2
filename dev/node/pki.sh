#!/usr/bin/env bash
# Certificates for the real node, signed by the control plane's CA (dev/k8s/up.sh makes it):
#   kubelet-client    the kubelet's identity towards the apiserver (system:node:<node>, system:nodes)
#   kubelet-serving   the kubelet's HTTPS endpoint (logs, exec, port-forward, metrics) on the node's
#                     address (given as ADDRESS; made only then)
#   apiserver-kubelet-client   the apiserver's identity towards the kubelet
# Made once per state directory.   pki.sh PKI_DIR NODE_NAME [ADDRESS]
set -euo pipefail
PKI=$1 NODE=$2 ADDRESS=${3:-}
cd "$PKI"
umask 077
cert() { # name subject [extfile lines...]
  local name=$1 subj=$2; shift 2
  [ -s "$name.crt" ] && return 0
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  printf '%s\n' "$@" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" \
    -days 3650 -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
cert kubelet-client "/O=system:nodes/CN=system:node:$NODE" \
  "extendedKeyUsage=clientAuth" "keyUsage=digitalSignature,keyEncipherment"
if [ -n "$ADDRESS" ]; then
  # made again when the node's address changed (another port base in the same state directory)
  grep -qxF "$ADDRESS" kubelet-serving.address 2>/dev/null || rm -f kubelet-serving.crt
  cert kubelet-serving "/CN=$NODE" "subjectAltName=IP:$ADDRESS,DNS:$NODE" \
    "extendedKeyUsage=serverAuth" "keyUsage=digitalSignature,keyEncipherment"
  echo "$ADDRESS" > kubelet-serving.address
fi
# Prometheus reads the kubelet's /metrics/resource and /metrics/cadvisor (RBAC: nodes/metrics)
cert prometheus "/CN=hotstepper:prometheus" \
  "extendedKeyUsage=clientAuth" "keyUsage=digitalSignature,keyEncipherment"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" \
  "extendedKeyUsage=clientAuth" "keyUsage=digitalSignature,keyEncipherment"
