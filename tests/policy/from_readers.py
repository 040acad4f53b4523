#!/usr/bin/env python3
"""What Python's email package reads in From field values (the differential test's second reader).

Input (stdin): one From field value per line, hex-encoded (the bytes after "From:").
Output (stdout): one line per input: the mailboxes read, each as HEX(addr_spec) "," HEX(display_name),
separated by ";" (an empty line when none), or "!" followed by the exception's name when parsing
raised. Parsed the way a mail program built on Python reads a message: message_from_bytes with
policy=email.policy.default, then the From header's .addresses.
"""
import email
import email.policy
import sys


def reading(raw: bytes) -> str:
    try:
        msg = email.message_from_bytes(b"From:" + raw + b"\r\n\r\n", policy=email.policy.default)
        header = msg["From"]
        if header is None:
            return ""
        out = []
        for a in header.addresses:
            addr = a.addr_spec.encode("utf-8", "surrogateescape")
            name = a.display_name.encode("utf-8", "surrogateescape")
            out.append(addr.hex() + "," + name.hex())
        return ";".join(out)
    except Exception as e:  # noqa: BLE001 - any failure is a reading too
        return "!" + type(e).__name__


for line in sys.stdin:
    print(reading(bytes.fromhex(line.strip())))
