#!/bin/sh
#
# make-certs.sh DIR [CLIENT_CN]: test certificates for flockmq's TLS
# listeners, made with the openssl command into DIR (created if missing).
# For tests and trials only: the keys are unencrypted; never commit them.
#
#	ca.pem ca.key		a test CA ("flockmq test CA")
#	server.pem server.key	signed by it, for localhost and 127.0.0.1
#				(subjectAltName), CN localhost
#	client.pem client.key	a client certificate, CN CLIENT_CN (client1)
#	expired.pem expired.key	a client certificate (CN expired) that
#				expired in 2020
#	other-ca.pem other-ca.key  another CA, which nobody trusts
#	other.pem other.key	a client certificate (CN other) it signed
#
# Each run makes new keys and serial numbers.

set -e

if test $# -lt 1 || test $# -gt 2; then
	echo "usage: $0 DIR [CLIENT_CN]" >&2
	exit 2
fi
dir=$1
cn=${2:-client1}
mkdir -p "$dir"
cd "$dir"
umask 077

# key NAME: an RSA key in NAME.key.
key () {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$1.key" 2>/dev/null
}

# ca NAME SUBJECT: a self-signed CA in NAME.pem.
ca () {
	key "$1"
	openssl req -x509 -new -key "$1.key" -sha256 -days 3650 \
	    -subj "$2" -out "$1.pem" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# cert NAME CA SUBJECT EXTFILE: NAME.pem for a new key, signed by CA.
cert () {
	key "$1"
	openssl req -new -key "$1.key" -subj "$3" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
	    -set_serial "0x$(openssl rand -hex 8)" -sha256 -days 825 \
	    -extfile "$4" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr"
}

cat >server.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EOF
cat >client.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF

ca ca "/O=flockmq test/CN=flockmq test CA"
cert server ca "/O=flockmq test/CN=localhost" server.ext
cert client ca "/O=flockmq test/CN=$cn" client.ext
ca other-ca "/O=somebody else/CN=other test CA"
cert other other-ca "/O=somebody else/CN=other" client.ext

# An expired client certificate: openssl x509 takes no start date, openssl
# ca does (with its little database).
key expired
openssl req -new -key expired.key -subj "/O=flockmq test/CN=expired" \
    -out expired.csr
mkdir -p ca.db
: >ca.db/index.txt
cat >ca.db/ca.cnf <<EOF
[ca]
default_ca = test
[test]
database = ca.db/index.txt
new_certs_dir = ca.db
serial = ca.db/serial
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
[any]
commonName = supplied
organizationName = optional
[ext]
basicConstraints = CA:FALSE
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
openssl rand -hex 8 >ca.db/serial
openssl ca -batch -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key \
    -startdate 20200101000000Z -enddate 20200201000000Z -notext \
    -in expired.csr -out expired.pem 2>/dev/null
rm -rf expired.csr ca.db server.ext client.ext
chmod 644 ./*.pem
