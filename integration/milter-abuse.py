#!/usr/bin/env python3
"""milter-abuse.py SOCKET PKI MILTER_PID [CASE...]: hostile milter-protocol clients against a running
segel-milter. After every case the daemon must still be running and must still sign a normal
message on a fresh connection (verified by openssl cms against the test root). Commands out of
order, MAIL without CONNECT, reuse after QUIT_NC, truncated and oversized packets, unknown
commands, abort in the middle of a body, hundreds of connections at once.

Prints "ok - CASE" per case; on the first failure prints "FAIL - CASE: why" and exits 1.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import milter_client as mc  # noqa: E402

SOCK, PKI, PID = sys.argv[1], sys.argv[2], int(sys.argv[3])
ONLY = set(sys.argv[4:])

SENDER = mc.SENDER
HEADERS = mc.HEADERS
BODY = mc.TEXT_BODY
Failure = mc.Failure


def new():
    return mc.Milter(SOCK)


def session(m):
    m.negotiate()
    r = m.connect()
    if r not in (None, mc.R_CONTINUE):
        raise Failure("connect answered %r" % r)


def signed_transaction(m, what):
    mc.sign_and_verify(m, PKI, what)


def still_serving(case):
    try:
        os.kill(PID, 0)
    except ProcessLookupError:
        raise Failure("segel-milter (pid %d) is gone" % PID)
    with new() as m:
        session(m)
        signed_transaction(m, "after %s" % case)
        m.quit()


def quietly(fn):
    """Runs an abuse sequence; the milter may close on us at any point, which is fine."""
    try:
        fn()
    except (mc.Closed, BrokenPipeError, ConnectionResetError, socket.timeout, TimeoutError):
        pass


def steps_then_drain(*steps, negotiate=True, connect=True):
    def run():
        with new() as m:
            if negotiate:
                m.negotiate()
            if connect:
                m.connect()
            for cmd, data in steps:
                m.send(cmd, data)
            m.drain()
    quietly(run)


def rest_of_transaction():
    return [(mc.RCPT, mc.cstr("<kepala@mitra.example>"))] + \
        [(mc.HEADER, mc.cstr(n, " " + v)) for n, v in HEADERS] + \
        [(mc.EOH, b""), (mc.BODY, BODY), (mc.BODYEOB, b"")]


def mail():
    return [(mc.MACRO, mc.MAIL + mc.cstr("i", "NOCONN1", "{auth_authen}", SENDER)),
            (mc.MAIL, mc.cstr("<%s>" % SENDER))]


# -- the cases ---------------------------------------------------------------------------------

def case_mail_without_negotiation():
    steps_then_drain(*mail(), *rest_of_transaction(), negotiate=False, connect=False)


def case_mail_without_connect():
    steps_then_drain(*mail(), *rest_of_transaction(), connect=False)


def case_mail_after_quit_nc():
    def run():
        with new() as m:
            session(m)
            signed_transaction(m, "before QUIT_NC")
            m.send(mc.QUIT_NC)
            for cmd, data in mail() + rest_of_transaction():
                m.send(cmd, data)
            m.drain()
    quietly(run)


def case_reuse_after_quit_nc():
    """QUIT_NC then a new CONNECT on the same socket: the next session signs correctly."""
    with new() as m:
        session(m)
        signed_transaction(m, "first session")
        m.send(mc.QUIT_NC)
        r = m.connect()
        if r not in (None, mc.R_CONTINUE):
            raise Failure("connect after QUIT_NC answered %r" % r)
        signed_transaction(m, "session after QUIT_NC")
        m.send(mc.QUIT_NC)
        m.send(mc.QUIT_NC)  # twice: close is called again with nothing open
        m.drain()


def case_steps_out_of_order():
    steps_then_drain((mc.EOH, b""), (mc.BODY, b"x\r\n"), (mc.BODYEOB, b""), (mc.HEADER, mc.cstr("From", " a@b.c")),
                     (mc.RCPT, mc.cstr("<x@y.z>")), (mc.ABORT, b""), (mc.BODYEOB, b""), (mc.DATA, b""),
                     (mc.OPTNEG, struct.pack(">III", 6, mc.ALL_ACTIONS, mc.ALL_PROTOCOL)), (mc.CONNECT, b""),
                     *mail(), (mc.BODY, b"body before any header\r\n"), (mc.HEADER, mc.cstr("Subject", " late")),
                     (mc.EOH, b""), (mc.EOH, b""), (mc.BODYEOB, b""), (mc.BODYEOB, b""), (mc.BODY, b"after\r\n"))


def case_eom_twice():
    def run():
        with new() as m:
            session(m)
            signed_transaction(m, "before a second end of message")
            m.send(mc.BODYEOB)
            m.send(mc.BODY, b"more\r\n")
            m.send(mc.EOH)
            m.drain()
    quietly(run)


def case_abort_mid_body():
    """ABORT in the middle of a body, then a normal transaction on the same connection."""
    with new() as m:
        session(m)
        m.macros(mc.MAIL, [("i", "ABORTED"), ("{auth_authen}", SENDER)])
        m.step(mc.MAIL, mc.cstr("<%s>" % SENDER), mc.P_NR_MAIL)
        m.step(mc.RCPT, mc.cstr("<kepala@mitra.example>"), mc.P_NR_RCPT)
        for n, v in HEADERS:
            m.step(mc.HEADER, mc.cstr(n, " " + v), mc.P_NR_HDR)
        m.step(mc.EOH, b"", mc.P_NR_EOH)
        m.step(mc.BODY, b"half a body" * 1000, mc.P_NR_BODY)
        m.send(mc.ABORT)
        signed_transaction(m, "after ABORT on the same connection")
        m.quit()


def case_abort_everywhere():
    for cut in range(1, 12):
        steps = (mail() + rest_of_transaction())[:cut] + [(mc.ABORT, b""), (mc.ABORT, b"")]
        steps_then_drain(*steps)


def case_unknown_commands():
    for cmd in (b"Z", b"\x00", b"\xff", b"a", b"c", b"U", b"S"):
        steps_then_drain((cmd, b"whatever\0"))
    steps_then_drain((mc.UNKNOWN, b"X" * 1000))  # no NUL


def case_truncated_packets():
    for raw in (b"\x00", b"\x00\x00\x00", struct.pack(">I", 100) + b"M<a@b>",
                struct.pack(">I", 13) + mc.OPTNEG + b"\x00\x00\x00\x06"):
        def run(raw=raw):
            with new() as m:
                m.raw(raw)
                m.sock.shutdown(socket.SHUT_WR)
                m.drain()
        quietly(run)
    # well-framed packets whose contents are cut short
    steps_then_drain((mc.OPTNEG, b"\x00\x00\x00\x06"), negotiate=False, connect=False)
    for data in (b"", b"host", b"host\0", b"host\x004", b"host\x004\x00", b"host\x004\x00\x19", b"host\x004\x00\x19127.0.0.1",
                 b"host\0X\0\0", b"host\x006\0\x19not-an-address\0", b"host\0L\0\0" + b"/" * 300 + b"\0"):
        steps_then_drain((mc.CONNECT, data), connect=False)
    steps_then_drain((mc.MAIL, b""), (mc.MAIL, b"<no-nul>"), (mc.RCPT, b""), (mc.HEADER, b"From"),
                     (mc.HEADER, b"From\0"), (mc.HEADER, b"\0"), (mc.HEADER, b"From\0value-without-nul"),
                     (mc.MACRO, b""), (mc.MACRO, b"M"), (mc.MACRO, b"Mi"), (mc.MACRO, b"Xi\0v\0"),
                     (mc.MACRO, b"Mi\0"), (mc.HELO, b""), (mc.HELO, b"no-nul"))


def case_oversized_lengths():
    for n in (0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x01000000, 0x00100001, 0, 1):
        def run(n=n):
            with new() as m:
                m.negotiate()
                m.raw(struct.pack(">I", n) + mc.BODY + b"x" * 100)
                m.drain()
        quietly(run)
    # a real body chunk far over MILTER_CHUNK_SIZE, inside a transaction
    def big():
        with new() as m:
            session(m)
            for cmd, data in mail()[:2] + rest_of_transaction()[:-3]:
                m.send(cmd, data)
            m.send(mc.EOH)
            m.send(mc.BODY, b"A" * (2 * 1024 * 1024))
            m.drain()
    quietly(big)


def case_huge_fields():
    def run():
        with new() as m:
            session(m)
            for cmd, data in mail():
                m.send(cmd, data)
            m.send(mc.MAIL, b"\0" * 60000)  # 60,000 empty arguments
            m.send(mc.RCPT, mc.cstr("<kepala@mitra.example>") + mc.cstr("X=" + "y" * 60000))
            m.send(mc.HEADER, mc.cstr("X-" + "N" * 30000, " " + "v" * 30000))
            m.send(mc.HEADER, mc.cstr("From", " " + ", ".join("a%d@dinas.example.go.id" % i for i in range(3000))))
            m.send(mc.MACRO, mc.EOH + mc.cstr(*(["k", "v"] * 20000)))
            m.send(mc.EOH)
            m.send(mc.BODYEOB)
            m.drain(1.0)
    quietly(run)


def case_hostile_negotiation():
    for version, actions, protocol in ((0, 0, 0), (1, mc.ALL_ACTIONS, mc.ALL_PROTOCOL), (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
                                       (6, 0, 0), (6, 0x1, 0), (2, mc.ALL_ACTIONS, 0)):
        def run(v=(version, actions, protocol)):
            with new() as m:
                m.send(mc.OPTNEG, struct.pack(">III", *v))
                m.drain()
                for cmd, data in mail() + rest_of_transaction():
                    m.send(cmd, data)
                m.drain()
        quietly(run)


def case_hang_up_at_end_of_message():
    """The MTA goes away right after the end of the body: the milter's replies hit a closed socket."""
    for _ in range(5):
        def run():
            with new() as m:
                session(m)
                for cmd, data in mail() + rest_of_transaction():
                    m.send(cmd, data)
                m.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        quietly(run)


def case_many_connections():
    """300 connections at once, half of them in the middle of a message, while one signs."""
    conns = []
    try:
        for i in range(300):
            m = new()
            conns.append(m)
            session(m)
            if i % 2:
                for cmd, data in mail() + rest_of_transaction()[:4]:
                    m.send(cmd, data)
        with new() as m:
            session(m)
            signed_transaction(m, "with 300 other connections open")
            m.quit()
    finally:
        for m in conns:
            m.close()


CASES = [(name[len("case_"):].replace("_", "-"), fn) for name, fn in list(globals().items()) if name.startswith("case_")]


def main():
    still_serving("start")  # the baseline: a normal message is signed
    for name, fn in CASES:
        if ONLY and name not in ONLY:
            continue
        try:
            fn()
            still_serving(name)
        except (Failure, mc.Closed, OSError, ValueError) as e:
            print("FAIL - milter-abuse: %s: %s: %s" % (name, type(e).__name__, e))
            return 1
        print("ok - milter-abuse: %s: the daemon still signs" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
