#!/usr/bin/env python3
"""fuzz/milter_seed.py: a message as fuzz_milter's input (the callbacks libmilter would make).

    milter_seed.py [--inbound | --outbound | --system] [--leadspc] MESSAGE > SEED

Each callback is [op: 1 byte][length: 2 bytes little-endian][payload] (see fuzz/milter.cpp).
--outbound: AUTH login "fuzz" from 192.0.2.1; --inbound: no login, from 198.51.100.7;
--system: no login from 10.20.0.15 (the e-office system sender). The envelope sender is the
message's first From address, the recipients its To addresses (or siti@ when none).
"""
import re
import struct
import sys

NEGOTIATE, CONNECT, MAIL, RCPT, HEADER, EOH, BODY, EOM, ABORT, MACRO_I, FAULT, CLOSE = range(12)


def op(code, payload=b""):
    return struct.pack("<BH", code, len(payload)) + payload


def split(message):
    """Header fields (name, value after the colon as written) and the body, CRLF."""
    message = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, body = message, b""
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\n" + line  # libmilter gives folds as LF + WSP
        elif b":" in line:
            name, value = line.split(b":", 1)
            fields.append([name.rstrip(), value])
    return fields, body


def main():
    args = sys.argv[1:]
    mode = "outbound"
    leadspc = False
    for a in list(args):
        if a in ("--inbound", "--outbound", "--system"):
            mode = a[2:]
            args.remove(a)
        elif a == "--leadspc":
            leadspc = True
            args.remove(a)
    with open(args[0], "rb") as f:
        fields, body = split(f.read())
    addr = re.compile(rb"[\w.+-]+@[\w.-]+")
    sender = next((m.group(0) for n, v in fields if n.lower() == b"from" for m in [addr.search(v)] if m),
                  b"fuzz@dinas.example.go.id")
    rcpts = [m.group(0) for n, v in fields if n.lower() in (b"to", b"cc") for m in addr.finditer(v)]
    ip, login = {"outbound": (b"192.0.2.1", b"fuzz"), "inbound": (b"198.51.100.7", b""),
                 "system": (b"10.20.0.15", b"")}[mode]
    out = op(NEGOTIATE, bytes([7 if leadspc else 6]))
    out += op(CONNECT, b"client.example\0" + ip)
    out += op(MAIL, b"<" + sender + b">\0" + login)
    for r in rcpts or [b"siti@dinas.example.go.id"]:
        out += op(RCPT, b"<" + r + b">")
    out += op(MACRO_I, b"4F2A1B")
    for name, value in fields:
        if not leadspc and value.startswith(b" "):
            value = value[1:]  # without SMFIP_HDR_LEADSPC libmilter drops one leading space
        out += op(HEADER, name + b"\0" + value)
    out += op(EOH)
    for i in range(0, len(body), 65535):
        out += op(BODY, body[i:i + 65535])
    out += op(EOM)
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
