#!/usr/bin/env python3
"""A Bearer token server for tests of the registry token flow.

GET /token?service=S&scope=repository:NAME:pull,push[&scope=...] answers
{"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": T}.
With HTTP Basic credentials that match --user, the JWT grants every action
asked for; without credentials (anonymous) it grants only "pull", and only
when --anonymous-pull is given; wrong credentials get 401.

The JWT is RS256, signed with `openssl dgst -sha256 -sign KEY` (Python's
standard library has no RSA). Distribution 2.8 accepts a token whose header
carries the signing certificate in "x5c" when that certificate chains to its
auth.token.rootcertbundle; the claims must name its issuer ("iss") and
service ("aud") and be within nbf..exp.

The chosen port is written to --port-file once the server listens.
Every request is appended to --log (one line: method, path, user) so tests
can assert the flow happened.
"""

import argparse
import base64
import http.server
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64(cert_path: str) -> str:
    der = subprocess.run(["openssl", "x509", "-in", cert_path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return base64.b64encode(der).decode()


class TokenHandler(http.server.BaseHTTPRequestHandler):
    server_version = "kiln-test-token-server/1"
    config = None  # set in main()

    def log_message(self, format, *args):  # quiet on stderr
        pass

    def record(self, user):
        if self.config.log:
            with open(self.config.log, "a") as f:
                f.write(f"{self.command} {self.path} user={user or '-'}\n")

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def credentials(self):
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except Exception:
            return ("", "")
        return (user, password)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        query = urllib.parse.parse_qs(url.query)
        creds = self.credentials()
        want_user, _, want_password = self.config.user.partition(":")
        user = None
        if creds is not None:
            if creds != (want_user, want_password):
                self.record(f"{creds[0]}(rejected)")
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="kiln-test-token"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            user = creds[0]
        self.record(user)

        access = []
        for scope in query.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) < 3:
                    continue
                kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
                if user is None:
                    actions = [a for a in actions if a == "pull"] if self.config.anonymous_pull else []
                access.append({"type": kind, "name": name, "actions": actions})

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.config.x5c]}
        claims = {
            "iss": self.config.issuer,
            "sub": user or "",
            "aud": query.get("service", [self.config.service])[0],
            "exp": now + self.config.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.config.key],
                                   input=signing_input.encode(), check=True,
                                   capture_output=True).stdout
        token = signing_input + "." + b64url(signature)
        self.reply(200, {"token": token, "access_token": token,
                         "expires_in": self.config.expires_in,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="PEM private key that signs tokens")
    parser.add_argument("--cert", required=True, help="PEM certificate of that key (x5c)")
    parser.add_argument("--user", default="user:pass", help="accepted Basic credentials")
    parser.add_argument("--issuer", default="kiln-test-issuer")
    parser.add_argument("--service", default="kiln-test-registry")
    parser.add_argument("--expires-in", type=int, default=300)
    parser.add_argument("--anonymous-pull", action="store_true")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log")
    config = parser.parse_args()
    config.x5c = cert_der_b64(config.cert)
    TokenHandler.config = config

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenHandler)
    tmp = config.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, config.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
