#!/usr/bin/env python3
"""Small, dependency-free mail helpers for the integration tests (used by lib.sh).

  mailtool.py strip-sink SINKFILE OUT
      smtp-sink (Postfix 3.7) writes each message as
          X-Client-Addr: / X-Client-Proto: / X-Helo-Args: / X-Mail-Args: / X-Rcpt-Args: lines,
          "Received: from HELO ([ADDR])\\n\\tby smtp-sink (smtp-sink) with ESMTP id ID;\\n\\tDATE",
          the message with LF line ends, then one extra "\\n".
      OUT gets the message as it was on the wire: those lines removed, the extra LF dropped, CRLF.

  mailtool.py header FILE NAME
      Prints every top-level header field NAME (unfolded, value only), one per line.

  mailtool.py body FILE
      Writes the bytes after the top-level header block to stdout.

  mailtool.py crlf IN OUT
      OUT = IN with every lone LF turned into CRLF (existing CRLFs are kept): the wire form.

  mailtool.py smime-parts MSG OUTDIR
      For multipart/signed: writes OUTDIR/signed-part (the exact bytes between the first boundary
      line and the CRLF before the next one) and OUTDIR/signature.p7s (decoded signature part);
      prints "detached". For application/(x-)pkcs7-mime: writes OUTDIR/opaque.p7m (decoded body);
      prints "opaque". Exit 2 when the message is neither. Lone LF line ends are read as CRLF
      (a file saved with LF is the CRLF wire form stored by a Unix tool).
"""
import base64
import os
import re
import sys

SINK_FIELDS = (b"x-client-addr:", b"x-client-proto:", b"x-helo-args:", b"x-mail-args:",
               b"x-rcpt-args:")


def to_crlf(data: bytes) -> bytes:
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def split_head(msg: bytes):
    """Returns (header bytes incl. final CRLF, body bytes) of a CRLF message."""
    if msg.startswith(b"\r\n"):
        return b"", msg[2:]
    idx = msg.find(b"\r\n\r\n")
    if idx < 0:
        return msg, b""
    return msg[: idx + 2], msg[idx + 4:]


def fields(head: bytes):
    """Yields (name_lower, raw_value_unfolded) for each header field."""
    current = None
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and current is not None:
            current[1] += b" " + line.strip()
            continue
        if current is not None:
            yield current[0], current[1]
        name, _, value = line.partition(b":")
        current = [name.strip().lower(), value.strip()]
    if current is not None:
        yield current[0], current[1]


def header_values(head: bytes, name: str):
    want = name.lower().encode()
    return [v for n, v in fields(head) if n == want]


def ctype_param(value: bytes, param: str):
    m = re.search(rb";\s*" + param.encode() + rb'\s*=\s*("((?:[^"\\]|\\.)*)"|[^;\s]+)', value, re.I)
    if not m:
        return None
    return m.group(2) if m.group(2) is not None else m.group(1)


def strip_sink(src: str, dst: str) -> int:
    data = open(src, "rb").read()
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and lines[i].lower().startswith(SINK_FIELDS):
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received: ") and i + 1 < len(lines) \
            and b"by smtp-sink" in lines[i + 1]:
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    rest = b"\n".join(lines[i:])
    if rest.endswith(b"\n\n"):
        rest = rest[:-1]
    with open(dst, "wb") as f:
        f.write(to_crlf(rest))
    return 0


def smime_parts(src: str, outdir: str) -> int:
    msg = to_crlf(open(src, "rb").read())
    head, body = split_head(msg)
    ctypes = header_values(head, "content-type")
    if not ctypes:
        print("no Content-Type header", file=sys.stderr)
        return 2
    ctype = ctypes[0]
    mtype = ctype.split(b";")[0].strip().lower()
    if mtype in (b"application/pkcs7-mime", b"application/x-pkcs7-mime"):
        with open(os.path.join(outdir, "opaque.p7m"), "wb") as f:
            f.write(base64.b64decode(re.sub(rb"\s+", b"", body)))
        print("opaque")
        return 0
    if mtype != b"multipart/signed":
        print("not an S/MIME signed message: Content-Type %s" % mtype.decode(errors="replace"),
              file=sys.stderr)
        return 2
    boundary = ctype_param(ctype, "boundary")
    if not boundary:
        print("multipart/signed without boundary", file=sys.stderr)
        return 2
    # RFC 2046 5.1.1: a boundary delimiter line is CRLF "--" boundary, optionally followed by
    # white space; the CRLF before it belongs to the delimiter, not to the part.
    delim = re.compile(rb"(?:^|\r\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|$)")
    marks = list(delim.finditer(body))
    if len(marks) < 3:
        print("multipart/signed with %d boundary lines (need 3)" % len(marks), file=sys.stderr)
        return 2
    signed = body[marks[0].end(): marks[1].start()]
    sigpart = body[marks[1].end(): marks[2].start()]
    shead, sbody = split_head(sigpart)
    stype = (header_values(shead, "content-type") or [b""])[0].split(b";")[0].strip().lower()
    if stype not in (b"application/pkcs7-signature", b"application/x-pkcs7-signature"):
        print("second part is %s, not application/pkcs7-signature" % stype.decode(errors="replace"),
              file=sys.stderr)
        return 2
    with open(os.path.join(outdir, "signed-part"), "wb") as f:
        f.write(signed)
    with open(os.path.join(outdir, "signature.p7s"), "wb") as f:
        f.write(base64.b64decode(re.sub(rb"\s+", b"", sbody)))
    print("detached")
    return 0


def main(argv) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    cmd = argv[1]
    if cmd == "strip-sink" and len(argv) == 4:
        return strip_sink(argv[2], argv[3])
    if cmd == "header" and len(argv) == 4:
        head, _ = split_head(to_crlf(open(argv[2], "rb").read()))
        values = header_values(head, argv[3])
        for v in values:
            sys.stdout.buffer.write(v + b"\n")
        return 0 if values else 1
    if cmd == "body" and len(argv) == 3:
        _, body = split_head(to_crlf(open(argv[2], "rb").read()))
        sys.stdout.buffer.write(body)
        return 0
    if cmd == "crlf" and len(argv) == 4:
        data = to_crlf(open(argv[2], "rb").read())
        with open(argv[3], "wb") as f:
            f.write(data)
        return 0
    if cmd == "smime-parts" and len(argv) == 4:
        return smime_parts(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
