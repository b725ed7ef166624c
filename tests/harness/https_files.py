"""A static HTTPS file server for the e2e suite: serves a directory on
127.0.0.1 as a private provider registry or mirror would, with a
certificate for localhost and 127.0.0.1 signed by a CA made for this run.

    python https_files.py ROOT CERT_DIR

Writes CERT_DIR/ca.pem (for SSL_CERT_FILE), prints the port on stdout, and
logs "METHOD PATH STATUS" per request on stderr. A file without extension
is served as application/json: the registry protocol's documents
(`versions`, `download/OS/ARCH`) are JSON, and registries say so.
"""

import datetime
import functools
import http.server
import ipaddress
import os
import ssl
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificate(subject, issuer, public_key, signing_key, extensions):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def make_certificates(cert_dir):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
    )
    ca = certificate(
        name("bokbasen e2e registry CA"), name("bokbasen e2e registry CA"), ca_key.public_key(), ca_key,
        [(x509.BasicConstraints(ca=True, path_length=0), True), (ca_usage, True)],
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    leaf = certificate(
        name("localhost"), ca.subject, key.public_key(), ca_key,
        [(names, False), (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)],
    )
    pem = serialization.Encoding.PEM
    with open(os.path.join(cert_dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(cert_dir, "server.pem"), "wb") as f:
        f.write(leaf.public_bytes(pem))
    with open(os.path.join(cert_dir, "server.key"), "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class Handler(http.server.SimpleHTTPRequestHandler):
    def guess_type(self, path):
        if os.path.splitext(path)[1] in ("", ".json"):
            return "application/json"
        return super().guess_type(path)

    def log_request(self, code="-", size="-"):
        sys.stderr.write(f"{self.command} {self.path} {code}\n")
        sys.stderr.flush()


def main():
    root, cert_dir = sys.argv[1], sys.argv[2]
    make_certificates(cert_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(cert_dir, "server.pem"), os.path.join(cert_dir, "server.key"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
