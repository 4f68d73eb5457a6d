#!/usr/bin/env python3
"""A misbehaving reverse proxy in front of a test registry.

Every request is forwarded to --upstream (host:port) unchanged, Host header
included, so the registry's Location headers point back at the proxy. Blob
GETs (/v2/<name>/blobs/<digest>) can be disturbed:

  --cut N       the first GET of each blob without a Range header sends the
                full Content-Length but only N bytes, then drops the connection
                (a client must resume with Range)
  --flip        flips the bits of the first byte of every blob body
  --redirect    answers blob GETs with 307 to http://localhost:PORT/_redirected/...
                (another host name for the same proxy, as blob storage would be);
                that request is served from upstream with --upstream-auth

Each request is logged to --log as one line:
  METHOD PATH range=<Range or -> auth=<yes|no> host=<Host>
The chosen port is written to --port-file once the server listens.
"""

import argparse
import base64
import http.client
import http.server
import os
import socket
import sys
import threading

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate"}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    config = None
    cut_done = set()
    lock = threading.Lock()

    def log_message(self, format, *args):
        pass

    def record(self):
        if self.config.log:
            with self.lock, open(self.config.log, "a") as f:
                f.write("{} {} range={} auth={} host={}\n".format(
                    self.command, self.path, self.headers.get("Range", "-"),
                    "yes" if self.headers.get("Authorization") else "no",
                    self.headers.get("Host", "-")))

    def is_blob_get(self, path):
        return self.command == "GET" and path.startswith("/v2/") and "/blobs/sha256:" in path

    def upstream(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.config.upstream, timeout=60)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read() if method != "HEAD" else b""
        conn.close()
        return response, data

    def handle_any(self):
        self.record()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}

        if path.startswith("/_redirected/"):
            path = path[len("/_redirected"):]
            headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "host")}
            headers["Host"] = self.config.upstream
            if self.config.upstream_auth:
                headers["Authorization"] = "Basic " + base64.b64encode(self.config.upstream_auth.encode()).decode()
        elif self.config.redirect and self.is_blob_get(path):
            self.send_response(307)
            self.send_header("Location", "http://localhost:{}/_redirected{}".format(self.config.port, path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return

        response, data = self.upstream(self.command, path, headers, body)
        blob = self.is_blob_get(path) and 200 <= response.status < 300
        if blob and self.config.flip and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        cut = None
        if blob and self.config.cut is not None and "Range" not in self.headers:
            with self.lock:
                if path not in self.cut_done:
                    self.cut_done.add(path)
                    cut = self.config.cut

        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                self.send_header(key, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", response.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut is None:
            self.wfile.write(data)
            return
        self.wfile.write(data[:cut])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="registry host:port")
    parser.add_argument("--upstream-auth", help="user:pass for redirected requests")
    parser.add_argument("--cut", type=int)
    parser.add_argument("--flip", action="store_true")
    parser.add_argument("--redirect", action="store_true")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log")
    config = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    config.port = server.server_address[1]
    Proxy.config = config
    tmp = config.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(config.port))
    os.rename(tmp, config.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
