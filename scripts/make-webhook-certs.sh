#!/usr/bin/env bash
# TLS for the kube-request-access webhook without cert-manager: makes a CA and a serving
# certificate for the Service's DNS names with openssl, stores them as the
# kube-request-access-tls secret, and writes the CA into the ValidatingWebhookConfiguration's
# caBundle. Re-run it to rotate (pods pick up the new certificate without a restart).
#
#   scripts/make-webhook-certs.sh [--namespace NS] [--service NAME] [--webhook-config NAME]
#                                 [--days N] [--out-dir DIR] [--no-apply]
#
# KUBECTL overrides the kubectl command, e.g. KUBECTL="kubectl --context prod".
set -euo pipefail

namespace=kube-request-access
service=kube-request-access
secret=kube-request-access-tls
webhook_config=kube-request-access
days=365
out_dir=
apply=1
kubectl=${KUBECTL:-kubectl}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --namespace) namespace=$2; shift 2 ;;
    --service) service=$2; shift 2 ;;
    --secret) secret=$2; shift 2 ;;
    --webhook-config) webhook_config=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --out-dir) out_dir=$2; shift 2 ;;
    --no-apply) apply=0; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
if [[ -z "$out_dir" ]]; then
  out_dir=$(mktemp -d)
  trap 'rm -rf "$out_dir"' EXIT
fi
mkdir -p "$out_dir"
cd "$out_dir"

dns1="$service.$namespace.svc"
dns2="$service.$namespace.svc.cluster.local"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.crt -days "$((days * 3))" -subj "/CN=kube-request-access CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout tls.key -out tls.csr -subj "/CN=$dns1" 2>/dev/null
cat > ext.cnf <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$dns1,DNS:$dns2,DNS:$service.$namespace
EXT
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt \
  -days "$days" -sha256 -extfile ext.cnf 2>/dev/null
openssl verify -CAfile ca.crt tls.crt >/dev/null
rm -f tls.csr ext.cnf ca.srl
echo "certificate for $dns1 written to $out_dir (CA: ca.crt)" >&2

if [[ $apply -eq 0 ]]; then
  exit 0
fi

$kubectl get namespace "$namespace" >/dev/null 2>&1 || $kubectl create namespace "$namespace" >/dev/null
$kubectl -n "$namespace" create secret tls "$secret" --cert=tls.crt --key=tls.key \
  --dry-run=client -o yaml | $kubectl apply -f - >/dev/null
echo "secret $namespace/$secret applied" >&2

if ! $kubectl get validatingwebhookconfiguration "$webhook_config" >/dev/null 2>&1; then
  echo "ValidatingWebhookConfiguration $webhook_config not found; apply the manifests (kubectl apply -k manifests) and re-run" >&2
  exit 1
fi
ca_bundle=$(base64 < ca.crt | tr -d '\n')
count=$($kubectl get validatingwebhookconfiguration "$webhook_config" -o jsonpath='{range .webhooks[*]}x{end}')
patch="["
for ((i = 0; i < ${#count}; i++)); do
  [[ $i -gt 0 ]] && patch+=","
  patch+="{\"op\":\"add\",\"path\":\"/webhooks/$i/clientConfig/caBundle\",\"value\":\"$ca_bundle\"}"
done
patch+="]"
$kubectl patch validatingwebhookconfiguration "$webhook_config" --type=json -p "$patch" >/dev/null
echo "caBundle of $webhook_config (${#count} webhooks) set" >&2
