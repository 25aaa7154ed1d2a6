#!/usr/bin/env bash
# Makes a throw-away PKI for the HTTP server's TLS tests in DIR (nothing is committed):
#   ca.pem / ca.key            the test CA
#   server.pem / server.key    for 127.0.0.1 and localhost, signed by the CA
#   client.pem / client.key    subject CN=ward-7,O=Test Region, signed by the CA
#   rogue-ca.pem, rogue.pem / rogue.key   a client certificate from another CA
# Keys are EC P-256: fast to make, so the tests pay milliseconds.
set -euo pipefail
dir="${1:?usage: make_test_ca.sh DIR}"
mkdir -p "$dir"
cd "$dir"
days=2
ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

ec ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=samordna test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem 2>/dev/null

ec server.key
openssl req -new -key server.key -subj "/CN=localhost" -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
  -sha256 -extfile server.ext -out server.pem 2>/dev/null

ec client.key
openssl req -new -key client.key -subj "/O=Test Region/CN=ward-7" -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
  -sha256 -extfile client.ext -out client.pem 2>/dev/null

ec rogue-ca.key
openssl req -x509 -new -key rogue-ca.key -sha256 -days "$days" -subj "/CN=rogue CA" \
  -addext "basicConstraints=critical,CA:TRUE" -out rogue-ca.pem 2>/dev/null
ec rogue.key
openssl req -new -key rogue.key -subj "/O=Test Region/CN=ward-7" -out rogue.csr 2>/dev/null
openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial \
  -days "$days" -sha256 -extfile client.ext -out rogue.pem 2>/dev/null
echo "$dir"
