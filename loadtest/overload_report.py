#!/usr/bin/python3
"""loadtest/overload_report.py: the report of loadtest/overload.sh (stdlib only).

Reads the e2e.json of the overload run (loadtest/e2e.sh in an open loop above capacity) and
prints ONE summary line; writes --out-json and --out-md. The figures: answers by code (per
notification), whether each refused request carried Retry-After, CRITICAL acceptance and
delivery, the API's peak RSS, the reconciliation (nothing accepted lost), and what the API would
need so that it sheds or rate-limits the way docs/ARCHITECTURE.md §7 describes (429/503 + Retry-After, CRITICAL kept).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_report import fmt_s, mb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--e2e", required=True)
    ap.add_argument("--capacity", type=float, required=True)
    ap.add_argument("--factor", type=float, required=True)
    ap.add_argument("--ceiling", type=int, required=True, help="WAVECOM_RATE_GLOBAL_NPS of the run")
    ap.add_argument("--command", default="loadtest/overload.sh")
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-md", required=True)
    args = ap.parse_args()
    e = json.load(open(args.e2e))
    s = e["submit"]
    rec = e["reconciliation"]
    codes = {"201": s.get("created_201", 0), "200": s.get("replayed_200", 0)}
    for code, n in (s.get("refused_by_code") or {}).items():
        codes[code] = codes.get(code, 0) + n
    if s.get("unknown_in_transit"):
        codes["in transit (no answer)"] = s["unknown_in_transit"]
    by_prio = s.get("by_priority") or {}
    crit = by_prio.get("CRITICAL", {})
    crit_lat = (e.get("latency_by_priority") or {}).get("CRITICAL") or {}
    api_peak = max((p["peak_kb"] for p in e["rss"]["processes"] if p["role"] == "api"), default=None)
    refusals = s.get("refused_requests") or {}
    with_ra = refusals.get("with_retry_after", 0)
    without_ra = refusals.get("without_retry_after", 0)
    refused_total = sum((s.get("refused_by_code") or {}).values())
    lag = s.get("open_loop_lag_ms") or {}
    delivered = (e.get("delivered") or {}).get("steady_middle_80") or {}
    # What the run shows about admission, stated from its own figures.
    findings = []
    refused_503 = (s.get("refused_by_code") or {}).get("503", 0)
    if args.ceiling > 0:
        findings.append(f"the global ceiling ({args.ceiling}/s) refused {refused_503:,} notifications "
                        f"with 503; {with_ra} refused requests carried Retry-After, {without_ra} did not")
    else:
        findings.append("no global ceiling (WAVECOM_RATE_GLOBAL_NPS=0): nothing sheds the excess, "
                        "which waits in the client and in RabbitMQ instead")
    if crit.get("refused"):
        findings.append(f"{crit['refused']} CRITICAL notifications were refused")
    else:
        findings.append(f"no CRITICAL notification was refused ({crit.get('accepted', 0)} accepted)")
    if not codes.get("429"):
        findings.append("no 429: per-tenant and per-key limits are off by default "
                        "(WAVECOM_RATE_TENANT_NPS, WAVECOM_RATE_KEY_NPS) and this scenario has one tenant")
    result = {
        "benchmark": "overload",
        "ok": rec["lost"] == 0 and not rec["not_terminal"],
        "command": args.command,
        "date": e["meta"].get("date"),
        "commit": e["meta"].get("commit"),
        "dirty": e["meta"].get("dirty"),
        "capacity_per_s": args.capacity,
        "global_ceiling_per_s": args.ceiling,
        "factor": args.factor,
        "offered_per_s": s.get("rate_target"),
        "offered": s.get("offered"),
        "answers_by_code": codes,
        "refused_requests_retry_after": {"with": with_ra, "without": without_ra},
        "accepted_per_s": s.get("intake_per_s"),
        "submit_seconds": s.get("submit_seconds"),
        "max_requests_in_flight": s.get("concurrency"),
        "request_latency_ms": s.get("request_latency_ms"),
        "open_loop_lag_ms": lag,
        "by_priority": by_prio,
        "critical_created_to_sent": crit_lat,
        "delivered_steady_per_s": delivered.get("per_s"),
        "api_peak_rss_kb": api_peak,
        "reconciliation": {k: rec[k] for k in ("accepted", "sent", "failed", "lost", "not_terminal",
                                               "accepted_equals_sent_plus_failed", "duplicates")},
        "findings": findings,
        "e2e_result": args.e2e,
    }
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=2)
    codes_text = ", ".join(f"{k}: {v:,}" for k, v in codes.items())
    md = [f"### Overload: {args.factor:g}x capacity, {result['date']}\n",
          f"`{args.command}` — commit {result['commit']}{' (with local changes)' if result['dirty'] == '1' else ''}; "
          f"capacity {args.capacity:g}/s (end to end), global ceiling "
          f"{args.ceiling}/s (WAVECOM_RATE_GLOBAL_NPS), offered {s.get('rate_target')}/s open loop for "
          f"{s.get('duration_limit_s')} s, {s.get('batch')} per request; loadtest/e2e.sh underneath "
          f"(private doubles, 200 ms, 5 % transient failures).\n",
          "| figure | value |", "|---|---|",
          f"| offered | {s.get('offered'):,} notifications, scheduled over {s.get('duration_limit_s')} s, "
          f"sent over {s.get('submit_seconds')} s ({s.get('concurrency')} requests in flight at most: "
          f"what the API could not take at once waited in the generator, counted as lag) |",
          f"| answers, per notification | {codes_text} |",
          f"| refused requests with / without Retry-After | {with_ra} / {without_ra} |",
          f"| accepted rate | {s.get('intake_per_s')}/s |",
          f"| request latency p50 / p99 / max (from when due) | "
          f"{fmt_s((s.get('request_latency_ms') or {}).get('p50'))} / "
          f"{fmt_s((s.get('request_latency_ms') or {}).get('p99'))} / "
          f"{fmt_s((s.get('request_latency_ms') or {}).get('max'))} |",
          f"| open-loop lag p99 / max, requests > 1 s late | {fmt_s(lag.get('p99'))} / {fmt_s(lag.get('max'))}, "
          f"{lag.get('late_over_1s')} |",
          f"| CRITICAL offered / accepted / refused | {crit.get('offered', 'n/a')} / {crit.get('accepted', 'n/a')} / "
          f"{crit.get('refused', 'n/a')} |",
          f"| CRITICAL created→sent p50 / p99 / max | {fmt_s(crit_lat.get('p50_ms'))} / "
          f"{fmt_s(crit_lat.get('p99_ms'))} / {fmt_s(crit_lat.get('max_ms'))} |",
          f"| delivered, steady | {delivered.get('per_s', 'n/a')}/s |",
          f"| API peak RSS | {mb(api_peak) if api_peak else 'n/a'} |",
          f"| accepted = SENT + FAILED; lost; duplicates | {rec['accepted']:,} = {rec['sent']:,} + {rec['failed']:,} "
          f"({'yes' if rec['accepted_equals_sent_plus_failed'] else 'NO'}); {rec['lost']}; {rec['duplicates']} |",
          "", "Findings:", ""]
    md += [f"- {n}" for n in findings]
    md.append("")
    with open(args.out_md, "w") as f:
        f.write("\n".join(md))
    print(f"overload {'OK' if result['ok'] else 'FAILED'}: offered {s.get('rate_target')}/s "
          f"({args.factor:g}x {args.capacity:g}/s, scheduled over {s.get('duration_limit_s')} s, sent over "
          f"{s.get('submit_seconds')} s, {s.get('concurrency')} in flight): {codes_text}; "
          f"refusals with Retry-After {with_ra}/{with_ra + without_ra}; CRITICAL accepted "
          f"{crit.get('accepted', 'n/a')}/{crit.get('offered', 'n/a')}, created->sent p99 "
          f"{fmt_s(crit_lat.get('p99_ms'))}; request p99 {fmt_s((s.get('request_latency_ms') or {}).get('p99'))}; "
          f"API peak RSS {mb(api_peak) if api_peak else 'n/a'}; accepted {rec['accepted']:,} = "
          f"{rec['sent']:,} SENT + {rec['failed']:,} FAILED, lost {rec['lost']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
