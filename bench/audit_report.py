#!/usr/bin/env python3
"""audit_report.py RAW.jsonl OUT.json OUT.md: the audit benchmark sections as JSON and a table."""
import json
import statistics
import sys

raw = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
out = {"runs": raw}
md = []
milter = [r for r in raw if str(r.get("label", "")).startswith("audit-")]
e2e = [r for r in raw if str(r.get("label", "")).startswith("e2e|audit-")]
if milter:
    md += ["## The audit trail's cost: segel-milter alone, 2 KB, RSA-2048", "",
           "Median of the rounds. CPU = the daemon's CPU per message; added = against the run without the trail.",
           "", "| trail | conc | msg/s | CPU ms/msg | added CPU | p50 ms | added p50 ms | p99 ms |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    by = {}
    for r in milter:
        variant, _, conc = r["label"].split("|")
        by.setdefault((variant[6:], conc[1:]), []).append(r)
    med = {k: {f: statistics.median(x[f] for x in v) for f in
               ("msgs_per_s", "daemon_cpu_ms_per_msg", "latency_ms_p50", "latency_ms_p99")} for k, v in by.items()}
    out["cost"] = {"%s|%s" % k: v for k, v in med.items()}
    for (variant, conc), m in sorted(med.items(), key=lambda kv: (["none", "full", "normal"].index(kv[0][0]),
                                                                     int(kv[0][1]))):
        base = med.get(("none", conc))
        added_cpu = "%+.1f %%" % (100 * (m["daemon_cpu_ms_per_msg"] / base["daemon_cpu_ms_per_msg"] - 1)) \
            if base and variant != "none" and base["daemon_cpu_ms_per_msg"] > 0 else "–"
        added_p50 = "%+.2f" % (m["latency_ms_p50"] - base["latency_ms_p50"]) if base and variant != "none" else "–"
        md.append("| %s | %s | %.0f | %.3f | %s | %.2f | %s | %.2f |" % (
            variant, conc, m["msgs_per_s"], m["daemon_cpu_ms_per_msg"], added_cpu, m["latency_ms_p50"], added_p50,
            m["latency_ms_p99"]))
    md.append("")
if e2e:
    md += ["## The audit trail's cost end to end: smtp-source -> Postfix -> segel -> smtp-sink, 2 KB, 8 sessions", "",
           "Median of the rounds. Latency: Postfix's first delays= figure (arrival to queued: SMTP, cleanup, the milter).",
           "", "| trail | msg/s | milter CPU ms/msg | added milter CPU | machine CPU ms/msg | p50 ms | added p50 ms | p99 ms |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    by = {}
    for r in e2e:
        by.setdefault(r["label"].split("|")[1][6:], []).append(r)
    med = {k: {f: statistics.median(x[f] for x in v) for f in ("msgs_per_s", "daemon_cpu_ms_per_msg",
           "machine_cpu_ms_per_msg", "latency_ms_p50", "latency_ms_p99")} for k, v in by.items()}
    out["e2e"] = med
    base = med.get("none")
    for variant in ("none", "full", "normal"):
        if variant not in med:
            continue
        m = med[variant]
        ac = "%+.1f %%" % (100 * (m["daemon_cpu_ms_per_msg"] / base["daemon_cpu_ms_per_msg"] - 1)) \
            if base and variant != "none" and base["daemon_cpu_ms_per_msg"] > 0 else "–"
        ap = "%+.1f" % (m["latency_ms_p50"] - base["latency_ms_p50"]) if base and variant != "none" else "–"
        md.append("| %s | %.0f | %.3f | %s | %.3f | %.1f | %s | %.1f |" % (variant, m["msgs_per_s"],
                  m["daemon_cpu_ms_per_msg"], ac, m["machine_cpu_ms_per_msg"], m["latency_ms_p50"], ap,
                  m["latency_ms_p99"]))
    md.append("")
micro = [r for r in raw if r.get("mode") == "append"]
if micro:
    md += ["## Append micro-benchmark (Trail::append, group commit)", "",
           "| sync | appenders | events | events/s | events per commit | CPU µs/event | p50 ms | p99 ms |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in micro:
        md.append("| %s | %d | %d | %.0f | %.1f | %.1f | %.3f | %.3f |" % (
            r["sync"], r["threads"], r["events"], r["events_per_s"], r["events_per_commit"], r["cpu_us_per_event"],
            r["p50_ms"], r["p99_ms"]))
    md.append("")
scale = [r for r in raw if "wall_s" in r]
if scale:
    md += ["## %d events" % scale[0]["events"], "", "| step | wall s | CPU s (segelctl) | machine CPU s |", "|---|---:|---:|---:|"]
    for r in scale:
        machine = r.get("machine_cpu_s")
        md.append("| %s | %.1f | %.1f | %s |" % (r["mode"], r["wall_s"], r["cpu_s"],
                                                "%.1f" % machine if machine is not None else "–"))
    for r in raw:
        if r.get("mode", "").endswith("-size"):
            md.append("")
            md.append("%s: %.0f MB" % (r["mode"], r["bytes"] / 1048576))
    md.append("")
json.dump(out, open(sys.argv[2], "w"), indent=1)
open(sys.argv[3], "w").write("\n".join(md) + "\n")
print("\n".join(md))
