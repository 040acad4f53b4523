#!/usr/bin/env python3
"""audit_tamper.py CASE DB [ARGS]: changes a segel audit SQLite file the way an intruder with
write access would (the append-only triggers dropped first). Used by t-audit.sh and t-audit-pg.sh
to show that `segelctl audit verify` and scripts/segel-audit-verify both name the first bad event.

Cases (EVENT is an event number, SEQ a checkpoint sequence):
  field EVENT          one byte of the event's bytes changed; its stored leaf hash left alone
  field-rehash EVENT   one byte changed and the leaf hash recomputed
  column EVENT         the decision column changed (the record left alone)
  delete EVENT         the event removed
  renumber EVENT       the event removed and the later ones renumbered to close the gap
  swap EVENT           the event and the next one swapped
  insert EVENT         a well-formed copy of the event inserted before it, the rest moved up
  truncate EVENT       the event and everything after it removed
  checkpoint-text SEQ  the checkpoint's text changed (its size line)
  checkpoint-signer SEQ CERT KEY   the checkpoint re-signed with another key (openssl cms)
  counts               the summary table changed
"""
import hashlib
import sqlite3
import subprocess
import sys

TRIGGERS = ["events_no_update", "events_no_delete", "checkpoints_no_update", "checkpoints_no_delete"]


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def field_offset(data):
    """The offset of the first byte of the value of the sender field (tag 8), else the kind (tag 5)."""
    pos, found = 1, None
    while pos < len(data):
        tag, n = data[pos], int.from_bytes(data[pos + 1:pos + 5], "big")
        if tag in (5, 8):
            found = pos + 5
        pos += 5 + n
    return found


def main():
    case, db = sys.argv[1], sys.argv[2]
    con = sqlite3.connect(db)
    for t in TRIGGERS:
        con.execute("DROP TRIGGER IF EXISTS " + t)
    arg = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else None
    if case in ("field", "field-rehash"):
        (data,) = con.execute("SELECT data FROM events WHERE idx = ?", (arg,)).fetchone()
        data = bytearray(data)
        off = field_offset(data)
        data[off] ^= 0x01  # e.g. siti -> riti
        if case == "field":
            con.execute("UPDATE events SET data = ? WHERE idx = ?", (bytes(data), arg))
        else:
            con.execute("UPDATE events SET data = ?, leaf = ? WHERE idx = ?", (bytes(data), leaf(bytes(data)), arg))
    elif case == "column":
        con.execute("UPDATE events SET decision = 'pass' WHERE idx = ?", (arg,))
    elif case == "delete":
        con.execute("DELETE FROM events WHERE idx = ?", (arg,))
    elif case == "renumber":
        con.execute("DELETE FROM events WHERE idx = ?", (arg,))
        con.execute("UPDATE events SET idx = -(idx - 1) WHERE idx > ?", (arg,))
        con.execute("UPDATE events SET idx = -idx WHERE idx < 0")
    elif case == "swap":
        con.execute("UPDATE events SET idx = -1 WHERE idx = ?", (arg,))
        con.execute("UPDATE events SET idx = ? WHERE idx = ?", (arg, arg + 1))
        con.execute("UPDATE events SET idx = ? WHERE idx = -1", (arg + 1,))
    elif case == "insert":
        con.execute("UPDATE events SET idx = -(idx + 1) WHERE idx >= ?", (arg,))
        con.execute("UPDATE events SET idx = -idx WHERE idx < 0")
        con.execute("INSERT INTO events SELECT ?, time, kind, queue_id, direction, sender, login, client, unit, "
                    "decision, reason_code, verdict, cert_serial, data, leaf FROM events WHERE idx = ?",
                    (arg, arg + 1))
    elif case == "truncate":
        con.execute("DELETE FROM events WHERE idx >= ?", (arg,))
    elif case == "checkpoint-text":
        (body,) = con.execute("SELECT body FROM checkpoints WHERE seq = ?", (arg,)).fetchone()
        lines = body.split(b"\n")
        size = int(lines[3].split(b" ")[1])
        lines[3] = b"size %d" % (size - 1)
        con.execute("UPDATE checkpoints SET body = ?, size = ? WHERE seq = ?", (b"\n".join(lines), size - 1, arg))
    elif case == "checkpoint-signer":
        cert, key = sys.argv[4], sys.argv[5]
        (body,) = con.execute("SELECT body FROM checkpoints WHERE seq = ?", (arg,)).fetchone()
        sig = subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-signer", cert,
                              "-inkey", key, "-md", "sha256"], input=body, capture_output=True, check=True).stdout
        con.execute("UPDATE checkpoints SET signature = ? WHERE seq = ?", (sig, arg))
    elif case == "counts":
        con.execute("UPDATE counts SET n = n + 1 WHERE kind = 'sign'")
    else:
        sys.exit("audit_tamper.py: unknown case " + case)
    con.commit()


if __name__ == "__main__":
    main()
