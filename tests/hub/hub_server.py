#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub, for tests/hub/test_download.sh.

Serves one folder as the repo --repo in the hub's URL layout:
  GET /api/models/ORG/NAME/revision/REV[?blobs=true]  -> {"sha", "siblings"}
  GET /ORG/NAME/resolve/REV/FILE  -> the file (regular files), or a 302 to
      /lfs-cdn/SHA256 with X-Linked-Etag / X-Linked-Size (LFS files, like
      the hub's redirect to its CDN); X-Repo-Commit on both.
Range requests get 206. Faults for the tests:
  --fail-once FILE:N  the first transfer of FILE stops after N bytes
                      (the connection is closed mid-body)
  --corrupt FILE      serve FILE with one byte changed (same size)
  --pad FILE          serve FILE with bytes appended (wrong size)
  --endless FILE      serve FILE as its bytes followed by zeros without end
                      (no Content-Length: the body runs until the client hangs up)
  --no-range          ignore Range headers (always the whole file)
  --no-blobs          answer ?blobs=true with names only (as a mirror might):
                      sizes and sums come from the file responses' headers
  --require-token T   401 unless "Authorization: Bearer T"
  --cdn-host HOST     redirect LFS files to http://HOST:PORT/lfs-cdn/ (another
                      host name for this server, as the hub's CDN is another
                      host: a client must not send it the token)
Every request is logged as one JSON line to --log. Binds 127.0.0.1 on a
free port, written to --port-file; exits after --lifetime seconds.
"""
import argparse
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".bin", ".msgpack", ".h5", ".ckpt")


def load_repo(root, args):
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as f:
                data = f.read()
            true_data = data
            if rel in args.corrupt:
                mid = len(data) // 2
                data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
            if rel in args.pad:
                data = data + b"padding"
            lfs = rel.endswith(LFS_SUFFIXES)
            files[rel] = {
                "data": data,
                # what the hub announces: the true file's size and sum
                "size": len(true_data),
                "sha256": hashlib.sha256(true_data).hexdigest(),
                "blob": hashlib.sha1(b"blob %d\0" % len(true_data) + true_data).hexdigest(),
                "lfs": lfs,
            }
    commit = hashlib.sha1("".join(f["sha256"] for f in files.values()).encode()).hexdigest()
    return files, commit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def log_request_json(self):
        entry = {"method": self.command, "path": self.path,
                 "range": self.headers.get("Range"),
                 "auth": self.headers.get("Authorization")}
        with self.server.log_lock, open(self.server.args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, message.encode(), {"X-Error-Code": code, "X-Error-Message": message,
                                              "Content-Type": "text/plain"})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.log_request_json()
        srv = self.server
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query)
        if srv.args.require_token and not path.startswith("/lfs-cdn/"):
            if self.headers.get("Authorization") != "Bearer " + srv.args.require_token:
                return self.error(401, "GatedRepo", "Access to this repo is restricted.")
        api = "/api/models/%s/revision/" % srv.args.repo
        resolve = "/%s/resolve/" % srv.args.repo
        if path.startswith(api):
            blobs = query.get("blobs") == ["true"] and not srv.args.no_blobs
            return self.api(path[len(api):], blobs)
        if path.startswith(resolve):
            rev, _, name = path[len(resolve):].partition("/")
            if rev not in ("main", srv.commit):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            f = srv.files.get(name)
            if f is None:
                return self.error(404, "EntryNotFound", name + " does not exist")
            common = {"X-Repo-Commit": srv.commit}
            if f["lfs"]:
                cdn = ""
                if srv.args.cdn_host:
                    cdn = "http://%s:%d" % (srv.args.cdn_host, srv.server_address[1])
                common.update({"Location": "%s/lfs-cdn/%s?name=%s" % (cdn, f["sha256"], name),
                               "X-Linked-Etag": '"%s"' % f["sha256"],
                               "X-Linked-Size": str(f["size"]), "ETag": '"%s"' % f["blob"]})
                return self.reply(302, b"", common)
            return self.send_file(name, f, dict(common, ETag='"%s"' % f["blob"]))
        if path.startswith("/lfs-cdn/"):
            name = query.get("name", [""])[0]
            f = srv.files.get(name)
            if f is None or f["sha256"] != path[len("/lfs-cdn/"):]:
                return self.error(404, "", "no such object")
            return self.send_file(name, f, {"ETag": '"cdn-%s"' % f["sha256"][:16]})
        if path.startswith("/api/models/") or path.count("/") >= 3:
            return self.error(404, "RepoNotFound", "Repository not found")
        return self.error(404, "", "not found")

    def api(self, rev, blobs):
        srv = self.server
        if rev not in ("main", srv.commit):
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        siblings = []
        for name, f in sorted(srv.files.items()):
            s = {"rfilename": name}
            if blobs:
                s.update({"blobId": f["blob"], "size": f["size"]})
                if f["lfs"]:
                    s["lfs"] = {"sha256": f["sha256"], "size": f["size"], "pointerSize": 134}
            siblings.append(s)
        body = json.dumps({"id": srv.args.repo, "sha": srv.commit, "siblings": siblings}).encode()
        self.reply(200, body, {"Content-Type": "application/json"})

    def send_file(self, name, f, headers):
        data, start, status = f["data"], 0, 200
        rng = self.headers.get("Range")
        if rng and not self.server.args.no_range:
            first, _, last = rng.replace("bytes=", "").partition("-")
            start = int(first)
            end = int(last) + 1 if last else len(data)
            if start >= len(data):
                return self.reply(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, end - 1, len(data))
            data, status = data[start:end], 206
        if name in self.server.args.endless:
            return self.send_endless(status, headers, data)
        cut = None
        with self.server.log_lock:
            if name in self.server.fail_once:
                cut = self.server.fail_once.pop(name)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data)))
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

    def send_endless(self, status, headers, data):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(data)
            while True:
                self.wfile.write(bytes(65536))
        except OSError:
            pass  # the client hung up, as it should


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-once", action="append", default=[])
    ap.add_argument("--corrupt", action="append", default=[])
    ap.add_argument("--pad", action="append", default=[])
    ap.add_argument("--endless", action="append", default=[])
    ap.add_argument("--no-range", action="store_true")
    ap.add_argument("--no-blobs", action="store_true")
    ap.add_argument("--require-token")
    ap.add_argument("--cdn-host")
    ap.add_argument("--lifetime", type=int, default=120)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.args = args
    srv.files, srv.commit = load_repo(args.root, args)
    srv.fail_once = {k: int(v) for k, _, v in (s.rpartition(":") for s in args.fail_once)}
    srv.log_lock = threading.Lock()
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(args.lifetime)  # never outlive a test that forgot us
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
