#!/usr/bin/env python3
"""OCSP, CRL and time-stamp (TSA) responders for tests, on 127.0.0.1 only (stdlib + openssl(1)).

Never `openssl ocsp -port`: it listens on every interface. This server binds 127.0.0.1 and runs
`openssl ocsp -reqin/-respout` and `openssl ts -reply` once per request, so changes a test makes to
an index.txt (`openssl ca -revoke`) or a CRL file are seen by the next request.

  responders.py [--port N] [--port-file FILE] [--log FILE]
                [--static URLPATH=DIR]...
                [--ocsp URLPATH,index=F,ca=F,rsigner=F,rkey=F[,ndays=N][,nmin=N]
                        [,unauth_rsigner=F,unauth_rkey=F]]...
                [--tsa URLPATH,config=F[,section=S]]...
                [--fault URLPATH=MODE]...

  --port N          listen on 127.0.0.1:N (default 0: the system picks a free port)
  --port-file FILE  write the port number there once listening (written atomically)
  --log FILE        one JSON line per request (also readable at GET /_control/log)
  --static P=DIR    GET P/NAME serves DIR/NAME (CRL files made by `openssl ca -gencrl`, anything
                    else): Last-Modified (the file's mtime), ETag (a hash of the bytes), and
                    304 Not Modified for a matching If-None-Match or a not-older If-Modified-Since.
                    Content-Type application/pkix-crl for *.crl, application/pkix-cert for *.crt/*.cer.
  --ocsp P,...      POST P (body: a DER OCSPRequest, RFC 6960 A.1) and GET P/BASE64 answer with
                    `openssl ocsp -index F -CA F -rsigner F -rkey F -reqin IN -respout OUT`
                    (the request's nonce is copied). ndays/nmin set nextUpdate. The unauth_* pair
                    is the certificate and key used in the "unauthorized" fault mode.
  --tsa P,...       POST P (an RFC 3161 TimeStampReq) answers with
                    `openssl ts -reply -config F [-section S] -queryfile IN -out OUT`.
                    With auth=USER:PASS, a request without that HTTP Basic authorization
                    (RFC 7617) is answered 401 with WWW-Authenticate (a TSA that needs credentials).
  --fault P=MODE    start with a fault on path P (exact URL path, or a --static prefix).

Also always served:
  POST /_echo                  answers 200 with the request body and its Content-Type (client tests)
  GET  /_redirect?to=URL       answers 302 to URL
  POST /_control/fault         JSON {"path": P, "mode": MODE}; mode "ok" clears the fault
  POST /_control/reset         clears every fault and the request log
  GET  /_control/log           the request log, one JSON object per line:
                               {"method","path","status","mode","if_none_match","if_modified_since",
                                "content_type","nonce"(OCSP requests: hex or null),"serials"(OCSP)}
  GET  /_control/health        200 "ok"

Fault MODEs (per path):
  ok             normal answers
  down           the connection is closed (reset) without a response, like a dead responder
                 (for "connection refused", stop the server or use a port nobody listens on)
  slow:N         sleep N seconds (float), then answer normally
  garbage        200 with random bytes under the right Content-Type
  http500        500 Internal Server Error ("status:NNN" for any other status)
  wrong-nonce    OCSP: answer a fresh request for the same certificate, with another nonce
  no-nonce       OCSP: answer without a nonce
  unauthorized   OCSP: signed by unauth_rsigner/unauth_rkey (e.g. not issued by the CA, or
                 without id-kp-OCSPSigning): a client must reject the answer
  wrong-imprint  TSA: the time-stamp is made over another hash than the request's (one byte of
                 its message imprint changed): a client must reject the answer

Example (a test):
  python3 responders.py --port-file $T/resp.port --static /crl=$T/crl \\
      --ocsp /ocsp,index=$T/ca/index.txt,ca=$T/ca/int.pem,rsigner=$T/ca/ocsp.pem,rkey=$T/ca/ocsp.key &
  curl -s -X POST -H 'Content-Type: application/json' \\
      -d '{"path": "/ocsp", "mode": "slow:3"}' http://127.0.0.1:$(cat $T/resp.port)/_control/fault

The interface above is stable: tests of other features rely on it.
"""
import argparse
import base64
import binascii
import email.utils
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL = "/_control/"


class State:
    def __init__(self, log_file):
        self.lock = threading.Lock()
        self.faults = {}
        self.initial_faults = {}
        self.log = []
        self.log_file = log_file
        self.static = {}  # url prefix -> directory
        self.ocsp = {}  # url path -> spec dict
        self.tsa = {}  # url path -> spec dict

    def fault_for(self, path):
        with self.lock:
            if path in self.faults:
                return self.faults[path]
            best = ""
            for p in self.faults:
                if (path.startswith(p.rstrip("/") + "/")) and len(p) > len(best):
                    best = p
            return self.faults.get(best, "ok") if best else "ok"

    def record(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.log.append(line)
            if self.log_file:
                with open(self.log_file, "a", encoding="utf-8") as f:
                    f.write(line + "\n")


STATE = None


def parse_spec(text, what):
    parts = text.split(",")
    path = parts[0]
    if not path.startswith("/"):
        raise SystemExit(f"responders.py: --{what} {text}: the first item must be a URL path (/...)")
    spec = {}
    for item in parts[1:]:
        if "=" not in item:
            raise SystemExit(f"responders.py: --{what} {text}: '{item}' is not KEY=VALUE")
        k, v = item.split("=", 1)
        spec[k] = v
    return path, spec


def valid_mode(mode):
    return (mode in ("ok", "down", "garbage", "http500", "wrong-nonce", "no-nonce", "unauthorized",
                     "wrong-imprint")
            or re.fullmatch(r"slow:[0-9]+(\.[0-9]+)?", mode) is not None
            or re.fullmatch(r"status:[1-5][0-9][0-9]", mode) is not None)


def run(cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.decode(errors='replace').strip()}")
    return p.stdout


def ocsp_request_facts(req_file):
    """The nonce (hex or None) and serial numbers (hex) of a DER OCSP request, via openssl."""
    text = run(["openssl", "ocsp", "-reqin", req_file, "-req_text", "-noverify"]).decode(errors="replace")
    serials = re.findall(r"Serial Number:\s*([0-9A-Fa-f]+)", text)
    nonce = None
    m = re.search(r"OCSP Nonce:\s*\n\s*([0-9A-Fa-f]+)", text)
    if m:
        nonce = m.group(1).upper()
    return nonce, [s.upper() for s in serials]


class Handler(BaseHTTPRequestHandler):
    server_version = "segel-test-responders/1"
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # quiet: the JSON log says what happened
        pass

    # -- helpers ----------------------------------------------------------------------------------

    def record_once(self):
        """Logs the request before the client can see the answer, so a test reading the log never races it."""
        if not self.recorded:
            self.recorded = True
            STATE.record(self.entry)

    def send(self, status, body=b"", content_type="application/octet-stream", headers=None):
        self.entry["status"] = status
        self.record_once()
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)

    def drop(self):
        """Closes the connection with a reset, sending nothing."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        self.entry["status"] = 0
        self.record_once()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 16 * 1024 * 1024:
            raise ValueError("request body too large")
        return self.rfile.read(n) if n > 0 else b""

    def apply_generic_fault(self, mode, content_type):
        """Handles the modes that do not depend on the endpoint; True when answered."""
        if mode == "down":
            self.drop()
            return True
        if mode.startswith("slow:"):
            time.sleep(float(mode.split(":", 1)[1]))
            return False
        if mode == "garbage":
            self.send(200, os.urandom(512), content_type)
            return True
        if mode == "http500":
            self.send(500, b"internal error (fault mode)\n", "text/plain")
            return True
        if mode.startswith("status:"):
            self.send(int(mode.split(":", 1)[1]), b"fault mode\n", "text/plain")
            return True
        return False

    # -- dispatch ---------------------------------------------------------------------------------

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        self.recorded = False
        self.entry = {
            "method": self.command,
            "path": path,
            "status": None,
            "mode": "ok",
            "if_none_match": self.headers.get("If-None-Match"),
            "if_modified_since": self.headers.get("If-Modified-Since"),
            "content_type": self.headers.get("Content-Type"),
        }
        try:
            if path.startswith(CONTROL):
                self.control(path[len(CONTROL):])
                return
            if path == "/_echo" and self.command == "POST":
                self.send(200, self.body(), self.headers.get("Content-Type") or "application/octet-stream")
                return
            if path == "/_redirect":
                to = urllib.parse.parse_qs(url.query).get("to", [""])[0]
                self.send(302, b"", "text/plain", {"Location": to})
                return
            mode = STATE.fault_for(path)
            self.entry["mode"] = mode
            # Faults that do not depend on the endpoint apply to every path, even one that serves nothing.
            if mode == "down" or mode.startswith(("slow:", "status:")) or mode == "http500":
                if self.apply_generic_fault(mode, "application/octet-stream"):
                    return
                mode = "ok"
            ocsp = self.match(STATE.ocsp, path, allow_suffix=self.command == "GET")
            if ocsp is not None:
                self.ocsp(ocsp, mode, path)
                return
            tsa = STATE.tsa.get(path)
            if tsa is not None and self.command == "POST":
                self.tsa(tsa, mode)
                return
            static = self.match(STATE.static, path, allow_suffix=True, require_suffix=True)
            if static is not None and self.command in ("GET", "HEAD"):
                self.static(static, path, mode)
                return
            self.send(404, b"no such endpoint\n", "text/plain")
        except Exception as e:  # a test server: say what broke, in the answer and the log
            self.entry["error"] = str(e)
            try:
                self.send(500, (str(e) + "\n").encode(), "text/plain")
            except OSError:
                pass
        finally:
            self.record_once()

    do_GET = do_POST = do_HEAD = handle_any

    @staticmethod
    def match(table, path, allow_suffix, require_suffix=False):
        if path in table and not require_suffix:
            return (path, table[path])
        if allow_suffix:
            for prefix, v in table.items():
                if path.startswith(prefix.rstrip("/") + "/"):
                    return (prefix, v)
        return None

    # -- endpoints --------------------------------------------------------------------------------

    def control(self, what):
        if what == "health":
            self.send(200, b"ok\n", "text/plain")
        elif what == "log" and self.command == "GET":
            with STATE.lock:
                data = "".join(line + "\n" for line in STATE.log).encode()
            self.send(200, data, "application/x-ndjson")
        elif what == "reset" and self.command == "POST":
            self.body()
            with STATE.lock:
                STATE.faults = dict(STATE.initial_faults)
                STATE.log = []
            self.send(200, b"reset\n", "text/plain")
        elif what == "fault" and self.command == "POST":
            req = json.loads(self.body() or b"{}")
            path, mode = req.get("path"), req.get("mode", "ok")
            if not isinstance(path, str) or not path.startswith("/") or not valid_mode(mode):
                self.send(400, b'need {"path": "/...", "mode": MODE}; see responders.py\n', "text/plain")
                return
            with STATE.lock:
                if mode == "ok":
                    STATE.faults.pop(path, None)
                else:
                    STATE.faults[path] = mode
            self.send(200, f"{path}: {mode}\n".encode(), "text/plain")
        else:
            self.send(404, b"unknown control request\n", "text/plain")

    def static(self, match, path, mode):
        prefix, directory = match
        if self.apply_generic_fault(mode, "application/pkix-crl"):
            return
        name = path[len(prefix.rstrip("/")) + 1:]
        if not name or "/" in name or name.startswith("."):
            self.send(404, b"not found\n", "text/plain")
            return
        file = os.path.join(directory, name)
        try:
            with open(file, "rb") as f:
                data = f.read()
            mtime = int(os.stat(file).st_mtime)
        except OSError:
            self.send(404, b"not found\n", "text/plain")
            return
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": last_modified}
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if inm is not None:
            if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                self.send(304, b"", headers=headers)
                return
        elif ims is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
                if mtime <= since:
                    self.send(304, b"", headers=headers)
                    return
            except (TypeError, ValueError):
                pass
        ctype = "application/octet-stream"
        if name.endswith(".crl"):
            ctype = "application/pkix-crl"
        elif name.endswith((".crt", ".cer")):
            ctype = "application/pkix-cert"
        self.send(200, data, ctype, headers)

    def ocsp(self, match, mode, path):
        prefix, spec = match
        ctype = "application/ocsp-response"
        if self.command == "POST":
            req = self.body()
        elif self.command == "GET":
            encoded = urllib.parse.unquote(path[len(prefix.rstrip("/")) + 1:])
            try:
                req = base64.b64decode(encoded, validate=False)
            except (binascii.Error, ValueError):
                self.send(400, b"bad base64 OCSP request\n", "text/plain")
                return
        else:
            self.send(405, b"POST an OCSP request\n", "text/plain")
            return
        if self.apply_generic_fault(mode, ctype):
            return
        with tempfile.TemporaryDirectory(prefix="segel-ocsp-") as tmp:
            reqin = os.path.join(tmp, "req.der")
            respout = os.path.join(tmp, "resp.der")
            with open(reqin, "wb") as f:
                f.write(req)
            try:
                nonce, serials = ocsp_request_facts(reqin)
            except RuntimeError:
                self.send(200, b"\x30\x03\x0a\x01\x01", ctype)  # OCSPResponse{malformedRequest}
                self.entry["malformed"] = True
                return
            self.entry["nonce"] = nonce
            self.entry["serials"] = serials
            if mode in ("wrong-nonce", "no-nonce") and serials:
                # openssl ocsp always copies the request's nonce: answer a request of our own instead.
                cmd = ["openssl", "ocsp", "-issuer", spec["ca"], "-reqout", reqin]
                for s in serials:
                    cmd += ["-serial", "0x" + s]
                cmd.append("-nonce" if mode == "wrong-nonce" else "-no_nonce")
                run(cmd)
            signer, key = spec["rsigner"], spec["rkey"]
            if mode == "unauthorized":
                if "unauth_rsigner" not in spec:
                    raise RuntimeError("fault mode 'unauthorized' needs unauth_rsigner= and unauth_rkey= on --ocsp")
                signer, key = spec["unauth_rsigner"], spec["unauth_rkey"]
            cmd = ["openssl", "ocsp", "-index", spec["index"], "-CA", spec["ca"], "-rsigner", signer, "-rkey", key,
                   "-reqin", reqin, "-respout", respout]
            if "ndays" in spec:
                cmd += ["-ndays", spec["ndays"]]
            if "nmin" in spec:
                cmd += ["-nmin", spec["nmin"]]
            run(cmd)
            with open(respout, "rb") as f:
                self.send(200, f.read(), ctype)

    # One `openssl ts -reply` at a time: each reads and rewrites the TSA's serial file, and two at
    # once reject a request ("Error during serial number generation", PKIStatus 2).
    tsa_lock = threading.Lock()

    def tsa(self, spec, mode):
        ctype = "application/timestamp-reply"
        query = self.body()
        if "auth" in spec:
            want = "Basic " + base64.b64encode(spec["auth"].encode()).decode()
            got = self.headers.get("Authorization")
            self.entry["authorized"] = got == want
            if got != want:
                self.send(401, b"credentials needed\n", "text/plain", {"WWW-Authenticate": 'Basic realm="tsa"'})
                return
        if self.apply_generic_fault(mode, ctype):
            return
        if mode == "wrong-imprint":
            query = flip_imprint(query)
        with tempfile.TemporaryDirectory(prefix="segel-tsa-") as tmp:
            queryfile = os.path.join(tmp, "query.tsq")
            out = os.path.join(tmp, "reply.tsr")
            with open(queryfile, "wb") as f:
                f.write(query)
            cmd = ["openssl", "ts", "-reply", "-config", spec["config"], "-queryfile", queryfile, "-out", out]
            if "section" in spec:
                cmd += ["-section", spec["section"]]
            with Handler.tsa_lock:
                run(cmd)
            with open(out, "rb") as f:
                self.send(200, f.read(), ctype)


def der_item(data, pos):
    """(tag, start of contents, end of contents) of the DER element at pos."""
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    return tag, pos, pos + n


def flip_imprint(query):
    """The TimeStampReq with one byte of its hashedMessage changed (RFC 3161 §2.4.1 layout)."""
    data = bytearray(query)
    _, body, _ = der_item(data, 0)               # TimeStampReq SEQUENCE
    _, _, after_version = der_item(data, body)   # version INTEGER
    _, imprint, _ = der_item(data, after_version)  # messageImprint SEQUENCE
    _, _, after_algo = der_item(data, imprint)   # hashAlgorithm AlgorithmIdentifier
    tag, hashed, _ = der_item(data, after_algo)  # hashedMessage OCTET STRING
    if tag != 0x04:
        raise ValueError("not a TimeStampReq: no hashedMessage")
    data[hashed] ^= 0xFF
    return bytes(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global STATE
    ap = argparse.ArgumentParser(description="OCSP/CRL/TSA test responders on 127.0.0.1 (see the file's docstring)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--static", action="append", default=[])
    ap.add_argument("--ocsp", action="append", default=[])
    ap.add_argument("--tsa", action="append", default=[])
    ap.add_argument("--fault", action="append", default=[])
    args = ap.parse_args()

    STATE = State(args.log)
    for s in args.static:
        if "=" not in s:
            raise SystemExit(f"responders.py: --static {s}: expected URLPATH=DIR")
        p, d = s.split("=", 1)
        if not p.startswith("/") or not os.path.isdir(d):
            raise SystemExit(f"responders.py: --static {s}: need /URLPATH and an existing directory")
        STATE.static[p] = d
    for s in args.ocsp:
        p, spec = parse_spec(s, "ocsp")
        for k in ("index", "ca", "rsigner", "rkey"):
            if k not in spec:
                raise SystemExit(f"responders.py: --ocsp {s}: missing {k}=FILE")
        STATE.ocsp[p] = spec
    for s in args.tsa:
        p, spec = parse_spec(s, "tsa")
        if "config" not in spec:
            raise SystemExit(f"responders.py: --tsa {s}: missing config=FILE")
        STATE.tsa[p] = spec
    for s in args.fault:
        if "=" not in s:
            raise SystemExit(f"responders.py: --fault {s}: expected URLPATH=MODE")
        p, mode = s.split("=", 1)
        if not valid_mode(mode):
            raise SystemExit(f"responders.py: --fault {s}: unknown mode {mode}")
        STATE.faults[p] = mode
    STATE.initial_faults = dict(STATE.faults)

    server = Server(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
