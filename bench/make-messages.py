#!/usr/bin/env python3
"""make-messages.py OUTDIR [SHAPE...] — the benchmark's message shapes, CRLF line ends.

Shapes (total size of the message file):
  2kb    text/plain, 7-bit Indonesian-looking prose
  50kb   multipart/mixed: a text part and a base64 PDF-like attachment
  1mb    multipart/mixed: text part + base64 attachment
  20mb   multipart/mixed: text part + base64 attachment

For each shape two files are written, one per staff key of the test PKI:
  SHAPE-rsa.eml  From: siti@dinas.example.go.id  (RSA-2048)
  SHAPE-ec.eml   From: budi@dinas.example.go.id  (EC P-256)
The content is pseudo-random but fixed (seeded), so runs compare like with like.
"""
import base64
import random
import sys
from pathlib import Path

SIZES = {"2kb": 2 * 1024, "50kb": 50 * 1024, "1mb": 1024 * 1024, "20mb": 20 * 1024 * 1024}
SENDERS = {"rsa": ("Siti Rahmawati", "siti@dinas.example.go.id"),
           "ec": ("Budi Santoso", "budi@dinas.example.go.id")}
WORDS = ("surat dinas kepala bagian laporan kegiatan anggaran tahun rapat koordinasi mohon "
         "perhatian terima kasih atas kerja sama bapak ibu sesuai dengan ketentuan yang berlaku "
         "dokumen terlampir segera ditindaklanjuti pelaksanaan program daerah").split()


def prose(rng, size):
    lines, total = [], 0
    while total < size:
        line = []
        while sum(len(w) + 1 for w in line) < 66:
            line.append(rng.choice(WORDS))
        text = " ".join(line).capitalize() + "."
        lines.append(text)
        total += len(text) + 2
    return "\r\n".join(lines) + "\r\n"


def headers(shape, key, content_type):
    name, addr = SENDERS[key]
    return ("Date: Mon, 01 Jun 2026 08:00:00 +0700\r\n"
            f"Message-ID: <bench-{shape}-{key}@dinas.example.go.id>\r\n"
            f"From: {name} <{addr}>\r\n"
            "To: Kepala Bagian <kepala@mitra.example>\r\n"
            f"Subject: Benchmark {shape}: laporan kegiatan\r\n"
            "MIME-Version: 1.0\r\n"
            f"{content_type}\r\n")


def message(shape, key):
    rng = random.Random(f"segel-bench-{shape}")
    size = SIZES[shape]
    if shape == "2kb":
        head = headers(shape, key, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit")
        return head + "\r\n" + prose(rng, size - len(head) - 2)
    boundary = "=_bench_" + shape
    head = headers(shape, key, f'Content-Type: multipart/mixed; boundary="{boundary}"')
    text = prose(rng, 1200)
    part1 = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
             f"Content-Transfer-Encoding: 7bit\r\n\r\n{text}")
    att_head = (f"--{boundary}\r\nContent-Type: application/pdf; name=\"laporan.pdf\"\r\n"
                "Content-Transfer-Encoding: base64\r\n"
                "Content-Disposition: attachment; filename=\"laporan.pdf\"\r\n\r\n")
    tail = f"--{boundary}--\r\n"
    room = size - len(head) - 2 - len(part1) - len(att_head) - len(tail)
    raw = rng.randbytes(room * 57 // 78)  # base64 with CRLF: 57 bytes -> 78 characters
    b64 = base64.encodebytes(raw).decode().replace("\n", "\r\n")
    return head + "\r\n" + part1 + att_head + b64 + tail


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for shape in sys.argv[2:] or list(SIZES):
        for key in SENDERS:
            (out / f"{shape}-{key}.eml").write_bytes(message(shape, key).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
