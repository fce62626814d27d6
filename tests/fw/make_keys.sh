#!/bin/sh
# Usage: make_keys.sh DIR
# Makes every key the firmware tests use, fresh for each run:
#   swu.{key,cert}.pem      RSA signer of .swu images (swupdate -k trusts swu.cert.pem)
#   rogue.{key,cert}.pem    a signer swupdate does not trust
#   sign.key.pem, sign.pub.pem    ECDSA P-256: detached image signatures ([firmware] public_key)
#   rsa.key.pem, rsa.pub.pem      RSA-2048: the same with RSA
#   other.key.pem           an EC key whose signatures must be refused
#   ca.{key,cert}.pem, server.{key,cert}.pem   a test CA and nginx's certificate for
#                           127.0.0.1 / localhost
set -e
D=${1:?usage: make_keys.sh DIR}
mkdir -p "$D"
cd "$D"
for n in swu rogue; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout $n.key.pem -out $n.cert.pem \
		-subj "/O=lwm2md-test/CN=$n-signer" 2>/dev/null
done
openssl ecparam -name prime256v1 -genkey -noout -out sign.key.pem
openssl ec -in sign.key.pem -pubout -out sign.pub.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out other.key.pem
openssl genrsa -out rsa.key.pem 2048 2>/dev/null
openssl rsa -in rsa.key.pem -pubout -out rsa.pub.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout ca.key.pem -out ca.cert.pem \
	-subj "/O=lwm2md-test/CN=lwm2md test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key.pem -out server.csr \
	-subj "/O=lwm2md-test/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial -days 30 \
	-extfile server.ext -out server.cert.pem 2>/dev/null
rm -f server.csr server.ext ca.cert.srl
