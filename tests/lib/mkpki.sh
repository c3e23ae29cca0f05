#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/lib/mkpki.sh DIR: generate herald's test PKI into DIR with the
# openssl CLI (EC P-256, SHA-256). Idempotent: when DIR already holds a
# complete PKI (DIR/.complete and DIR/.complete-untrusted) nothing is done.
# Prints nothing on success; exits non-zero with a message on failure.
# Never use these keys for anything but tests.
#
# Files (every .pem has a matching .key unless noted):
#   root-a.pem/.key         self-signed CA "CN=Herald Test Root A"
#   root-old.pem/.key       self-signed CA "CN=Herald Test Old Root"
#   root-a-cross.pem        root A's subject and key (root-a.key), issued by
#                           root-old: the cross-signed copy (GTS Root R1 by
#                           GlobalSign)
#   inter.pem/.key          intermediate CA "CN=Herald Test Intermediate",
#                           issued by root A
#   leaf.pem/.key           server cert CN=localhost, SAN DNS:localhost,
#                           IP:127.0.0.1, IP:::1, issued by inter
#   leaf-expired.pem/.key   same names, valid 2020-01-01 .. 2021-01-01
#   leaf-wronghost.pem/.key CN=wrong.example, SAN DNS:wrong.example only
#   leaf-selfsigned.pem/.key self-signed CN=localhost with the same SANs
#                           (not a CA)
#   chain-full.pem/.key     leaf + inter + root-a-cross (the Gmail shape)
#   chain-inter.pem/.key    leaf + inter
#   chain-expired.pem/.key  leaf-expired + inter + root-a-cross
#   chain-wronghost.pem/.key leaf-wronghost + inter + root-a-cross
#   chain-selfsigned.pem/.key leaf-selfsigned alone
#   nonca.pem/.key          end-entity cert CN=Herald Test Client (CA:FALSE,
#                           clientAuth), issued by inter
#   expiring.pem/.key       self-signed CA "CN=Herald Test Expiring CA",
#                           valid for 10 more days
#   ca-bundle.pem           root-a + inter (two PEM blocks, no key)
#   root-a.der              root A in DER (no key)
#   root-a.b64              root A as bare base64 lines (no armor, no key)
#   root-a.hex              root A as running-config hex ("crypto pki
#                           certificate chain" style, 8 groups a line)
#   untrusted-root.pem/.key self-signed CA "CN=Herald Test Untrusted Root",
#                           never a trustpoint: the TLS-intercepting proxy
#   leaf-untrusted.pem/.key server cert CN=localhost with the leaf's SANs,
#                           issued by untrusted-root
#   chain-untrusted.pem/.key leaf-untrusted + untrusted-root (a token
#                           endpoint nobody trusts, tests/lib/oauthsrv.py)
#
# The untrusted set came later: it is generated on its own (marker
# DIR/.complete-untrusted) into a DIR that an older mkpki.sh completed,
# without touching the files already there.
#
# The leaf certificates carry CRL distribution point, AIA (OCSP + CA issuers)
# and certificate policy extensions so that detail parsing can be tested.

set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: mkpki.sh DIR" >&2
    exit 2
fi
DIR=$1
complete() {
    [ -f "$DIR/.complete" ] && [ -f "$DIR/.complete-untrusted" ]
}
if complete; then
    exit 0
fi
command -v openssl >/dev/null 2>&1 || {
    echo "mkpki.sh: openssl not found in PATH" >&2
    exit 1
}
mkdir -p "$DIR" || { echo "mkpki.sh: cannot create $DIR" >&2; exit 1; }
# Concurrent callers on one DIR: the first generates, the others wait.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DIR/.lock"
    flock 9 || { echo "mkpki.sh: cannot lock $DIR/.lock" >&2; exit 1; }
    if complete; then
        exit 0
    fi
fi
TMP=$(mktemp -d "$DIR/.mkpki.XXXXXX") || {
    echo "mkpki.sh: cannot create a temporary directory in $DIR" >&2
    exit 1
}
trap 'rm -rf "$TMP"' EXIT
LOG=$TMP/openssl.log

fail() {
    echo "mkpki.sh: $*" >&2
    if [ -s "$LOG" ]; then
        tail -n 20 "$LOG" >&2
    fi
    exit 1
}

ossl() {
    openssl "$@" >>"$LOG" 2>&1 || fail "openssl $1 failed"
}

key() {
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$TMP/$1.key"
}

serial() {
    echo "0x$(openssl rand -hex 8)"
}

cat >"$TMP/ext.cnf" <<'EOF'
[ca_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ca_cross]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ca_inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://crl.herald.test/root-a.crl
authorityInfoAccess = OCSP;URI:http://ocsp.herald.test/root-a, caIssuers;URI:http://pki.herald.test/root-a.der
certificatePolicies = 2.23.140.1.2.1

[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
crlDistributionPoints = URI:http://crl.herald.test/inter.crl
authorityInfoAccess = OCSP;URI:http://ocsp.herald.test/inter, caIssuers;URI:http://pki.herald.test/inter.der
certificatePolicies = 2.23.140.1.2.1, 1.3.6.1.4.1.99999.1

[leaf_wronghost]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:wrong.example

[leaf_self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

[nonca]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = email:client@herald.test, URI:https://herald.test/client
EOF

# self-signed CA: name, CN, days
selfca() {
    key "$1"
    ossl req -new -x509 -key "$TMP/$1.key" -subj "/O=Herald Test/CN=$2" \
        -days "$3" -set_serial "$(serial)" -sha256 \
        -config "$TMP/ext.cnf" -extensions ca_root -out "$TMP/$1.pem"
}

# issued cert: name, key name, subject, issuer name, section, days
issue() {
    ossl req -new -key "$TMP/$2.key" -subj "$3" -out "$TMP/$1.csr"
    ossl x509 -req -in "$TMP/$1.csr" -CA "$TMP/$4.pem" -CAkey "$TMP/$4.key" \
        -set_serial "$(serial)" -days "$6" -sha256 \
        -extfile "$TMP/ext.cnf" -extensions "$5" -out "$TMP/$1.pem"
}

if [ ! -f "$DIR/.complete" ]; then
selfca root-a "Herald Test Root A" 3650
selfca root-old "Herald Test Old Root" 7300
issue root-a-cross root-a "/O=Herald Test/CN=Herald Test Root A" root-old \
    ca_cross 3000
key inter
issue inter inter "/O=Herald Test/CN=Herald Test Intermediate" root-a \
    ca_inter 1825
key leaf
issue leaf leaf "/CN=localhost" inter leaf 825
key leaf-wronghost
issue leaf-wronghost leaf-wronghost "/CN=wrong.example" inter \
    leaf_wronghost 825
key nonca
issue nonca nonca "/O=Herald Test/CN=Herald Test Client" inter nonca 825

key leaf-selfsigned
ossl req -new -x509 -key "$TMP/leaf-selfsigned.key" -subj "/CN=localhost" \
    -days 825 -set_serial "$(serial)" -sha256 -config "$TMP/ext.cnf" \
    -extensions leaf_self -out "$TMP/leaf-selfsigned.pem"

selfca expiring "Herald Test Expiring CA" 10

# The expired leaf needs explicit dates: openssl ca can set them.
key leaf-expired
mkdir -p "$TMP/ca/newcerts"
: >"$TMP/ca/index.txt"
openssl rand -hex 8 >"$TMP/ca/serial"
cat >"$TMP/ca.cnf" <<EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $TMP/ca
database = $TMP/ca/index.txt
new_certs_dir = $TMP/ca/newcerts
serial = $TMP/ca/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
commonName = supplied
EOF
ossl req -new -key "$TMP/leaf-expired.key" -subj "/CN=localhost" \
    -out "$TMP/leaf-expired.csr"
ossl ca -batch -notext -config "$TMP/ca.cnf" -cert "$TMP/inter.pem" \
    -keyfile "$TMP/inter.key" -in "$TMP/leaf-expired.csr" \
    -startdate 20200101000000Z -enddate 20210101000000Z \
    -extfile "$TMP/ext.cnf" -extensions leaf -out "$TMP/leaf-expired.pem"

# The chains mail servers present, each with the leaf's key.
cat "$TMP/leaf.pem" "$TMP/inter.pem" "$TMP/root-a-cross.pem" \
    >"$TMP/chain-full.pem"
cp "$TMP/leaf.key" "$TMP/chain-full.key"
cat "$TMP/leaf.pem" "$TMP/inter.pem" >"$TMP/chain-inter.pem"
cp "$TMP/leaf.key" "$TMP/chain-inter.key"
cat "$TMP/leaf-expired.pem" "$TMP/inter.pem" "$TMP/root-a-cross.pem" \
    >"$TMP/chain-expired.pem"
cp "$TMP/leaf-expired.key" "$TMP/chain-expired.key"
cat "$TMP/leaf-wronghost.pem" "$TMP/inter.pem" "$TMP/root-a-cross.pem" \
    >"$TMP/chain-wronghost.pem"
cp "$TMP/leaf-wronghost.key" "$TMP/chain-wronghost.key"
cp "$TMP/leaf-selfsigned.pem" "$TMP/chain-selfsigned.pem"
cp "$TMP/leaf-selfsigned.key" "$TMP/chain-selfsigned.key"
cat "$TMP/root-a.pem" "$TMP/inter.pem" >"$TMP/ca-bundle.pem"

# Other encodings of root A.
ossl x509 -in "$TMP/root-a.pem" -outform DER -out "$TMP/root-a.der"
grep -v -- '-----' "$TMP/root-a.pem" >"$TMP/root-a.b64" ||
    fail "cannot write root-a.b64"
od -An -v -tx1 "$TMP/root-a.der" | tr -d ' \n' |
    fold -w 8 | tr 'a-f' 'A-F' | paste -d ' ' - - - - - - - - |
    sed -e 's/ *$//' -e 's/^/  /' >"$TMP/root-a.hex" ||
    fail "cannot write root-a.hex"

# Sanity: the chains verify the way the tests expect.
openssl verify -CAfile "$TMP/root-a.pem" -untrusted "$TMP/inter.pem" \
    "$TMP/leaf.pem" >>"$LOG" 2>&1 || fail "leaf does not verify to root A"
openssl verify -CAfile "$TMP/root-old.pem" -untrusted "$TMP/root-a-cross.pem" \
    "$TMP/inter.pem" >>"$LOG" 2>&1 ||
    fail "inter does not verify to the old root through the cross cert"

for f in root-a root-old inter leaf leaf-expired leaf-wronghost \
    leaf-selfsigned nonca expiring chain-full chain-inter chain-expired \
    chain-wronghost chain-selfsigned; do
    mv -f "$TMP/$f.pem" "$TMP/$f.key" "$DIR/" || fail "cannot move $f into $DIR"
done
for f in root-a-cross.pem ca-bundle.pem root-a.der root-a.b64 root-a.hex; do
    mv -f "$TMP/$f" "$DIR/" || fail "cannot move $f into $DIR"
done
chmod 600 "$DIR"/*.key
: >"$DIR/.complete"
fi

# The untrusted set: a CA no test makes a trustpoint, and a localhost leaf
# it issued, presented with it.
if [ ! -f "$DIR/.complete-untrusted" ]; then
    selfca untrusted-root "Herald Test Untrusted Root" 3650
    key leaf-untrusted
    issue leaf-untrusted leaf-untrusted "/CN=localhost" untrusted-root leaf 825
    cat "$TMP/leaf-untrusted.pem" "$TMP/untrusted-root.pem" \
        >"$TMP/chain-untrusted.pem"
    cp "$TMP/leaf-untrusted.key" "$TMP/chain-untrusted.key"
    openssl verify -CAfile "$TMP/untrusted-root.pem" \
        "$TMP/leaf-untrusted.pem" >>"$LOG" 2>&1 ||
        fail "leaf-untrusted does not verify to the untrusted root"
    if openssl verify -CAfile "$DIR/root-a.pem" \
        -untrusted "$DIR/inter.pem" "$TMP/leaf-untrusted.pem" \
        >>"$LOG" 2>&1; then
        fail "leaf-untrusted verifies to root A"
    fi
    for f in untrusted-root leaf-untrusted chain-untrusted; do
        mv -f "$TMP/$f.pem" "$TMP/$f.key" "$DIR/" ||
            fail "cannot move $f into $DIR"
        chmod 600 "$DIR/$f.key"
    done
    : >"$DIR/.complete-untrusted"
fi
