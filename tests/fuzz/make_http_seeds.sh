#!/usr/bin/env bash
# tests/fuzz/make_http_seeds.sh DIR - a seed corpus for fuzz_http: one raw
# request per file, for every kind the server parses (URL arguments, forms,
# JSON, image bytes, chunked bodies, each route).
set -euo pipefail
out=${1:?usage: make_http_seeds.sh DIR}
mkdir -p "$out"
n=0
seed() { printf '%b' "$1" >"$out/seed$((n += 1))"; }
H='Host: 127.0.0.1\r\n'
seed "GET /healthz HTTP/1.1\r\n$H\r\n"
seed "GET /api/stats HTTP/1.1\r\n$H\r\n"
seed "GET /api/search?q=red%20%2B%202%3Acat%20-%20dog&k=2&offset=1 HTTP/1.1\r\n$H\r\n"
seed "GET /api/search?q=a&k=x&offset=-1&q=b HTTP/1.1\r\n$H\r\n"
seed "GET /api/similar/0?k=5 HTTP/1.1\r\n$H\r\n"
seed "GET /api/thumb/0 HTTP/1.1\r\n$H\r\n"
seed "GET /api/thumb/2 HTTP/1.1\r\n${H}If-None-Match: \"t0-0\"\r\n\r\n"
seed "GET /api/image/0 HTTP/1.1\r\n$H\r\n"
seed "HEAD /api/image/1 HTTP/1.1\r\n$H\r\n"
seed "GET /api/image/..%2f1%00 HTTP/1.0\r\n\r\n"
seed "GET / HTTP/1.1\r\nHost: localhost:80\r\n\r\nGET /app.js HTTP/1.1\r\n$H\r\n"
seed "POST /api/search?k=3 HTTP/1.1\r\n${H}Content-Type: image/png\r\nContent-Length: 12\r\n\r\n\x89PNG\r\n\x1a\nabcd"
seed "POST /api/search HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 63\r\n\r\n{\"text\": \"red\", \"terms\": [{\"id\": 0, \"weight\": -1}], \"k\": 2}"
seed "POST /api/search HTTP/1.1\r\n${H}Content-Type: multipart/form-data; boundary=XY\r\nContent-Length: 150\r\n\r\n--XY\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nred\r\n--XY\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n--XY--\r\n"
seed "POST /api/search HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 17\r\n\r\nq=red&k=2&offset=0"
seed "POST /api/search HTTP/1.1\r\n${H}Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\x89PNG\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
seed "GET /api/search?q=r$(printf '&a=%d' $(seq 1 70)) HTTP/1.1\r\n$H\r\n"
seed "PUT /api/search HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n"
seed "GET /api/duplicates HTTP/1.1\r\n$H\r\n"
seed "GET /api/duplicates?threshold=0.9&strict=1&limit=1&offset=0 HTTP/1.1\r\n$H\r\n"
echo "$n seeds in $out"
