#!/usr/bin/env python3
"""make-hostile.py OUTDIR SIZE [SHAPE...] — inbound messages built to hurt a gateway, and the
benign messages of the same size they are measured against (docs/performance.md, "Hostile
inbound"). CRLF line ends; From an outside partner to siti@dinas.example.go.id.

SIZE is the size of every message, e.g. 10M, 512K (each file is SIZE give or take a line).

MIME shapes (no keys needed):
  benign      multipart/mixed: a text part and a base64 attachment (the reference)
  parts       multipart/mixed of empty parts: "--b" CRLF CRLF, seven bytes a part
  params      a part whose Content-Type has a parameter every five bytes (" a=b;") for 200 KB,
              then an attachment
  params-huge the same Content-Type as long as the whole message (millions of parameters)
  nesting     multipart/mixed nested one level inside the other, about 60 bytes a level
  header      one part with a single header field folded over the whole message
  fields      one part whose header block is many small fields
  top-fields  the message's own header is many small fields (X-00001: y), each its own milter packet
  top-content the same with Content-* names (fields segel keeps, up to inbound.limits.max_header_bytes)

CMS shapes (need --signer CERT KEY [--chain PEM] and, for recipients, --recipient CERT):
  benign-signed   multipart/signed by the signer over a benign entity (the reference)
  signers     multipart/signed whose signature holds copies of its SignerInfo until SIZE
  certs       multipart/signed whose signature carries distinct certificates (copies of the
              signer's with one signature byte changed each) until SIZE
  benign-encrypted  application/pkcs7-mime enveloped-data to the recipient (openssl cms -encrypt)
  recipients  the same, with copies of a second RecipientInfo until SIZE

Each shape is written as OUTDIR/SHAPE.eml. Content is fixed (seeded), so runs compare alike.
"""
import argparse
import base64
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

FROM = "Kepala Mitra <kepala@mitra.example>"
TO = "Siti Rahmawati <siti@dinas.example.go.id>"


def head(shape, content_type, extra=""):
    return ("Date: Mon, 01 Jun 2026 09:00:00 +0700\r\n"
            f"Message-ID: <hostile-{shape}@mitra.example>\r\n"
            f"From: {FROM}\r\nTo: {TO}\r\nSubject: Hostile inbound: {shape}\r\n"
            f"MIME-Version: 1.0\r\n{extra}Content-Type: {content_type}\r\n\r\n")


def b64_lines(raw):
    return base64.encodebytes(raw).decode().replace("\n", "\r\n")


def benign_entity(rng, size):
    """A multipart/mixed entity (Content-Type line, blank line, body) of about SIZE bytes."""
    boundary = "=_benign"
    text = ("Dengan hormat, terlampir laporan kegiatan triwulan.\r\n" * 20)
    part1 = f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
    att = (f"--{boundary}\r\nContent-Type: application/pdf; name=\"laporan.pdf\"\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "Content-Disposition: attachment; filename=\"laporan.pdf\"\r\n\r\n")
    tail = f"--{boundary}--\r\n"
    room = max(0, size - len(part1) - len(att) - len(tail) - 80)
    b64 = b64_lines(rng.randbytes(room * 57 // 78))
    ct = f'multipart/mixed; boundary="{boundary}"'
    return ct, part1 + att + b64 + tail


def mime_shape(shape, size):
    rng = random.Random("segel-hostile-" + shape)
    if shape == "benign":
        ct, body = benign_entity(rng, size - 300)
        return head(shape, ct) + body
    if shape == "parts":
        h = head(shape, 'multipart/mixed; boundary="b"')
        n = max(1, (size - len(h) - 7) // 7)
        return h + "--b\r\n\r\n" * n + "--b--\r\n"
    if shape == "params":
        # A part whose Content-Type holds a parameter every five bytes, as long as a header block
        # may be (the parameter count, not the header size, is what stops it), then the rest of
        # the message in an ordinary attachment.
        h = head(shape, 'multipart/mixed; boundary="b"')
        line = " a=b;" * 15  # 75 columns, folded
        n = max(1, min(size - len(h) - 80, 200 * 1024) // (len(line) + 2))
        bomb = ("--b\r\nContent-Type: text/plain;" + ("\r\n" + line) * n + "\r\n charset=us-ascii\r\n\r\nx\r\n")
        att = ("--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
        room = max(0, size - len(h) - len(bomb) - len(att) - 10)
        return h + bomb + att + b64_lines(rng.randbytes(room * 57 // 78)) + "--b--\r\n"
    if shape == "params-huge":
        # Issue 10's parameter bomb: one Content-Type of millions of parameters, the whole message.
        h = head(shape, 'multipart/mixed; boundary="b"')
        line = " a=b;" * 15
        n = max(1, (size - len(h) - 80) // (len(line) + 2))
        return (h + "--b\r\nContent-Type: text/plain;" + ("\r\n" + line) * n + "\r\n charset=us-ascii\r\n\r\n"
                "x\r\n--b--\r\n")
    if shape == "nesting":
        h = head(shape, 'multipart/mixed; boundary="n0"')
        out = [h, "--n0\r\n"]
        tail = ["\r\n--n0--\r\n"]
        used = len(h) + 16
        i = 1
        while used < size - 200:
            level = f'Content-Type: multipart/mixed; boundary="n{i}"\r\n\r\n--n{i}\r\n'
            out.append(level)
            tail.append(f"\r\n--n{i}--\r\n")
            used += len(level) + len(tail[-1])
            i += 1
        out.append("Content-Type: text/plain\r\n\r\ndeep")
        return "".join(out) + "".join(reversed(tail))
    if shape == "header":
        h = head(shape, 'multipart/mixed; boundary="b"')
        line = "\t" + "x" * 76
        n = max(1, (size - len(h) - 60) // (len(line) + 2))
        return h + "--b\r\nX-Huge: start" + ("\r\n" + line) * n + "\r\n\r\nx\r\n--b--\r\n"
    if shape == "fields":
        h = head(shape, 'multipart/mixed; boundary="b"')
        n = max(1, (size - len(h) - 60) // 11)
        fields = "".join(f"X{i % 100000:05d}: y\r\n" for i in range(n))
        return h + "--b\r\n" + fields + "\r\nx\r\n--b--\r\n"
    if shape in ("top-fields", "top-content"):
        # The top-level header itself: what the milter is handed one field at a time. (A single
        # top-level field cannot be huge: libmilter refuses a packet over 64 KB.)
        h = head(shape, 'multipart/mixed; boundary="b"')
        prefix = "X" if shape == "top-fields" else "Content-X"
        line = len(f"{prefix}00000: y\r\n")
        n = max(1, (size - len(h) - 40) // line)
        fields = "".join(f"{prefix}{i % 100000:05d}: y\r\n" for i in range(n))
        return fields + h + "--b\r\n\r\nx\r\n--b--\r\n"
    raise SystemExit(f"make-hostile.py: unknown shape {shape}")


# ---- DER, just enough to copy elements of a CMS structure -------------------------------------

def tlv(data, pos):
    """(tag byte, start of content, end of element) of the DER element at POS."""
    tag = data[pos]
    n = data[pos + 1]
    p = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise ValueError("indefinite length: expected DER")
        n = int.from_bytes(data[p:p + k], "big")
        p += k
    return tag, p, p + n


def children(data, start, end):
    out = []
    pos = start
    while pos < end:
        _, c, e = tlv(data, pos)
        out.append((pos, c, e))
        pos = e
    return out


def length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def element(tag, content):
    return bytes([tag]) + length(len(content)) + content


def signed_data_parts(der):
    """ContentInfo → [0] → SignedData: its children as (tag, bytes) pairs."""
    _, c, e = tlv(der, 0)
    oid, explicit = children(der, c, e)
    _, sc, se = tlv(der, explicit[1])  # the SignedData SEQUENCE inside [0]
    return der[oid[0]:oid[2]], [(der[p], der[p:q]) for p, _, q in children(der, sc, se)]


def rebuild(oid_bytes, parts, outer_tag=0xA0):
    body = b"".join(p for _, p in parts)
    return element(0x30, oid_bytes + element(outer_tag, element(0x30, body)))


def set_of(tag, elements):
    return element(tag, b"".join(elements))


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def detached_signature(entity, signer, key, chain, work):
    content = work / "entity"
    content.write_bytes(entity.encode())
    sig = work / "sig.der"
    args = ["cms", "-sign", "-binary", "-in", str(content), "-signer", signer, "-inkey", key, "-md", "sha256",
            "-outform", "DER", "-out", str(sig)]
    if chain:
        args += ["-certfile", chain]
    openssl(*args)
    return sig.read_bytes()


def signed_message(shape, entity_ct, entity_body, sig_der):
    entity = f"Content-Type: {entity_ct}\r\n\r\n{entity_body}"
    h = head(shape, 'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;\r\n'
                    '\tboundary="=_signed"')
    return (h + "--=_signed\r\n" + entity + "\r\n--=_signed\r\n"
            "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n" + b64_lines(sig_der) +
            "--=_signed--\r\n")


def cms_shape(shape, size, args, work):
    rng = random.Random("segel-hostile-" + shape)
    if shape in ("benign-signed", "signers", "certs"):
        if not args.signer:
            raise SystemExit(f"make-hostile.py: {shape} needs --signer CERT KEY")
        if shape == "benign-signed":
            ct, body = benign_entity(rng, size - 4000)
        else:
            ct, body = "text/plain; charset=us-ascii", "Isi surat yang ditandatangani.\r\n"
        entity = f"Content-Type: {ct}\r\n\r\n{body}"
        der = detached_signature(entity, args.signer[0], args.signer[1], args.chain, work)
        if shape != "benign-signed":
            oid, parts = signed_data_parts(der)
            room = size * 3 // 4 - len(der)  # base64 grows it by a third
            out = []
            for k, (tag, p) in enumerate(parts):
                if tag == 0x31 and shape == "signers" and k == len(parts) - 1:  # signerInfos SET
                    infos = split_set(p)
                    n = max(1, room // len(infos[0]))
                    p = set_of(0x31, infos + infos[:1] * n)
                elif tag == 0xA0 and shape == "certs":  # certificates [0] IMPLICIT SET
                    certs = split_set(p)
                    copies = []
                    leaf = certs[0]
                    while sum(len(c) for c in copies) < room:
                        c = bytearray(leaf)
                        i = len(c) - 1 - (len(copies) % 200)  # inside the signature BIT STRING
                        c[i] ^= 1 + (len(copies) // 200) % 255
                        copies.append(bytes(c))
                    p = set_of(0xA0, certs + copies)
                out.append((tag, p))
            der = rebuild(oid, out)
        return signed_message(shape, ct, body, der)
    if shape in ("benign-encrypted", "recipients"):
        if not args.recipient or not args.signer:
            raise SystemExit(f"make-hostile.py: {shape} needs --recipient CERT and --signer CERT KEY")
        if shape == "benign-encrypted":
            ct, body = benign_entity(rng, size * 3 // 4 - 2000)
        else:
            ct, body = "text/plain; charset=us-ascii", "Isi surat rahasia.\r\n"
        plain = work / "plain"
        plain.write_bytes(f"Content-Type: {ct}\r\n\r\n{body}".encode())
        der_file = work / "env.der"
        openssl("cms", "-encrypt", "-binary", "-aes256", "-in", str(plain), "-outform", "DER", "-out",
                str(der_file), args.recipient, args.signer[0])
        der = der_file.read_bytes()
        if shape == "recipients":
            _, c, e = tlv(der, 0)
            oid, explicit = children(der, c, e)
            _, ec, ee = tlv(der, explicit[1])  # the EnvelopedData SEQUENCE inside [0]
            parts = [(der[p], der[p:q]) for p, _, q in children(der, ec, ee)]
            out = []
            for tag, p in parts:
                if tag == 0x31:  # recipientInfos
                    infos = split_set(p)
                    n = max(1, (size * 3 // 4 - len(der)) // len(infos[-1]))
                    p = set_of(0x31, infos + infos[-1:] * n)
                out.append((tag, p))
            der = rebuild(der[oid[0]:oid[2]], out)
        h = head(shape, 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
                 "Content-Transfer-Encoding: base64\r\n"
                 "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n")
        return h + b64_lines(der)
    raise SystemExit(f"make-hostile.py: unknown shape {shape}")


def split_set(element_bytes):
    _, c, e = tlv(element_bytes, 0)
    return [element_bytes[p:q] for p, _, q in children(element_bytes, c, e)]


MIME = ("benign", "parts", "params", "params-huge", "nesting", "header", "fields", "top-fields", "top-content")
CMS = ("benign-signed", "signers", "certs", "benign-encrypted", "recipients")


def parse_size(text):
    mult = {"K": 1024, "M": 1024 * 1024, "G": 1024 ** 3}
    return int(text[:-1]) * mult[text[-1].upper()] if text[-1].upper() in mult else int(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outdir")
    p.add_argument("size")
    p.add_argument("shapes", nargs="*")
    p.add_argument("--signer", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--chain")
    p.add_argument("--recipient")
    p.add_argument("--suffix", default="", help="appended to each file name (e.g. -10m)")
    args = p.parse_intermixed_args()
    size = parse_size(args.size)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    shapes = args.shapes or list(MIME)
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            text = mime_shape(shape, size) if shape in MIME else cms_shape(shape, size, args, Path(tmp))
            (out / f"{shape}{args.suffix}.eml").write_bytes(text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
