"""A fake of HCP Terraform's private-registry API for the e2e suite: the
endpoints of HashiCorp's "Publishing private providers" sequence, each
request checked against the API reference (method, path, headers, JSON:API
body), over HTTPS like https_files.py.

    python hcp_fake.py ORGANIZATION TOKEN CERT_DIR

Prints the port; logs "METHOD PATH STATUS" (and "REJECTED reason") on
stderr. `GET /_fake/state` returns what was published, with the SHA-256 of
each uploaded file. A request the reference does not describe is answered
400 with the reason, so the client fails and the test sees why.
"""

import hashlib
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from https_files import make_certificates  # noqa: E402

ORG, TOKEN, CERT_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
JSON_API = "application/vnd.api+json"
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
PROVIDER = f"/api/v2/organizations/{ORG}/registry-providers/private/{ORG}/"

lock = threading.Lock()
state = {"providers": [], "gpg_keys": {}, "versions": {}, "uploads": {}}
# Upload id -> what it is for: ("shasums", version) and so on.
upload_slots = {}


def key_id_of(armor):
    """The long key ID gpg reads from an ASCII-armored public key, or None."""
    with tempfile.TemporaryDirectory() as home:
        result = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--import-options", "show-only", "--import"],
            input=armor.encode(), capture_output=True, env={**os.environ, "GNUPGHOME": home},
        )
    for line in result.stdout.decode().splitlines():
        if line.startswith("pub:"):
            return line.split(":")[4]
    return None


class Rejected(Exception):
    pass


class Unauthorized(Exception):
    pass


def require(condition, reason):
    if not condition:
        raise Rejected(reason)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-"):
        sys.stderr.write(f"{self.command} {self.path} {code}\n")
        sys.stderr.flush()

    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON_API)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def api(self, with_body):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise Unauthorized()
        if with_body:
            require(self.headers.get("Content-Type") == JSON_API, f"Content-Type must be {JSON_API}")
            document = json.loads(self.body())
            require(isinstance(document.get("data"), dict), "a JSON:API document has `data`")
            return document["data"]
        return None

    def upload_link(self, kind, version):
        slot = uuid.uuid4().hex
        upload_slots[slot] = (kind, version)
        host = self.headers.get("Host")
        return f"https://{host}/archivist/v1/object/{slot}"

    def handle_any(self):
        try:
            with lock:
                status, document = self.route()
        except Unauthorized:
            status, document = 401, {"errors": [{"status": "401", "title": "unauthorized"}]}
        except Rejected as reason:
            sys.stderr.write(f"REJECTED {self.command} {self.path}: {reason}\n")
            status, document = 400, {"errors": [{"status": "400", "title": "rejected by the fake", "detail": str(reason)}]}
        self.reply(status, document)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def route(self):
        path, method = self.path, self.command
        if path == "/_fake/state" and method == "GET":
            return 200, state
        if path.startswith("/archivist/v1/object/") and method == "PUT":
            require("Authorization" not in self.headers, "uploads must not carry the API token")
            slot = path.rsplit("/", 1)[1]
            require(slot in upload_slots, "an upload URL the API did not hand out")
            kind, version = upload_slots.pop(slot)
            state["uploads"][f"{version}/{kind}"] = hashlib.sha256(self.body()).hexdigest()
            return 200, {}
        if path == f"/api/v2/organizations/{ORG}/registry-providers" and method == "POST":
            data = self.api(True)
            require(data.get("type") == "registry-providers", "type registry-providers")
            attributes = data.get("attributes", {})
            require(attributes.get("registry-name") == "private", "registry-name private")
            require(attributes.get("namespace") == ORG, "namespace is the organization")
            require(attributes.get("name") not in state["providers"], "the provider exists")
            state["providers"].append(attributes["name"])
            return 201, {"data": {"id": "prov-fake", "type": "registry-providers", "attributes": attributes}}
        if path.startswith(PROVIDER) and method == "GET" and path[len(PROVIDER):].count("/") == 0:
            self.api(False)
            name = path[len(PROVIDER):]
            if name in state["providers"]:
                return 200, {"data": {"id": "prov-fake", "type": "registry-providers", "attributes": {"name": name}}}
            return 404, {"errors": [{"status": "404", "title": "not found"}]}
        if path == f"/api/registry/private/v2/gpg-keys?filter%5Bnamespace%5D={ORG}" and method == "GET":
            self.api(False)
            keys = [{"type": "gpg-keys", "id": k, "attributes": {"key-id": k, "namespace": ORG}} for k in state["gpg_keys"]]
            return 200, {"data": keys}
        if path == "/api/registry/private/v2/gpg-keys" and method == "POST":
            data = self.api(True)
            require(data.get("type") == "gpg-keys", "type gpg-keys")
            attributes = data.get("attributes", {})
            require(attributes.get("namespace") == ORG, "namespace is the organization")
            key_id = key_id_of(attributes.get("ascii-armor", ""))
            require(key_id is not None, "ascii-armor is an ASCII-armored public key")
            state["gpg_keys"][key_id] = attributes["ascii-armor"]
            return 201, {"data": {"type": "gpg-keys", "id": "1", "attributes": {"key-id": key_id, "namespace": ORG}}}
        match = re.fullmatch(re.escape(PROVIDER) + r"([a-z0-9-]+)/versions", path)
        if match and method == "POST":
            data = self.api(True)
            require(match.group(1) in state["providers"], "the provider exists")
            require(data.get("type") == "registry-provider-versions", "type registry-provider-versions")
            attributes = data.get("attributes", {})
            version = attributes.get("version", "")
            require(SEMVER.match(version), "version is semver")
            require(attributes.get("key-id") in state["gpg_keys"], "key-id is an uploaded GPG key's")
            protocols = attributes.get("protocols")
            require(isinstance(protocols, list) and protocols and set(protocols) <= {"4.0", "5.0", "6.0"}, "protocols")
            if version in state["versions"]:
                return 422, {"errors": [{"status": "422", "title": "invalid attribute", "detail": "Version has already been taken"}]}
            state["versions"][version] = {"key-id": attributes["key-id"], "protocols": protocols, "platforms": []}
            links = {"shasums-upload": self.upload_link("SHA256SUMS", version),
                     "shasums-sig-upload": self.upload_link("SHA256SUMS.sig", version)}
            return 201, {"data": {"id": "provver-fake", "type": "registry-provider-versions",
                                  "attributes": attributes, "links": links}}
        match = re.fullmatch(re.escape(PROVIDER) + r"([a-z0-9-]+)/versions/([^/]+)/platforms", path)
        if match and method == "POST":
            data = self.api(True)
            version = match.group(2)
            require(version in state["versions"], "the version exists")
            require(data.get("type") == "registry-provider-version-platforms", "type registry-provider-version-platforms")
            attributes = data.get("attributes", {})
            for field in ("os", "arch", "filename"):
                require(isinstance(attributes.get(field), str) and attributes[field], f"attributes.{field}")
            require(re.fullmatch(r"[0-9a-f]{64}", attributes.get("shasum", "")), "shasum is a SHA-256 in hex")
            state["versions"][version]["platforms"].append(attributes)
            links = {"provider-binary-upload": self.upload_link(attributes["filename"], version)}
            return 201, {"data": {"id": "provpltfrm-fake", "type": "registry-provider-platforms",
                                  "attributes": attributes, "links": links}}
        raise Rejected("no such endpoint in the private-registry API reference")


def main():
    make_certificates(CERT_DIR)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(CERT_DIR, "server.pem"), os.path.join(CERT_DIR, "server.key"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
