#!/usr/bin/env python3
"""report.py RAW.jsonl OUT.json OUT.md [NOTE...] — turns the benchmark runs into tables.

Each line of RAW is one run printed by segel-bench-limit, segel-bench-milterload or the e2e
loop of bench/bench-lib.sh, labelled "VARIANT|SHAPE|KEY" (e2e: "e2e|VARIANT|SHAPE|KEY").
Writes OUT.json (machine, runs, headline, targets, notes) and OUT.md (Markdown tables), and
prints the Markdown with the headline last.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SHAPES = ["2kb", "50kb", "1mb", "20mb"]
KEYS = {"rsa": "RSA-2048", "ec": "EC P-256"}
# name: (operator, target); None: reported without a target.
TARGETS = {
    "sign_overhead_2kb": ("<=", 1.25),
    "sign_overhead_50kb": ("<=", 1.25),
    "sign_overhead_2kb_ec": ("<=", 1.5),
    "sign_overhead_50kb_ec": ("<=", 1.5),
    "sign_encrypt_overhead_2kb": ("<=", 1.5),
    "decrypt_verify_overhead_2kb": ("<=", 1.5),
    "e2e_milter_overhead_2kb": ("<=", 1.3),
    "e2e_vs_noop": None,
    "e2e_vs_opendkim": (">=", 1.5),
    "large_mb_s_vs_limit": (">=", 0.6),
    "peak_rss_mb_20mb_x4": ("<", 64.0),
}
EXPLAIN = {
    "sign_overhead_2kb": "(segel − noop milter CPU/msg) ÷ limit CPU/msg, 2 KB, RSA-2048, concurrency 2",
    "sign_overhead_50kb": "(segel − noop milter CPU/msg) ÷ limit CPU/msg, 50 KB, RSA-2048, concurrency 2",
    "sign_overhead_2kb_ec": "(segel − noop milter CPU/msg) ÷ limit CPU/msg, 2 KB, EC P-256, concurrency 2",
    "sign_overhead_50kb_ec": "(segel − noop milter CPU/msg) ÷ limit CPU/msg, 50 KB, EC P-256, concurrency 2",
    "sign_encrypt_overhead_2kb": "(segel − noop milter CPU/msg) ÷ sign+encrypt limit CPU/msg, 2 KB, RSA-2048, "
                                 "concurrency 2",
    "decrypt_verify_overhead_2kb": "(segel − noop milter CPU/msg) ÷ decrypt+verify limit CPU/msg, 2 KB signed "
                                   "and encrypted, RSA-2048, concurrency 2",
    "e2e_milter_overhead_2kb": "end to end: (segel − noop milter CPU/msg) ÷ signing limit CPU/msg (measured in "
                               "the same round), 2 KB, RSA-2048",
    "e2e_vs_noop": "Postfix+segel msgs/s ÷ Postfix+noop milter msgs/s, 2 KB, RSA-2048",
    "e2e_vs_opendkim": "Postfix+segel msgs/s ÷ Postfix+OpenDKIM msgs/s, 2 KB, RSA-2048",
    "large_mb_s_vs_limit": "segel milter-alone MB/s ÷ limit MB/s, 20 MB, RSA-2048, concurrency 2",
    "peak_rss_mb_20mb_x4": "segel-milter peak RSS (VmHWM), four 20 MB messages in flight",
}
# The paths of the milter-alone overhead ratios: (limit variant, segel variant, noop variant).
PATHS = {
    "sign": ("limit", "segel", "noop"),
    "sign+encrypt": ("limit-sign+encrypt", "sign+encrypt", "noop-sign+encrypt"),
    "decrypt+verify": ("limit-decrypt+verify", "decrypt+verify", "noop-decrypt+verify"),
}


def machine():
    def first(path, key):
        try:
            for line in open(path):
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return ""
    def run(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""
    return {
        "host": platform.node(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gb": round(int(first("/proc/meminfo", "MemTotal").split()[0]) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "openssl": run("openssl", "version"),
        "postfix": run("postconf", "-h", "mail_version"),
        "commit": run("git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_at_end": os.getloadavg()[0],
    }


# Hostile inbound: each shape against the benign message of the same size (bench/make-hostile.py);
# the CMS shapes also against the benign message of their own kind.
HOSTILE_OWN_KIND = {"signers": "benign-signed", "certs": "benign-signed", "recipients": "benign-encrypted"}
HOSTILE_TARGET = ("peak RSS <= 64 MB + 2 x the message size (every shape); the milter's CPU time per message "
                  "<= 3 x the benign message's (the hostile shapes; latency is shown too, but on a shared machine it "
                  "measures the other load as much as segel)")


def hostile_section(runs, md, f):
    rows = [x for x in runs if x["label"].startswith("hostile|")]
    if not rows:
        return None
    by = {tuple(x["label"].split("|")[1:3]): x for x in rows}
    noop = {tuple(x["label"].split("|")[1:3]): x for x in runs if x["label"].startswith("hostile-noop|")}
    md.append("\n## Hostile inbound (milter alone)\n")
    md.append("Inbound mail built to hurt the gateway (bench/make-hostile.py), from an outside client to siti, "
              "through a fresh segel-milter per shape (default inbound.limits; siti's key held, so encrypted mail "
              "is decrypted). Target: " + HOSTILE_TARGET + " (× benign = this shape ÷ `benign` of the same "
              "size; the CMS shapes also ÷ the benign signed or encrypted message, in brackets). RSS after = what "
              "the daemon holds once the last message is done. × noop (the top-* shapes, whose every header "
              "field is a milter packet of its own) = this shape's CPU ÷ that of a milter that does nothing "
              "(bench/noop_milter.cpp) receiving the same packets: the protocol's floor. Verdict = our "
              "Authentication-Results or X-Segel-Decryption for the first message.\n")
    md.append("| shape | MB | CPU ms/msg | × benign | × noop | p50 ms | × benign | peak RSS MB | RSS limit MB | RSS after MB | met | verdict |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    out = []
    all_met = True
    for r in rows:
        _, shape, size = r["label"].split("|")
        mb = r["message_bytes"] / 1048576
        base = by.get(("benign", size))
        own = by.get((HOSTILE_OWN_KIND.get(shape, ""), size))
        def x(field, ref):
            return round(r[field] / ref[field], 2) if ref and ref[field] > 0 else None
        cpu_x, p50_x = x("daemon_cpu_ms_per_msg", base), x("latency_ms_p50", base)
        cpu_own, p50_own = x("daemon_cpu_ms_per_msg", own), x("latency_ms_p50", own)
        floor = noop.get((shape, size))
        cpu_noop = x("daemon_cpu_ms_per_msg", floor)
        limit = 64 + 2 * mb
        within = lambda *ratios: all(v is None for v in ratios) or any(v is not None and v <= 3 for v in ratios)
        met = r["peak_rss_mb"] <= limit and (shape.startswith("benign") or within(cpu_x, cpu_own))
        all_met = all_met and met
        both = lambda a, b: f(a, 2) + ("" if b is None else f" ({b:.2f})")
        verdict = r.get("verdict", "").replace("|", "/")
        md.append(f"| {shape} | {mb:.1f} | {r['daemon_cpu_ms_per_msg']:.1f} | {both(cpu_x, cpu_own)} | {f(cpu_noop, 2)} | "
                  f"{r['latency_ms_p50']:.1f} | {both(p50_x, p50_own)} | {r['peak_rss_mb']:.1f} | {limit:.0f} | "
                  f"{f(r.get('rss_after_mb'))} | {'yes' if met else 'NO'} | {verdict[:160]} |")
        out.append({"shape": shape, "size": size, "message_mb": round(mb, 2), "cpu_ms_per_msg": r["daemon_cpu_ms_per_msg"],
                    "latency_ms_p50": r["latency_ms_p50"], "peak_rss_mb": r["peak_rss_mb"],
                    "rss_after_mb": r.get("rss_after_mb"), "rss_limit_mb": round(limit, 1), "cpu_x_benign": cpu_x,
                    "latency_x_benign": p50_x, "cpu_x_own_kind": cpu_own, "latency_x_own_kind": p50_own,
                    "cpu_x_noop_milter": cpu_noop,
                    "noop_cpu_ms_per_msg": floor["daemon_cpu_ms_per_msg"] if floor else None,
                    "met": met, "verdict": r.get("verdict", "")})
    md.append(f"\nHostile target met for every shape: {'yes' if all_met else 'NO'}.")
    return {"target": HOSTILE_TARGET, "met": all_met, "rows": out}


def key_of(r):
    parts = r["label"].split("|")
    return tuple(parts) + (r["concurrency"],)


def main():
    raw, out_json, out_md = sys.argv[1:4]
    notes = sys.argv[4:]
    runs = [json.loads(line) for line in open(raw) if line.strip()]
    # Repeated runs (rounds) of the same label and concurrency: the median of every number.
    groups = {}
    for r in runs:
        groups.setdefault(key_of(r), []).append(r)
    idx = {}
    for k, rs in groups.items():
        merged = dict(rs[0])
        for field, v in rs[0].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                merged[field] = statistics.median(x[field] for x in rs)
        merged["rounds"] = len(rs)
        idx[k] = merged

    def get(label, c):
        return idx.get(tuple(label.split("|")) + (c,))

    def ratio(a, b):
        return round(a / b, 3) if a is not None and b not in (None, 0) else None

    def rounds(label, c):
        """Every run of a label at a concurrency, in the order they ran."""
        return [x for x in runs if x["label"] == label and x["concurrency"] == c and x["kind"] != "e2e"]

    # The headline rows run at concurrency 2; the smoke run has concurrency 1 only, and its
    # ratios (one round, two messages: meaningless as numbers) are taken there instead.
    # (Decided by the milter-alone runs — signing, or only encryption with --only encrypt: the
    # end-to-end rounds' signing limit runs with two threads in every mode, the callgrind run
    # included.)
    hc = 2 if any(r["concurrency"] == 2 and r["kind"] == "milter" for r in runs) else 1

    def labelled(label):
        """Every run of a label, in the order they ran (end to end: one per round)."""
        return [x for x in runs if x["label"] == label]

    # Headline ratios are paired: each round measures limit, segel and the no-op milter back to
    # back, so a ratio is taken per round and the median of those is reported. (Medians taken per
    # column would pair numbers from different rounds, minutes apart on a VM whose speed drifts.)
    def excess_rounds(limits, noops, *costs, field="daemon_cpu_ms_per_msg"):
        """Per round: (the sum of @p costs − the no-op milter's) ÷ the limit, in @p field."""
        out = []
        for l, n, *cs in zip(limits, noops, *costs):
            if l.get(field, 0) > 0 and field in n and all(field in c for c in cs):
                out.append(round((sum(c[field] for c in cs) - n[field]) / l[field], 3))
        return out

    def overhead_rounds(path, shape, key="rsa", field="daemon_cpu_ms_per_msg"):
        ls, ss, ns = (rounds(f"{v}|{shape}|{key}", hc) for v in PATHS[path])
        return excess_rounds(ls, ns, ss, field=field)

    def large_rounds():
        ls, ss = rounds("limit|20mb|rsa", hc), rounds("segel|20mb|rsa", hc)
        return [round(s["mb_per_s"] / l["mb_per_s"], 3) for l, s in zip(ls, ss) if l["mb_per_s"] > 0]

    def e2e_of(variant):
        return labelled(f"e2e|{variant}|2kb|rsa")

    def e2e_rounds(other):
        return [round(a["msgs_per_s"] / b["msgs_per_s"], 3)
                for a, b in zip(e2e_of("segel"), e2e_of(other)) if b["msgs_per_s"] > 0]

    def e2e_milter_rounds(field="daemon_cpu_ms_per_msg"):
        """(segel − noop milter CPU/msg end to end) ÷ the signing limit measured in the same round."""
        return excess_rounds(labelled("limit-e2e|2kb|rsa"), e2e_of("noop"), e2e_of("segel"), field=field)

    def median(values):
        return round(statistics.median(values), 3) if values else None

    def overhead(path, shape, key="rsa"):  # the same ratio from the per-column medians, for comparison
        l, s, n = (get(f"{v}|{shape}|{key}", hc) for v in PATHS[path])
        if not (s and n and l):
            return None
        return ratio(s["daemon_cpu_ms_per_msg"] - n["daemon_cpu_ms_per_msg"], l["daemon_cpu_ms_per_msg"])

    # Floors: what a milter that signs as issue 2 asks (the self-check verifies every signature)
    # cannot go below on this machine, from runs made in the same rounds — the signature with that
    # verification (segel-bench-limit --path sign+check) and a milter that only sends the message
    # back with a changed Content-Type (segel-noop-milter --echo). For an overhead ratio:
    # (sign+check + echo − noop) ÷ limit. Throughput bounds (the machine's cores are saturated by
    # the milter and what feeds it): a message costs at least the echo run's machine CPU plus the
    # signature's.
    cores = os.cpu_count() or 1

    def floor_rounds(shape, key):
        ls, cs, es, ns = (rounds(f"{v}|{shape}|{key}", hc) for v in ("limit", "limit-check", "echo", "noop"))
        return excess_rounds(ls, ns, cs, es)

    def large_floor_rounds():
        ls, cs, es = (rounds(f"{v}|20mb|rsa", hc) for v in ("limit", "limit-check", "echo"))
        out = []
        for l, c, e in zip(ls, cs, es):
            per_msg = e["machine_cpu_ms_per_msg"] + c["daemon_cpu_ms_per_msg"]
            if per_msg > 0 and l["mb_per_s"] > 0:
                out.append(round(cores * 1000 / per_msg * e["message_bytes"] / 1e6 / l["mb_per_s"], 3))
        return out

    # End to end the floor is measured whole where the run has it: the signing echo milter
    # (segel-noop-milter --sign: the body back with a signature made and checked as sign+check
    # does) beside Postfix, where the cryptography shares the cores with the MTA's processes.
    # Without it (older runs), composed as alone: sign+check in-process + the echo milter.
    def e2e_floor_rounds():
        if e2e_of("signer"):
            return excess_rounds(labelled("limit-e2e|2kb|rsa"), e2e_of("noop"), e2e_of("signer"))
        return excess_rounds(labelled("limit-e2e|2kb|rsa"), e2e_of("noop"), labelled("limit-check-e2e|2kb|rsa"),
                             e2e_of("echo"))

    def opendkim_floor_rounds():  # an upper bound: Postfix+OpenDKIM's machine CPU ÷ the floor's
        if e2e_of("signer"):
            return [round(d["machine_cpu_ms_per_msg"] / g["machine_cpu_ms_per_msg"], 3)
                    for g, d in zip(e2e_of("signer"), e2e_of("opendkim")) if g["machine_cpu_ms_per_msg"] > 0]
        return [round(d["machine_cpu_ms_per_msg"] / (e["machine_cpu_ms_per_msg"] + c["daemon_cpu_ms_per_msg"]), 3)
                for c, e, d in zip(labelled("limit-check-e2e|2kb|rsa"), e2e_of("echo"), e2e_of("opendkim"))
                if e["machine_cpu_ms_per_msg"] + c["daemon_cpu_ms_per_msg"] > 0]

    floor_per_round = {
        "sign_overhead_2kb": floor_rounds("2kb", "rsa"),
        "sign_overhead_50kb": floor_rounds("50kb", "rsa"),
        "sign_overhead_2kb_ec": floor_rounds("2kb", "ec"),
        "sign_overhead_50kb_ec": floor_rounds("50kb", "ec"),
        "e2e_milter_overhead_2kb": e2e_floor_rounds(),
        "e2e_vs_opendkim": opendkim_floor_rounds(),
        "large_mb_s_vs_limit": large_floor_rounds(),
    }
    floors = {name: median(v) for name, v in floor_per_round.items() if v}

    large_s, large_l = get("segel|20mb|rsa", hc), get("limit|20mb|rsa", hc)
    x4 = [x for x in runs if x["label"] == "segel-x4|20mb|rsa"]
    per_round = {
        "sign_overhead_2kb": overhead_rounds("sign", "2kb"),
        "sign_overhead_50kb": overhead_rounds("sign", "50kb"),
        "sign_overhead_2kb_ec": overhead_rounds("sign", "2kb", "ec"),
        "sign_overhead_50kb_ec": overhead_rounds("sign", "50kb", "ec"),
        "sign_encrypt_overhead_2kb": overhead_rounds("sign+encrypt", "2kb"),
        "decrypt_verify_overhead_2kb": overhead_rounds("decrypt+verify", "2kb"),
        "e2e_milter_overhead_2kb": e2e_milter_rounds(),
        "e2e_vs_noop": e2e_rounds("noop"),
        "e2e_vs_opendkim": e2e_rounds("opendkim"),
        "large_mb_s_vs_limit": large_rounds(),
    }
    of_medians = {
        "sign_overhead_2kb": overhead("sign", "2kb"),
        "sign_overhead_50kb": overhead("sign", "50kb"),
        "sign_overhead_2kb_ec": overhead("sign", "2kb", "ec"),
        "sign_overhead_50kb_ec": overhead("sign", "50kb", "ec"),
        "sign_encrypt_overhead_2kb": overhead("sign+encrypt", "2kb"),
        "decrypt_verify_overhead_2kb": overhead("decrypt+verify", "2kb"),
        "large_mb_s_vs_limit": ratio(large_s and large_s["mb_per_s"], large_l and large_l["mb_per_s"]),
    }
    headline = {name: median(values) for name, values in per_round.items()}
    headline["peak_rss_mb_20mb_x4"] = round(x4[0]["peak_rss_mb"], 1) if x4 else None
    headline = {name: headline.get(name) for name in TARGETS}  # the documented order

    # scripts/bench --callgrind: instructions per message (load-independent), same ratios.
    counted = [r for r in runs if "instructions_per_msg" in r]
    instr_headline = {}
    if counted:
        for name, (path, shape, key) in {
                "sign_overhead_2kb": ("sign", "2kb", "rsa"), "sign_overhead_50kb": ("sign", "50kb", "rsa"),
                "sign_overhead_2kb_ec": ("sign", "2kb", "ec"), "sign_overhead_50kb_ec": ("sign", "50kb", "ec"),
                "sign_encrypt_overhead_2kb": ("sign+encrypt", "2kb", "rsa"),
                "decrypt_verify_overhead_2kb": ("decrypt+verify", "2kb", "rsa")}.items():
            instr_headline[name] = median(overhead_rounds(path, shape, key, "instructions_per_msg"))
        instr_headline["e2e_milter_overhead_2kb"] = median(e2e_milter_rounds("instructions_per_msg"))
    md = []
    md.append("## Milter alone and the limit\n")
    md.append("Per message: CPU of the signing process (limit: in-process; milters: the daemon, from "
              "/proc/PID/stat), latency = MAIL sent → final reply (limit: one CMS signature). Rows measured "
              "in several rounds (RSA-2048, concurrency 2) show the median.\n")
    md.append("| key | shape | conc | limit msg/s | segel msg/s | noop msg/s | limit MB/s | segel MB/s | "
              "limit CPU ms | segel CPU ms | noop CPU ms | segel p50 ms | segel p99 ms | noop p50 ms | "
              "segel RSS MB |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    f = lambda v, p=1: "–" if v is None else f"{v:.{p}f}"
    header_lines = len(md)
    for key in KEYS:
        for shape in SHAPES:
            for c in (1, 2, 8):
                l, s, n = get(f"limit|{shape}|{key}", c), get(f"segel|{shape}|{key}", c), get(f"noop|{shape}|{key}", c)
                if not (l or s or n):
                    continue
                g = lambda r, k: r[k] if r else None
                md.append(f"| {KEYS[key]} | {shape} | {c} | {f(g(l,'msgs_per_s'))} | {f(g(s,'msgs_per_s'))} | "
                          f"{f(g(n,'msgs_per_s'))} | {f(g(l,'mb_per_s'))} | {f(g(s,'mb_per_s'))} | "
                          f"{f(g(l,'daemon_cpu_ms_per_msg'),3)} | {f(g(s,'daemon_cpu_ms_per_msg'),3)} | "
                          f"{f(g(n,'daemon_cpu_ms_per_msg'),3)} | {f(g(s,'latency_ms_p50'),2)} | "
                          f"{f(g(s,'latency_ms_p99'),2)} | {f(g(n,'latency_ms_p50'),2)} | {f(g(s,'peak_rss_mb'))} |")
    if len(md) == header_lines:  # no milter-alone run (scripts/bench --only encrypt): no empty table
        md.clear()
    if x4:
        r = x4[0]
        md.append(f"\nFour 20 MB messages in flight (RSA-2048, concurrency 4): {r['mb_per_s']:.1f} MB/s, "
                  f"p50 {r['latency_ms_p50']:.0f} ms, segel-milter peak RSS {r['peak_rss_mb']:.1f} MB.")
    # One table per path of signed or encrypted mail through the milter alone. "msg KB" is what the
    # MTA sent to the milter (MB/s counts it): for verify and decrypt+verify that is the signed or
    # encrypted message, larger than the shape it was made from. sign+encrypt and decrypt+verify
    # have their own limit (segel-bench-limit --path) and no-op milter runs beside them.
    for path, title, what in (
            ("verify", "Verify path (signed mail in, milter alone)",
             "Signed mail from an external client to an official recipient; segel verifies it and adds "
             "Authentication-Results."),
            ("sign+encrypt", "Sign+encrypt (outbound to a partner with a certificate, milter alone)",
             "siti's mail (RSA-2048) to a partner whose certificate segel has (policy required): signed, "
             "then encrypted to the partner and siti (AES-256-CBC, RSA key transport). Limit: CMS_sign, "
             "then CMS_encrypt of the message and its signature to the same two certificates."),
            ("decrypt+verify", "Decrypt+verify (signed and encrypted mail in, milter alone)",
             "The partner's mail, signed and encrypted to siti with openssl cms: segel decrypts it with "
             "siti's key and verifies the signature inside (X-Segel-Decryption, Authentication-Results). "
             "Limit: CMS_decrypt of the same DER, then CMS_verify of the signature inside (decoded once).")):
        rows = [x for x in runs if x["label"].startswith(path + "|")]
        if not rows:
            continue
        seen = set()
        md.append(f"\n## {title}\n")
        md.append(f"{what} msg KB = the message the MTA sends to the milter; MB/s counts it. Rows measured "
                  "in several rounds show the median.\n")
        md.append("| shape | msg KB | conc | limit msg/s | msg/s | noop msg/s | MB/s | limit CPU ms | CPU ms/msg | "
                  "noop CPU ms | p50 ms | p99 ms | RSS MB |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            shape = r["label"].split("|")[1]
            if (shape, r["concurrency"]) in seen:
                continue
            seen.add((shape, r["concurrency"]))
            m = get(r["label"], r["concurrency"])
            l = get(f"limit-{path}|{shape}|rsa", r["concurrency"])
            n = get(f"noop-{path}|{shape}|rsa", r["concurrency"])
            g = lambda x, k: x[k] if x else None
            md.append(f"| {shape} | {m['message_bytes'] / 1024:.1f} | {m['concurrency']} | "
                      f"{f(g(l, 'msgs_per_s'))} | {m['msgs_per_s']:.1f} | {f(g(n, 'msgs_per_s'))} | "
                      f"{m['mb_per_s']:.1f} | {f(g(l, 'daemon_cpu_ms_per_msg'), 3)} | "
                      f"{m['daemon_cpu_ms_per_msg']:.3f} | {f(g(n, 'daemon_cpu_ms_per_msg'), 3)} | "
                      f"{m['latency_ms_p50']:.2f} | {m['latency_ms_p99']:.2f} | "
                      f"{f(m['peak_rss_mb'] if m.get('peak_rss_mb', -1) >= 0 else None)} |")
    keys = [x for x in runs if x["label"].startswith("keys|")]
    if keys:
        md.append("\n## Keys in a token, and time-stamps (milter alone, 2 KB)\n")
        md.append("Signing through a SoftHSM2 token (siti's RSA-2048 key imported; an EC P-256 key made in the "
                  "token), the same token behind `p11-kit server` (p11-kit-client.so, a unix socket to another "
                  "process), and siti's key file with an RFC 3161 time-stamp from a TSA on 127.0.0.1 "
                  "(`openssl ts -reply`, one process per request), beside the key file alone. "
                  "added p50 = minus the file-rsa run at the same concurrency.\n")
        md.append("| key | conc | msg/s | CPU ms/msg | p50 ms | p99 ms | added p50 ms |")
        md.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in keys:
            base = [x for x in keys if x["label"] == "keys|2kb|file-rsa" and x["concurrency"] == r["concurrency"]]
            added = r["latency_ms_p50"] - base[0]["latency_ms_p50"] if base else None
            md.append(f"| {r['label'].split('|')[2]} | {r['concurrency']} | {r['msgs_per_s']:.1f} | "
                      f"{r['daemon_cpu_ms_per_msg']:.3f} | {r['latency_ms_p50']:.2f} | {r['latency_ms_p99']:.2f} | "
                      f"{f(added)} |")
    hostile = hostile_section(runs, md, f)
    if counted:
        md.append("\n## Instructions per message (callgrind)\n")
        md.append("Counted by callgrind over the measured messages only (after warm-up), concurrency 1: "
                  "load-independent, unlike CPU time. valgrind hides AVX-512 from OpenSSL, so RSA runs its "
                  "generic code here and weighs more than natively. overhead = (segel − noop) ÷ limit.\n")
        md.append("| path | key | shape | limit M instr | segel M instr | noop M instr | overhead |")
        md.append("|---|---|---|---:|---:|---:|---:|")
        for path, (lv, sv, nv) in PATHS.items():
            for key in KEYS:
                for shape in SHAPES:
                    l, s_, n = (get(f"{v}|{shape}|{key}", hc) for v in (lv, sv, nv))
                    if not s_ or "instructions_per_msg" not in s_:
                        continue
                    i = lambda x: x["instructions_per_msg"] / 1e6 if x and "instructions_per_msg" in x else None
                    o = ratio(i(s_) - i(n), i(l)) if i(l) and i(n) is not None else None
                    md.append(f"| {path} | {KEYS[key]} | {shape} | {f(i(l), 3)} | {f(i(s_), 3)} | {f(i(n), 3)} | "
                              f"{f(o, 3)} |")
        v = get("verify|2kb|rsa", hc)
        if v and "instructions_per_msg" in v:
            md.append(f"\nVerify path, 2 KB signed: segel {v['instructions_per_msg'] / 1e6:.3f} M instructions "
                      "per message.")
        es, en = (next((x for x in runs if x["label"] == f"e2e|{v}|2kb|rsa" and "instructions_per_msg" in x), None)
                  for v in ("segel", "noop"))
        alone = get("segel|2kb|rsa", hc)
        if es and en:
            md.append(f"\nEnd to end through Postfix, 2 KB RSA-2048 (one SMTP session and milter connection per "
                      f"message): segel {es['instructions_per_msg'] / 1e6:.3f} M instructions per message, the no-op "
                      f"milter {en['instructions_per_msg'] / 1e6:.3f} M"
                      + (f"; milter alone segel {alone['instructions_per_msg'] / 1e6:.3f} M." if alone else "."))
    e2es = [x for x in runs if x["kind"] == "e2e"]
    if e2es:
        md.append("\n## End to end: smtp-source → Postfix → smtp-sink\n")
        md.append("Latency = the first field of Postfix's `delays=` (arrival → in the incoming queue: "
                  "SMTP transfer, cleanup and the milter); added = minus the no-milter Postfix. The relay is "
                  "saturated (8 sessions, as fast as it goes), so Postfix's flow control also lands here. CPU per message: the milter daemon and the whole machine.\n")
        md.append("| variant | shape | sessions | msg/s | MB/s | p50 ms | p99 ms | added p50 ms | added p99 ms | "
                  "milter CPU ms | machine CPU ms | milter RSS MB |")
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in e2es:
            _, variant, shape, _ = r["label"].split("|")
            base = [x for x in e2es if x["label"] == f"e2e|none|{shape}|rsa"]
            b50 = base[0]["latency_ms_p50"] if base else None
            b99 = base[0]["latency_ms_p99"] if base else None
            md.append(f"| {variant} | {shape} | {r['concurrency']} | {r['msgs_per_s']:.1f} | {r['mb_per_s']:.2f} | "
                      f"{r['latency_ms_p50']:.1f} | {r['latency_ms_p99']:.1f} | "
                      f"{f(None if b50 is None else r['latency_ms_p50'] - b50)} | "
                      f"{f(None if b99 is None else r['latency_ms_p99'] - b99)} | "
                      f"{f(r['daemon_cpu_ms_per_msg'] if variant != 'none' else None, 3)} | "
                      f"{r['machine_cpu_ms_per_msg']:.3f} | "
                      f"{f(r['peak_rss_mb'] if r['peak_rss_mb'] >= 0 else None)} |")
    if notes:
        md.append("\n## Notes\n")
        md.extend(f"- {n}" for n in notes)
    if floors:
        md.append("\n## Floors (what a signing milter cannot go below here)\n\n"
                  "Measured in the same rounds as the headline: `sign+check` = the signature and the "
                  "self-check's verification of it (issue 2: every signed message is verified before it "
                  "leaves), in-process; `echo` = a milter that keeps the body and sends it back with a changed "
                  "Content-Type (segel-noop-milter --echo), no MIME work, no cryptography. An overhead ratio's "
                  "floor is (sign+check + echo − noop) ÷ limit; end to end it is measured whole, where the run "
                  "has it: `signer` = the echo milter that also signs and checks each body as sign+check does "
                  "(segel-noop-milter --sign), beside Postfix, (signer − noop) ÷ limit. e2e_vs_opendkim's and "
                  "large_mb_s_vs_limit's are upper bounds, from the machine CPU of the signer run (or of the "
                  "echo run plus the sign+check CPU per message) "
                  f"({cores} cores saturated). A target beyond its floor cannot be met on this machine by any "
                  "milter that signs and self-checks. Per round: " +
                  "; ".join(f"`{k}` {v}" for k, v in floor_per_round.items() if v) + ".")
    if any(per_round.values()):
        md.append("\n## How the headline ratios are taken\n\nEach ratio is the median of per-round ratios (the limit, segel and the no-op milter are "
                  "measured back to back in each round; end to end, each round runs every variant once). "
                  "Per round: " + "; ".join(f"`{k}` {v}" for k, v in per_round.items() if v) + ". "
                  "The same ratios from per-column medians: " +
                  ", ".join(f"`{k}` {v}" for k, v in of_medians.items() if v is not None) + ".")
    md.append("\n## Headline (targets: same machine, same run)\n")
    md.append("| name | value | target | met | floor | what |")
    md.append("|---|---:|---|---|---:|---|")
    verdicts = {}
    for name, value in headline.items():
        target = TARGETS[name]
        met = None
        if target is not None and value is not None:
            op, t = target
            met = value <= t if op == "<=" else value >= t if op == ">=" else value < t
        verdicts[name] = met
        md.append(f"| `{name}` | {'not measured' if value is None else value} | "
                  f"{'none' if target is None else f'{target[0]} {target[1]}'} | "
                  f"{'–' if met is None else 'yes' if met else 'NO'} | {floors.get(name, '–')} | {EXPLAIN[name]} |")

    doc = {"machine": machine(), "headline": headline, "headline_rounds": per_round, "hostile": hostile,
           "headline_of_column_medians": of_medians, "headline_concurrency": hc,
           "targets": {k: None if t is None else f"{t[0]} {t[1]}" for k, t in TARGETS.items()},
           "met": verdicts, "floors": floors, "floors_rounds": floor_per_round, "notes": notes, "runs": runs}
    if instr_headline:
        doc["headline_instructions"] = instr_headline
    with open(out_json, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    text = "\n".join(md) + "\n"
    with open(out_md, "w") as fh:
        fh.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
