#!/usr/bin/env python3
"""The MTA's side of the Sendmail milter protocol (version 6), small enough to read, for tests.

Every packet is a 4-byte big-endian length (command byte included), a command byte, then data;
strings are NUL-terminated (sendmail's include/libmilter/mfdef.h; Postfix's src/milter/milter8.c
is the MTA side that segel meets in production). bench/milterload.cpp is the C++ load generator;
this one is for sending what a well-behaved MTA never would (milter-abuse.py).
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

# Commands (MTA -> milter)
ABORT, BODY, CONNECT, MACRO, BODYEOB, HELO = b"A", b"B", b"C", b"D", b"E", b"H"
QUIT_NC, HEADER, MAIL, EOH, OPTNEG, QUIT = b"K", b"L", b"M", b"N", b"O", b"Q"
RCPT, DATA, UNKNOWN = b"R", b"T", b"U"

# Replies (milter -> MTA)
R_ACCEPT, R_REPLBODY, R_CONTINUE, R_DISCARD = b"a", b"b", b"c", b"d"
R_ADDHEADER, R_INSHEADER, R_CHGHEADER = b"h", b"i", b"m"
R_PROGRESS, R_QUARANTINE, R_REJECT, R_SKIP = b"p", b"q", b"r", b"s"
R_TEMPFAIL, R_REPLYCODE = b"t", b"y"
FINAL = {R_ACCEPT, R_CONTINUE, R_DISCARD, R_REJECT, R_SKIP, R_TEMPFAIL, R_REPLYCODE}

# Protocol flags
P_NOCONNECT, P_NOHELO, P_NOMAIL, P_NORCPT = 0x1, 0x2, 0x4, 0x8
P_NOBODY, P_NOHDRS, P_NOEOH, P_NR_HDR = 0x10, 0x20, 0x40, 0x80
P_NOUNKNOWN, P_NODATA, P_SKIP, P_RCPT_REJ = 0x100, 0x200, 0x400, 0x800
P_NR_CONN, P_NR_HELO, P_NR_MAIL, P_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
P_NR_DATA, P_NR_UNKN, P_NR_EOH, P_NR_BODY = 0x10000, 0x20000, 0x40000, 0x80000
P_HDR_LEADSPC = 0x100000
ALL_ACTIONS = 0x1FF  # SMFI_CURR_ACTS: add/change headers, replace body, quarantine, ...
ALL_PROTOCOL = 0x1FFFFF  # what Postfix 3.7 offers with milter_protocol = 6

CHUNK = 65535  # MILTER_CHUNK_SIZE


class Closed(Exception):
    """The milter closed the connection."""


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def cstr(*parts):
    """Each part (str or bytes) NUL-terminated, concatenated."""
    out = b""
    for part in parts:
        out += (part.encode() if isinstance(part, str) else part) + b"\0"
    return out


class Milter:
    """One connection to a milter on a unix socket."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.protocol = 0
        self.actions = 0
        self.last_data = b""  # the data of the last reply step() read (a reply code's text)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def raw(self, data):
        self.sock.sendall(data)

    def send(self, cmd, data=b""):
        self.sock.sendall(packet(cmd, data))

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            got = self.sock.recv(n - len(buf))
            if not got:
                raise Closed("the milter closed the connection")
            buf += got
        return buf

    def read(self):
        (n,) = struct.unpack(">I", self._exact(4))
        if n == 0 or n > 64 * 1024 * 1024:
            raise ValueError("reply with length %d" % n)
        body = self._exact(n)
        return body[:1], body[1:]

    def drain(self, seconds=0.3):
        """Reads whatever the milter says within SECONDS; returns the packets and whether it closed."""
        old = self.sock.gettimeout()
        self.sock.settimeout(seconds)
        got = []
        closed = False
        try:
            while True:
                got.append(self.read())
        except (socket.timeout, TimeoutError):
            pass
        except (Closed, ConnectionResetError, BrokenPipeError):
            closed = True
        finally:
            self.sock.settimeout(old)
        return got, closed

    # -- the steps a well-behaved MTA takes ---------------------------------------------------

    def negotiate(self, version=6, actions=ALL_ACTIONS, protocol=ALL_PROTOCOL):
        self.send(OPTNEG, struct.pack(">III", version, actions, protocol))
        cmd, data = self.read()
        if cmd != OPTNEG or len(data) < 12:
            raise ValueError("no option negotiation reply: %r" % cmd)
        _, self.actions, self.protocol = struct.unpack(">III", data[:12])
        return self.protocol

    def macros(self, stage, pairs):
        self.send(MACRO, stage + b"".join(cstr(k, v) for k, v in pairs))

    def step(self, cmd, data=b"", no_reply_flag=0):
        """Sends one step; returns the reply command, or None when the milter does not reply to it."""
        self.send(cmd, data)
        if no_reply_flag and (self.protocol & no_reply_flag):
            return None
        reply, self.last_data = self.read()
        return reply

    def connect(self, ip="127.0.0.1", host="localhost"):
        self.macros(CONNECT, [("j", "mx.test.example"), ("{daemon_name}", "test"), ("{client_addr}", ip)])
        data = cstr(host) + b"4" + struct.pack(">H", 25) + cstr(ip)
        return self.step(CONNECT, data, P_NR_CONN)

    def transaction(self, mail_from, rcpt, headers, body, auth=None, queue_id="ABUSE1"):
        """MAIL .. end of body. Returns (verdict, reply text, header edits, new body or None)."""
        pairs = [("i", queue_id), ("{mail_addr}", mail_from)]
        if auth:
            pairs += [("{auth_authen}", auth), ("{auth_type}", "PLAIN")]
        self.macros(MAIL, pairs)
        r = self.step(MAIL, cstr("<%s>" % mail_from), P_NR_MAIL)
        if r not in (None, R_CONTINUE):
            return r, self.last_data, [], None
        self.macros(RCPT, [("{rcpt_addr}", rcpt)])
        r = self.step(RCPT, cstr("<%s>" % rcpt), P_NR_RCPT)
        if r not in (None, R_CONTINUE):
            return r, self.last_data, [], None
        lead = self.protocol & P_HDR_LEADSPC
        for name, value in headers:
            r = self.step(HEADER, cstr(name, (" " + value) if lead else value), P_NR_HDR)
            if r not in (None, R_CONTINUE):
                return r, self.last_data, [], None
        r = self.step(EOH, b"", P_NR_EOH)
        if r not in (None, R_CONTINUE):
            return r, self.last_data, [], None
        for off in range(0, len(body), CHUNK):
            r = self.step(BODY, body[off:off + CHUNK], P_NR_BODY)
            if r not in (None, R_CONTINUE):
                return r, self.last_data, [], None
        return self.end_of_message()

    def end_of_message(self):
        """Sends the end of the body; returns (verdict, reply text, header edits, new body or None)."""
        self.send(BODYEOB)
        edits, new_body = [], None
        while True:
            cmd, data = self.read()
            if cmd == R_REPLBODY:
                new_body = (new_body or b"") + data
            elif cmd in (R_ADDHEADER, R_INSHEADER, R_CHGHEADER):
                edits.append((cmd, data))
            elif cmd in FINAL:
                return cmd, data, edits, new_body
            # progress, quarantine, ...: keep reading

    def quit(self):
        self.send(QUIT)


def header_edit(cmd, data):
    """(index or None, name, value) of an ADDHEADER/INSHEADER/CHGHEADER reply."""
    index = None
    if cmd != R_ADDHEADER:
        (index,) = struct.unpack(">I", data[:4])
        data = data[4:]
    name, _, rest = data.partition(b"\0")
    value = rest.split(b"\0", 1)[0]
    return index, name.decode("latin-1"), value.decode("latin-1")


# -- a normal signing transaction, checked by openssl -------------------------------------------

SENDER = "siti@dinas.example.go.id"
HEADERS = [
    ("From", "Siti Rahmawati <%s>" % SENDER),
    ("To", "kepala@mitra.example"),
    ("Subject", "Uji protokol milter"),
    ("Date", "Mon, 01 Dec 2025 10:00:00 +0700"),
    ("Message-ID", "<abuse.1@segel-test.example>"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/plain; charset=utf-8"),
]
TEXT_BODY = b"Selamat pagi,\r\n\r\nPesan uji.\r\n"


class Failure(Exception):
    pass


def apply_edits(headers, edits):
    """The header list after the milter's ADDHEADER/INSHEADER/CHGHEADER replies."""
    out = list(headers)
    for cmd, data in edits:
        index, name, value = header_edit(cmd, data)
        value = value[1:] if value.startswith(" ") else value
        if cmd == R_ADDHEADER:
            out.append((name, value))
        elif cmd == R_INSHEADER:
            out.insert(min(index, len(out)), (name, value))
        else:
            seen = 0
            for i, (n, _) in enumerate(out):
                if n.lower() == name.lower():
                    seen += 1
                    if seen == index:
                        if value:
                            out[i] = (name, value)
                        else:
                            del out[i]
                        break
            else:
                if value:
                    out.append((name, value))
    return out


def check_signed(pki, verdict, text, edits, body, what):
    """The milter's answer to HEADERS + TEXT_BODY must be a message that openssl cms verifies."""
    if verdict != R_CONTINUE or body is None:
        raise Failure("%s: expected a signed message, got verdict %r %r" % (what, verdict, text[:200]))
    headers = apply_edits(HEADERS, edits)
    msg = b"".join(("%s: %s\r\n" % (n, v.replace("\n", "\r\n"))).encode() for n, v in headers) + b"\r\n" + body
    # The signed entity carries the message's own Content-Type line byte for byte (a lost
    # SMFIP_HDR_LEADSPC would show here as a doubled or missing space).
    if b"\r\nContent-Type: text/plain; charset=utf-8\r\n" not in body:
        raise Failure("%s: the signed entity's Content-Type is not the one sent:\n%s" % (what, body[:600]))
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        f.write(msg)
        f.flush()
        p = subprocess.run(["openssl", "cms", "-verify", "-in", f.name, "-CAfile", os.path.join(pki, "root.pem"),
                            "-purpose", "smimesign", "-out", "/dev/null"], capture_output=True)
        if p.returncode != 0:
            raise Failure("%s: openssl cms -verify rejects the result: %s" % (what, p.stderr.decode()[-400:]))


def sign_and_verify(m, pki, what):
    """A normal signing transaction on M (negotiated and connected); the result must verify."""
    verdict, text, edits, body = m.transaction(SENDER, "kepala@mitra.example", HEADERS, TEXT_BODY, auth=SENDER)
    check_signed(pki, verdict, text, edits, body, what)


def main(argv):
    """milter_client.py sign SOCK PKI: one signed message, verified; exit 0.
    milter_client.py sign-after SOCK PKI GOFILE: starts a message (headers and half the body),
    writes "started" to stdout, waits until GOFILE exists, then finishes it and verifies it."""
    cmd, sock, pki = argv[1], argv[2], argv[3]
    try:
        with Milter(sock) as m:
            m.negotiate()
            m.connect()
            if cmd == "sign":
                sign_and_verify(m, pki, "sign")
            elif cmd == "sign-after":
                go = argv[4]
                half = len(TEXT_BODY) // 2
                m.macros(MAIL, [("i", "INFLIGHT1"), ("{auth_authen}", SENDER)])
                m.step(MAIL, cstr("<%s>" % SENDER), P_NR_MAIL)
                m.step(RCPT, cstr("<kepala@mitra.example>"), P_NR_RCPT)
                for n, v in HEADERS:
                    m.step(HEADER, cstr(n, " " + v), P_NR_HDR)
                m.step(EOH, b"", P_NR_EOH)
                m.step(BODY, TEXT_BODY[:half], P_NR_BODY)
                print("started", flush=True)
                while not os.path.exists(go):
                    time.sleep(0.05)
                m.step(BODY, TEXT_BODY[half:], P_NR_BODY)
                check_signed(pki, *m.end_of_message(), "message in progress at the stop")
            else:
                print("unknown command %s" % cmd, file=sys.stderr)
                return 2
            m.quit()
    except (Failure, Closed, OSError, ValueError) as e:
        print("%s: %s: %s" % (cmd, type(e).__name__, e), file=sys.stderr)
        return 1
    print("signed and verified", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
