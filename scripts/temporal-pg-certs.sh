#!/usr/bin/env bash
# Generates the certificates for mutual TLS with the PostgreSQL-backed Temporal server
# (scripts/temporal-pg-up.sh): a CA, a server certificate for localhost / 127.0.0.1 and a client
# certificate, all signed by that CA. Kept when present and valid for another day; regenerated
# otherwise (then restart the server: it reads them at start).
#   temporal-pg-certs.sh DIR     writes DIR/{ca,server,client}.{pem,key}
set -euo pipefail
DIR=${1:?usage: temporal-pg-certs.sh DIR}
mkdir -p "$DIR"
cd "$DIR"

valid() { [ -s "$1.pem" ] && [ -s "$1.key" ] && openssl x509 -in "$1.pem" -noout -checkend 86400 >/dev/null 2>&1; }
if valid ca && valid server && valid client; then exit 0; fi

umask 077
rm -f ca.* server.* client.*
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -keyout ca.key -out ca.pem -subj "/O=tandem/CN=tandem test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() { # name subject extensions
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server "/O=tandem/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1"
issue client "/O=tandem/CN=tandem-client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 0644 ./*.pem
echo "temporal-pg-certs: CA, server (localhost, 127.0.0.1) and client certificates in $DIR" >&2
