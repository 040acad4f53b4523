#!/usr/bin/env python3
"""A corpus of real-world message shapes for the signing tests (standard library only).

  corpus.py generate OUTDIR --inner-signed FILE
      Writes OUTDIR/NAME.eml (CRLF, as SMTP carries it) for every shape below and OUTDIR/MANIFEST
      (one "NAME<TAB>what it is" line each). FILE is a signed message (e.g. from openssl cms
      -sign) that the forwarded-signed shapes attach; it is taken in CRLF form.

  corpus.py send --port PORT --user USER --password PW --from ADDR --to ADDR FILE...
      Submits every FILE in one SMTP session on 127.0.0.1 (AUTH, BODY=8BITMIME) and prints one
      "NAME<TAB>CODE<TAB>REPLY" line per message (NAME = the file name without .eml).

  corpus.py compare SENT RECEIVED
      The decoded content of every leaf part of SENT (Python's email package: transfer encoding
      undone) must be byte-identical to the same leaf of RECEIVED's signed entity (the first
      part of its multipart/signed), in the same order and with the same media types. Exit 1
      with the differences otherwise.

  corpus.py inner-signed RECEIVED OUTDIR
      Writes the exact bytes of every attached message (message/rfc822 part) of RECEIVED's signed
      entity that is itself S/MIME signed to OUTDIR/inner-N.eml and prints their paths: what a
      recipient who opens the forwarded message gets, to verify its own signature.

Shapes (each names its origin; the bytes are written by hand so nothing normalises them):
Outlook (multipart/related with type=, tab folds, inline image with long Content-Disposition;
a long RFC 2047 filename), Thunderbird (preamble, format=flowed 8-bit, RFC 2231 continuations),
Apple Mail (alternative and interleaved inline parts, a commented Mime-Version), Gmail
(alternative, base64 UTF-8 text, attachment with X-Attachment-Id), calendar invitations
(text/calendar method=REQUEST, 8-bit, RFC 5545 folds, application/ics), forwarded messages
(7-bit, 8-bit, signed: message/rfc822), preambles and epilogues, long and RFC 2231 parameters,
a mailing-list digest (multipart/digest, parts without Content-Type), header lines of up to
998 octets, 8-bit parts that need re-encoding.
"""
import base64
import email
import email.policy
import os
import random
import re
import smtplib
import sys

FROM = "Siti Rahmawati <siti@dinas.example.go.id>"
TO = "Kepala Bagian <kepala@mitra.example>"
DATE = "Fri, 20 Nov 2026 10:15:00 +0700"


def crlf(text: str) -> bytes:
    """The shape as SMTP carries it: UTF-8, every line end CRLF."""
    return re.sub(r"\r?\n", "\r\n", text).encode("utf-8")


def blob(n: int, seed: int) -> str:
    """Deterministic pseudo-random bytes of an attachment, base64 in 76-character lines."""
    rng = random.Random(seed)
    return base64.encodebytes(bytes(rng.getrandbits(8) for _ in range(n))).decode("ascii")


def b64text(text: str) -> str:
    """UTF-8 text in base64 lines."""
    return base64.encodebytes(text.encode("utf-8")).decode("ascii")


def head(name: str, subject: str, extra: str) -> str:
    return (f"Date: {DATE}\nMessage-ID: <{name}.corpus@dinas.example.go.id>\nFrom: {FROM}\nTo: {TO}\n"
            f"Subject: {subject}\nX-Corpus-Id: {name}\n{extra}")


LONG_DOC = ("Laporan Realisasi Anggaran Triwulan III Tahun 2026 Dinas Komunikasi dan Informatika "
            "Kabupaten Contoh.docx")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def outlook_related(name):
    rel = "_004_SG2PR06MB3456ABCD0123456789APCPRD06prodoutlookcom_"
    alt = "_000_SG2PR06MB3456ABCD0123456789APCPRD06prodoutlookcom_"
    return head(name, "Undangan Rapat Koordinasi Anggaran", f"""Thread-Topic: Undangan Rapat Koordinasi Anggaran
Thread-Index: AdnKq1b2c3d4e5f6g7h8i9j0kLmNoP==
Accept-Language: id-ID, en-US
Content-Language: id-ID
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator:
Content-Type: multipart/related;
\tboundary="{rel}";
\ttype="multipart/alternative"
MIME-Version: 1.0

--{rel}
Content-Type: multipart/alternative;
\tboundary="{alt}"

--{alt}
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Yth. Bapak/Ibu,

Dengan hormat, kami mengundang Bapak/Ibu pada rapat koordinasi anggaran pad=
a hari Rabu, 25 November 2026.

[cid:image001.png@01DA1B2C.3D4E5F60]

--{alt}
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html xmlns:v=3D"urn:schemas-microsoft-com:vml" xmlns:o=3D"urn:schemas-micr=
osoft-com:office:office"><head><meta http-equiv=3D"Content-Type" content=3D=
"text/html; charset=3Dus-ascii"></head><body lang=3D"EN-ID"><p class=3D"Mso=
Normal">Yth. Bapak/Ibu,<o:p></o:p></p><p><img width=3D"120" height=3D"40" s=
rc=3D"cid:image001.png@01DA1B2C.3D4E5F60"></p></body></html>

--{alt}--

--{rel}
Content-Type: image/png; name="image001.png"
Content-Description: image001.png
Content-Disposition: inline; filename="image001.png"; size=3000;
\tcreation-date="Fri, 20 Nov 2026 03:12:45 GMT";
\tmodification-date="Fri, 20 Nov 2026 03:12:45 GMT"
Content-ID: <image001.png@01DA1B2C.3D4E5F60>
Content-Transfer-Encoding: base64

{blob(3000, 1)}
--{rel}--
""")


def outlook_long_filename(name):
    b = "_002_SG2PR06MB3456EF0123456789APCPRD06prodoutlookcom_"
    encoded = "=?utf-8?B?TGFwb3JhbiBLZXVhbmdhbiDigJQgU2VrcmV0YXJpYXQgRGFlcmFo?=\n\t=?utf-8?B?IFRhaHVuIDIwMjYueGxzeA==?="
    return head(name, "Laporan triwulan", f"""Thread-Topic: Laporan triwulan
Content-Language: id-ID
X-MS-Has-Attach: yes
Content-Type: multipart/mixed;
\tboundary="{b}"
MIME-Version: 1.0

--{b}
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Terlampir laporan triwulan.

--{b}
Content-Type: {DOCX};
\tname="{LONG_DOC}"
Content-Description: {LONG_DOC}
Content-Disposition: attachment;
\tfilename="{LONG_DOC}";
\tsize=4096; creation-date="Fri, 20 Nov 2026 03:12:45 GMT";
\tmodification-date="Fri, 20 Nov 2026 03:12:45 GMT"
Content-Transfer-Encoding: base64

{blob(4096, 2)}
--{b}
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;
\tname="{encoded}"
Content-Description: {encoded}
Content-Disposition: attachment;
\tfilename="{encoded}";
\tsize=2048
Content-Transfer-Encoding: base64

{blob(2048, 3)}
--{b}--
""")


def thunderbird_mixed(name):
    b = "------------0A1B2C3D4E5F6A7B8C9D0E1F"
    staff = b64text("Nama; NIP\nSiti Rahmawati; 198001012005012001\nBudi Santoso; 198202022006021002\n")
    return head(name, "Surat edaran — sertifikat elektronik", f"""User-Agent: Mozilla Thunderbird
Content-Language: id
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{b}"

This is a multi-part message in MIME format.
--{b}
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Yth. Bapak/Ibu Kepala Perangkat Daerah — dengan hormat, bersama ini kami 
sampaikan surat edaran tentang penggunaan sertifikat elektronik untuk 
surel dinas. Mohon diteruskan kepada seluruh pegawai.

Salam hormat,
Siti Rahmawati — Dinas Kominfo

--{b}
Content-Type: application/pdf;
 name="Surat Edaran Nomor 045 Tahun 2026 tentang Penggunaan Sertifikat Elektronik.pdf"
Content-Disposition: attachment;
 filename*0="Surat Edaran Nomor 045 Tahun 2026 tentang Penggunaan Sertifikat";
 filename*1=" Elektronik.pdf"
Content-Transfer-Encoding: base64

{blob(5000, 4)}
--{b}
Content-Type: text/plain; charset=UTF-8;
 name="=?UTF-8?Q?Daftar_Pegawai_=E2=80=94_Bidang_Aplikasi_dan_Informatika=2Etxt?="
Content-Disposition: attachment;
 filename*0*=UTF-8''%44%61%66%74%61%72%20%50%65%67%61%77%61%69%20%E2%80%94;
 filename*1*=%20%42%69%64%61%6E%67%20%41%70%6C%69%6B%61%73%69%2E%74%78%74
Content-Transfer-Encoding: base64

{staff}
--{b}--
""")


def thunderbird_alternative(name):
    b = "------------AB12CD34EF56AB78CD90EF12"
    return head(name, "Ringkasan rapat", f"""User-Agent: Mozilla Thunderbird
MIME-Version: 1.0
Content-Type: multipart/alternative;
 boundary="{b}"

This is a multi-part message in MIME format.
--{b}
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Ringkasan rapat — anggaran disetujui ✓
From the minutes: lanjutkan.

--{b}
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: 8bit

<!DOCTYPE html>
<html><head><meta http-equiv="content-type" content="text/html; charset=UTF-8"></head><body><p>Ringkasan rapat — anggaran disetujui ✓</p><p>From the minutes: lanjutkan.</p></body></html>

--{b}--
""")


def apple_alternative(name):
    b = "Apple-Mail=_5B1C2D3E-4F5A-6B7C-8D9E-0F1A2B3C4D5E"
    return head(name, "Jadwal kunjungan", f"""Content-Type: multipart/alternative;
\tboundary="{b}"
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3731.500.231\\))
X-Mailer: Apple Mail (2.3731.500.231)


--{b}
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain;
\tcharset=utf-8

Selamat pagi =E2=80=94 jadwal kunjungan kerja terlampir di bawah ini.

Siti
--{b}
Content-Transfer-Encoding: quoted-printable
Content-Type: text/html;
\tcharset=utf-8

<html><head><meta http-equiv=3D"content-type" content=3D"text/html; =
charset=3Dutf-8"></head><body style=3D"overflow-wrap: break-word; =
-webkit-nbsp-mode: space; line-break: after-white-space;">Selamat pagi =
=E2=80=94 jadwal kunjungan kerja terlampir di bawah ini.<div><br></div><div>Siti</div></body></html>=

--{b}--
""")


def apple_inline(name):
    b = "Apple-Mail=_0E1F2A3B-4C5D-6E7F-8A9B-0C1D2E3F4A5B"
    return head(name, "Foto kegiatan", f"""Content-Type: multipart/mixed;
\tboundary="{b}"
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3731.500.231\\))
X-Mailer: Apple Mail (2.3731.500.231)


--{b}
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=us-ascii

Berikut foto kegiatan sosialisasi:

--{b}
Content-Disposition: inline;
\tfilename=kegiatan.jpg
Content-Type: image/jpeg;
\tx-unix-mode=0644;
\tname="kegiatan.jpg"
Content-Transfer-Encoding: base64

{blob(6000, 5)}
--{b}
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=us-ascii



Salam,
Siti
--{b}--
""")


def gmail_alternative(name):
    b = "000000000000a1b2c3d405f6e7d8"
    text = b64text("Yth. Bapak/Ibu,\r\n\r\nBerikut notulen rapat — mohon dicek sebelum Jumat.\r\n\r\nSalam,\r\nSiti\r\n")
    return head(name, "Notulen rapat", f"""MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="{b}"

--{b}
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: base64

{text}
--{b}
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Yth. Bapak/Ibu,<div><br></div><div>Berikut notulen rapat =
=E2=80=94 mohon dicek sebelum Jumat.</div><div><br></div><div>Salam,</div><=
div>Siti</div></div>

--{b}--
""")


def gmail_attachment(name):
    mixed = "000000000000f1e2d3c405f6e7d9"
    alt = "000000000000f1e2d3c305f6e7d8"
    return head(name, "Notulen (lampiran)", f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{mixed}"

--{mixed}
Content-Type: multipart/alternative; boundary="{alt}"

--{alt}
Content-Type: text/plain; charset="UTF-8"

Notulen terlampir.

--{alt}
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Notulen terlampir.</div>

--{alt}--
--{mixed}
Content-Type: application/pdf; name="Notulen Rapat Koordinasi.pdf"
Content-Disposition: attachment; filename="Notulen Rapat Koordinasi.pdf"
Content-Transfer-Encoding: base64
Content-ID: <f_lq1w2e3r40>
X-Attachment-Id: f_lq1w2e3r40

{blob(8000, 6)}
--{mixed}--
""")


def calendar_invite(name):
    mixed = "000000000000c0a1e2d3f405f6e7aa"
    alt = "000000000000c0a1e2d3f305f6e7ab"
    ics = """BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REQUEST
BEGIN:VEVENT
DTSTART:20261125T020000Z
DTEND:20261125T040000Z
DTSTAMP:20261120T031500Z
ORGANIZER;CN=Siti Rahmawati:mailto:siti@dinas.example.go.id
UID:7kukuqrfedlm2f9t4vnj3b1234@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=kepala@mitra.example;X-NUM-GUESTS=0:mailto:kepala@mitra.example
DESCRIPTION:Rapat koordinasi anggaran — agenda: realisasi triwulan III\\, r
 encana triwulan IV\\, dan penggunaan sertifikat elektronik untuk surel din
 as.
LOCATION:Ruang Rapat Kominfo\\, Lantai 2
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Rapat Koordinasi — Anggaran 2026
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
"""
    invited = b64text("Anda diundang: Rapat Koordinasi — Anggaran 2026\r\n")
    attached = base64.encodebytes(crlf(ics)).decode()
    return head(name, "Undangan: Rapat Koordinasi — Anggaran 2026", f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{mixed}"

--{mixed}
Content-Type: multipart/alternative; boundary="{alt}"

--{alt}
Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes
Content-Transfer-Encoding: base64

{invited}
--{alt}
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<span>Anda diundang: Rapat Koordinasi =E2=80=94 Anggaran 2026</span>
--{alt}
Content-Type: text/calendar; charset="UTF-8"; method=REQUEST
Content-Transfer-Encoding: 8bit

{ics}
--{alt}--

--{mixed}
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

{attached}
--{mixed}--
""")


INNER_HEAD = """Received: from mail.mitra.example (mail.mitra.example [192.0.2.25]) by mx.dinas.example.go.id (Postfix) with ESMTPS id 4F2A1B3C4D for <siti@dinas.example.go.id>; Thu, 19 Nov 2026 16:02:11 +0700 (WIB)
Received: from [10.20.30.40] (unknown [10.20.30.40])
\tby mail.mitra.example (Postfix) with ESMTPSA id 9A8B7C6D5E
\tfor <siti@dinas.example.go.id>; Thu, 19 Nov 2026 16:02:10 +0700 (WIB)
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=mitra.example; s=mail; t=1795597330; bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=; h=Date:From:To:Subject:From; b=Kq3vS0mE1l2k3j4h5g6f7d8s9a0pOiUyTrEwQ1a2S3d4F5g6H7j8K9l0Zx
Date: Thu, 19 Nov 2026 16:02:10 +0700
From: Kepala Bagian <kepala@mitra.example>
To: siti@dinas.example.go.id
Message-ID: <undangan.4F2A1B3C4D@mitra.example>
"""


def forwarded_7bit(name):
    b = "------------F0RWARD7B1T0000000000000001"
    alt = "------------1NNER0000000000000000000002"
    return head(name, "Fwd: Undangan", f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{b}"

This is a multi-part message in MIME format.
--{b}
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Mohon ditindaklanjuti, undangan terlampir.

--{b}
Content-Type: message/rfc822; name="Undangan.eml"
Content-Disposition: attachment; filename="Undangan.eml"

{INNER_HEAD}Subject: Undangan
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="{alt}"

--{alt}
Content-Type: text/plain; charset=us-ascii

Undangan rapat pada 25 November 2026.
--{alt}
Content-Type: text/html; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

<p>Undangan rapat pada 25 November 2026.</p>
--{alt}--

--{b}--
""")


def forwarded_8bit(name):
    b = "------------F0RWARD8B1T0000000000000003"
    return head(name, "Fwd: Laporan — revisi", f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{b}"

--{b}
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Diteruskan — mohon dicek.

--{b}
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit
Content-Disposition: attachment

{INNER_HEAD}Subject: Laporan — revisi ✓
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Revisi laporan — angka triwulan III sudah diperbaiki.
From now on: gunakan format baru.  

--{b}--
""")


def forwarded_signed(name, inner, eight_bit):
    b = "------------F0RWARDS1GNED0000000000004"
    note = ("Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
            "Nota dinas dari Budi — ditandatangani, diteruskan.\n" if eight_bit else
            "Content-Type: text/plain; charset=us-ascii\n\nNota dinas dari Budi, diteruskan.\n")
    text = head(name, "Fwd: Nota dinas (ditandatangani)", f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{b}"

--{b}
{note}
--{b}
Content-Type: message/rfc822
Content-Disposition: attachment; filename="Nota dinas.eml"

""")
    return crlf(text) + inner + crlf(f"\n--{b}--\n")


def preamble_epilogue(name, eight_bit):
    o = "=_outer_6a1f"
    i = "=_inner_6a1f"
    part = ("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nSurat dinas — é\n"
            if eight_bit else "Content-Type: text/plain; charset=us-ascii\n\nSurat dinas.\n")
    return head(name, "Preamble and epilogue", f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{o}"

This is a multi-part message in MIME format.

If you can read this, your mail program does not understand MIME.
--{o}
Content-Type: multipart/alternative; boundary="{i}"

Inner preamble, line one.
Inner preamble, line two.

--{i}
Content-Type: text/plain; charset=us-ascii

Bagian teks.
--{i}
Content-Type: text/html; charset=us-ascii

<p>Bagian teks.</p>
--{i}--
Inner epilogue, line one.

Inner epilogue, after a blank line.
--{o}
{part}
--{o}--
Outer epilogue: added by a list server.

Unsubscribe: https://lists.example/
""")


def long_parameters(name):
    b = "=_params_77c2"
    pct = ("Laporan%20Kinerja%20Instansi%20Pemerintah%20%E2%80%94%20Dinas%20Komunikasi%20dan%20"
           "Informatika%20Kabupaten%20Contoh%20Tahun%20Anggaran%202026.pdf")
    long_note = "x-note=\"" + "catatan " * 120 + "\""  # one unfolded line of ~990 octets
    return head(name, "Parameter panjang", f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{b}"

--{b}
Content-Type: text/plain; charset=us-ascii

Lampiran dengan nama panjang.
--{b}
Content-Type: application/pdf;
 name*0*=UTF-8''Laporan%20Kinerja%20Instansi%20Pemerintah%20%E2%80%94%20;
 name*1*=Dinas%20Komunikasi%20dan%20Informatika%20Kabupaten%20Contoh%20;
 name*2*=Tahun%20Anggaran%202026.pdf
Content-Disposition: attachment; filename*=UTF-8''{pct}
Content-Description: text/plain; {long_note[:960].rstrip()}
Content-Transfer-Encoding: base64

{blob(3000, 7)}
--{b}--
""")


def digest(name):
    mixed = "===============1234567890123456789=="
    dig = "===============9876543210987654321=="
    return head(name, "Kominfo-list Digest, Vol 12, Issue 3", f"""List-Id: Kominfo-list <kominfo-list.lists.example.go.id>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{mixed}"

--{mixed}
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0
Content-Transfer-Encoding: 7bit
Content-Description: Kominfo-list Digest, Vol 12, Issue 3

Send Kominfo-list mailing list submissions to
\tkominfo-list@lists.example.go.id

Today's Topics:

   1. Jadwal rapat (Budi Santoso)
   2. Re: Jadwal rapat (Siti Rahmawati)

--{mixed}
Content-Type: multipart/digest; boundary="{dig}"
MIME-Version: 1.0

--{dig}
Content-Type: message/rfc822
MIME-Version: 1.0

Message: 1
Date: Thu, 19 Nov 2026 09:00:00 +0700
From: Budi Santoso <budi@dinas.example.go.id>
To: kominfo-list@lists.example.go.id
Subject: Jadwal rapat
Message-ID: <jadwal.1@dinas.example.go.id>
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Rapat dipindah ke Kamis — pukul 09.00.

--{dig}

Message: 2
Date: Thu, 19 Nov 2026 09:30:00 +0700
From: Siti Rahmawati <siti@dinas.example.go.id>
To: kominfo-list@lists.example.go.id
Subject: Re: Jadwal rapat
Message-ID: <jadwal.2@dinas.example.go.id>
Content-Type: text/plain; charset="us-ascii"

Baik, terima kasih.

--{dig}--

--{mixed}
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0
Content-Transfer-Encoding: 7bit
Content-Disposition: inline

_______________________________________________
Kominfo-list mailing list

--{mixed}--
""")


def long_header_lines(name):
    rel = "----=_NextPart_000_0012_01DA1B2C.3D4E5F60"
    alt = "----=_NextPart_001_0013_01DA1B2C.3D4E5F60"
    words = " ".join(f"kata{i}" for i in range(150))  # a 900-octet header line
    return head(name, "Baris header panjang", f"""MIME-Version: 1.0
Content-Type: multipart/related; boundary="{rel}"; type="multipart/alternative"; start="<part1.0012@dinas.example.go.id>"

--{rel}
Content-Type: multipart/alternative; boundary="{alt}"; x-description="{words[:700].rstrip()}"
Content-ID: <part1.0012@dinas.example.go.id>

--{alt}
Content-Type: text/plain; charset=us-ascii

Baris header yang panjang tetap sah sampai 998 oktet.
--{alt}
Content-Type: text/html; charset=us-ascii

<p>Baris header yang panjang tetap sah sampai 998 oktet.</p>
--{alt}--

--{rel}
Content-Type: image/gif; name="logo.gif"
Content-ID: <logo.gif@dinas.example.go.id>
Content-Disposition: inline; filename="logo-dinas-komunikasi-dan-informatika-kabupaten-contoh-versi-2026.gif"
Content-Transfer-Encoding: base64

{blob(1200, 8)}
--{rel}--
""")


def html_8bit(name):
    long_line = "<p>" + " ".join(["anggaran — realisasi"] * 30) + "</p>"  # a 700-octet 8-bit line
    return head(name, "HTML 8-bit", f"""MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<!DOCTYPE html>
<html><body>
{long_line}
<p>Trailing spaces stay:</p>   
From here on, a line that starts with "From ".
.
</body></html>
""")


def shapes(inner_signed: bytes):
    """(name, what, bytes) for every shape."""
    text = [
        ("outlook-related", "Outlook: multipart/related type=multipart/alternative, tab folds, inline image",
         outlook_related),
        ("outlook-long-filename", "Outlook: long folded filename=, RFC 2047 name split over lines",
         outlook_long_filename),
        ("thunderbird-mixed", "Thunderbird: preamble, 8-bit format=flowed, RFC 2231 filename*0*= continuations",
         thunderbird_mixed),
        ("thunderbird-alternative", "Thunderbird: multipart/alternative, 8-bit text and HTML, 'From ' line",
         thunderbird_alternative),
        ("apple-alternative", "Apple Mail: alternative, tab folds, commented Mime-Version, QP", apple_alternative),
        ("apple-inline", "Apple Mail: text, inline image, text interleaved in multipart/mixed", apple_inline),
        ("gmail-alternative", "Gmail: alternative, base64 UTF-8 text, QP HTML", gmail_alternative),
        ("gmail-attachment", "Gmail: mixed(alternative, pdf) with Content-ID and X-Attachment-Id", gmail_attachment),
        ("calendar-invite", "Calendar invitation: text/calendar method=REQUEST 8-bit, RFC 5545 folds, application/ics",
         calendar_invite),
        ("forwarded-7bit", "Forwarded message/rfc822, 7-bit, long Received and DKIM-Signature lines", forwarded_7bit),
        ("forwarded-8bit", "Forwarded message/rfc822 labelled 8bit: raw UTF-8 Subject and body inside",
         forwarded_8bit),
        ("preamble-epilogue-8bit", "Multi-line preambles and epilogues with blank lines, an 8-bit part",
         lambda n: preamble_epilogue(n, True)),
        ("preamble-epilogue-7bit", "Multi-line preambles and epilogues with blank lines, 7-bit only",
         lambda n: preamble_epilogue(n, False)),
        ("long-parameters", "RFC 2231 name*0*= continuations, a 190-octet filename*=, a 990-octet header line",
         long_parameters),
        ("digest", "Mailing-list digest: multipart/digest, a part without Content-Type, 8-bit inside", digest),
        ("long-header-lines", "7-bit only, Content-Type lines of 150 and 780 octets (signed as received)",
         long_header_lines),
        ("html-8bit", "text/html 8-bit with a 700-octet line, trailing spaces, 'From ' and '.' lines", html_8bit),
    ]
    out = [(n, what, crlf(fn(n))) for n, what, fn in text]
    out.append(("forwarded-signed-8bit", "Forwarded signed message (openssl-signed) next to an 8-bit note",
                forwarded_signed("forwarded-signed-8bit", inner_signed, True)))
    out.append(("forwarded-signed-7bit", "Forwarded signed message (openssl-signed), all 7-bit",
                forwarded_signed("forwarded-signed-7bit", inner_signed, False)))
    return out


def generate(outdir: str, inner_path: str) -> int:
    inner = re.sub(rb"\r?\n", b"\r\n", open(inner_path, "rb").read())
    if not inner.endswith(b"\r\n"):
        inner += b"\r\n"
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "MANIFEST"), "w") as manifest:
        for name, what, data in shapes(inner):
            with open(os.path.join(outdir, name + ".eml"), "wb") as f:
                f.write(data)
            manifest.write(f"{name}\t{what}\n")
    return 0


def send(args) -> int:
    opts = {}
    files = []
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        else:
            files.append(args[i])
            i += 1
    s = smtplib.SMTP("127.0.0.1", int(opts["port"]), local_hostname="client.segel-test.example", timeout=120)
    s.ehlo()
    s.login(opts["user"], opts["password"])
    for path in files:
        name = os.path.basename(path)[:-4] if path.endswith(".eml") else os.path.basename(path)
        data = open(path, "rb").read()
        try:
            s.sendmail(opts["from"], [opts["to"]], data, mail_options=["BODY=8BITMIME"])
            code, reply = 250, "queued"
        except smtplib.SMTPResponseException as e:
            code, reply = e.smtp_code, e.smtp_error.decode(errors="replace")
            s.rset()
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = 0, str(e)
        print(f"{name}\t{code}\t{' '.join(reply.split())}", flush=True)
    s.quit()
    return 0


def leaves(msg):
    """(media type, decoded content) of every leaf part, depth first (message/rfc822 entered)."""
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        out.append((part.get_content_type(), payload if payload is not None else b""))
    return out


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def signed_entity(data: bytes):
    msg = parse(data)
    if msg.get_content_type() != "multipart/signed":
        raise SystemExit(f"not multipart/signed but {msg.get_content_type()}")
    return msg.get_payload(0)


def compare(sent_path: str, received_path: str) -> int:
    sent = leaves(parse(open(sent_path, "rb").read()))
    got = leaves(signed_entity(open(received_path, "rb").read()))
    problems = []
    if len(sent) != len(got):
        problems.append(f"{len(sent)} leaf parts sent, {len(got)} signed")
    for k, ((t1, c1), (t2, c2)) in enumerate(zip(sent, got)):
        if t1 != t2:
            problems.append(f"leaf {k}: sent {t1}, signed {t2}")
        elif c1 != c2:
            at = next((j for j in range(min(len(c1), len(c2))) if c1[j] != c2[j]), min(len(c1), len(c2)))
            problems.append(f"leaf {k} ({t1}): {len(c1)} octets sent, {len(c2)} signed, first difference at {at}: "
                            f"{c1[at:at + 20]!r} / {c2[at:at + 20]!r}")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


def raw_parts(entity: bytes):
    """Raw bytes of each part of a multipart entity (RFC 2046 5.1.1), with its media type."""
    head_end = entity.find(b"\r\n\r\n")
    head = entity[:head_end + 2] if head_end >= 0 else entity
    body = entity[head_end + 4:] if head_end >= 0 else b""
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", head)
    m = re.search(rb"^content-type:\s*([^;\r\n]+)(.*)$", unfolded, re.I | re.M)
    ctype = m.group(1).strip().lower() if m else b"text/plain"
    params = m.group(2) if m else b""
    return ctype, params, body


def inner_signed(received_path: str, outdir: str) -> int:
    data = open(received_path, "rb").read()
    # The signed entity: the bytes between the first two delimiters of the multipart/signed.
    ctype, params, body = raw_parts(data)
    boundary = re.search(rb'boundary="?([^";\r\n]+)"?', params, re.I).group(1)
    marks = list(re.finditer(rb"(?:^|\r\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|$)", body))
    found = []

    def walk(entity: bytes):
        ctype, params, body = raw_parts(entity)
        if ctype.startswith(b"multipart/"):
            b = re.search(rb'boundary="?([^";\r\n]+)"?', params, re.I).group(1)
            ms = list(re.finditer(rb"(?:^|\r\n)--" + re.escape(b) + rb"(--)?[ \t]*(?:\r\n|$)", body))
            for a, z in zip(ms, ms[1:]):
                if a.group(1):
                    break
                walk(body[a.end():z.start()])
        elif ctype == b"message/rfc822":
            inner_type, _, _ = raw_parts(body)
            if inner_type in (b"multipart/signed", b"application/pkcs7-mime", b"application/x-pkcs7-mime"):
                found.append(body)
            else:
                walk(body)

    walk(body[marks[0].end():marks[1].start()])
    os.makedirs(outdir, exist_ok=True)
    for k, inner in enumerate(found):
        path = os.path.join(outdir, f"inner-{k}.eml")
        with open(path, "wb") as f:
            f.write(inner if inner.endswith(b"\r\n") else inner + b"\r\n")
        print(path)
    return 0


def main(argv) -> int:
    if len(argv) >= 3 and argv[1] == "generate":
        inner = argv[argv.index("--inner-signed") + 1] if "--inner-signed" in argv else None
        if inner is None:
            print(__doc__, file=sys.stderr)
            return 64
        return generate(argv[2], inner)
    if len(argv) >= 3 and argv[1] == "send":
        return send(argv[2:])
    if len(argv) == 4 and argv[1] == "compare":
        return compare(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "inner-signed":
        return inner_signed(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
