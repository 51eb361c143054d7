"""One suite's section of bench/RESULTS.md, from the rows bench/run.sh collected.

Usage: report.py NAME ROWS_TSV RSS_API_KB RSS_ALL_KB RSS_32_KB SEED_TIME REBUILD_TIME CHECKS_FILE VERIFY_FILE WRITER_TSV CEILINGS_TSV
Rows: label, req/s, p50 ms, p99 ms, errors, target ("rps>=N p99<=M", "ceiling:WORKLOAD", "baseline" or "").
Ceilings: workload, per second, how it was measured.
Writer rows: label, the SQL writer's counters before and after the load (jobs batches
busy-seconds, space-separated), the load's seconds.
"""
import re
import sys

name, rows_path, rss_api_kb, rss_kb, rss32_kb, seed_time, rebuild_time, checks_path, verify_path, writer_path, \
    ceilings_path = sys.argv[1:12]
rows = [line.rstrip("\n").split("\t") for line in open(rows_path) if line.strip()]
minimal = next((float(r[1]) for r in rows if r[0].startswith("minimal")), 0.0)


ceilings = {}
for line in open(ceilings_path):
    if line.strip():
        workload, per_s, how = line.rstrip("\n").split("\t")
        ceilings[workload] = (float(per_s), how)
# A write path's goal: at least this share of its engine's own ceiling in the same run.
CEILING_SHARE = 0.8


def holds(target, rps, p99):
    if not target or target == "baseline" or target.startswith("ceiling:"):
        return ""
    ok = True
    for kind, op, value in re.findall(r"(rps|p99)(>=|<=)([\d.]+)", target):
        got = rps if kind == "rps" else p99
        if got is None:
            return "?"
        ok &= got >= float(value) if op == ">=" else got <= float(value)
    return "yes" if ok else "**no**"


def num(text):
    try:
        return float(text)
    except ValueError:
        return None


rebuild_s = num(rebuild_time.split()[0]) or 0.0
rss_api_mb = int(rss_api_kb or 0) / 1024
rss_mb = int(rss_kb or 0) / 1024
rss32_mb = int(rss32_kb or 0) / 1024
print(f"## {name}\n")
print(f"- seed-bench: {seed_time}")
print(f"- rebuild-redis: {rebuild_time} (target ≤ 15 s: {'yes' if rebuild_s <= 15 else '**no**'})")
print(f"- server peak RSS after the API loads: {rss_api_mb:.0f} MB (target ≤ 150 MB: {'yes' if rss_api_mb <= 150 else '**no**'});"
      f" after 4 concurrent 12 MP uploads as well: {rss_mb:.0f} MB; during 32 concurrent uploads:"
      f" {rss32_mb:.0f} MB (target ≤ 200 MB: {'yes' if 0 < rss32_mb <= 200 else '**no**'})\n")
print("| workload | req/s | × minimal | p50 ms | p99 ms | errors + non-2xx | target | holds |")
print("|---|---:|---:|---:|---:|---:|---|---|")
for label, rps, p50, p99, errors, target in rows:
    if target == "baseline":
        continue
    r = num(rps) or 0.0
    ratio = f"{r / minimal:.3f}" if minimal else "-"
    shown = f"× ceiling ≥ {CEILING_SHARE} (below)" if target.startswith("ceiling:") else target
    print(f"| {label} | {r:,.0f} | {ratio} | {p50} | {p99} | {errors} | {shown.replace('>=', ' ≥ ').replace('<=', ' ≤ ')} "
          f"| {holds(target, r, num(p99))} |")
print(f"\nThe write paths against their engine's own ceiling: the same statements run by the engine alone (no")
print(f"server, no Redis, no HTTP), measured after the checks in this same run. Goal: ≥ {CEILING_SHARE}× the ceiling.\n")
print("| write path | endpoint req/s | engine alone, per second | × ceiling | holds | how the ceiling was measured |")
print("|---|---:|---:|---:|---|---|")
for label, rps, p50, p99, errors, target in rows:
    if not target.startswith("ceiling:"):
        continue
    ceiling, how = ceilings.get(target.split(":", 1)[1], (0.0, "not measured"))
    r = num(rps) or 0.0
    share = r / ceiling if ceiling else 0.0
    ok = "yes" if ceiling and share >= CEILING_SHARE else "**no**"
    print(f"| {label} | {r:,.0f} | {ceiling:,.0f} | {share:.2f} | {ok} | {how} |")
print("\nThe machine's limits, measured in the same run:\n")
print("| baseline | per second | × minimal | p50 ms (SQL: mean) |")
print("|---|---:|---:|---:|")
for label, rps, p50, p99, errors, target in rows:
    if target != "baseline":
        continue
    r = num(rps) or 0.0
    ratio = f"{r / minimal:.3f}" if minimal else "-"
    print(f"| {label} | {r:,.1f} | {ratio} | {p50} |")
print("\nThe SQL writer during the write loads (`sql_writer_*` in /metrics; on SQLite one writer runs the jobs")
print("in group commits, so its busy share is how much of its capacity the load used; on PostgreSQL every job")
print("is a transaction of its own and they overlap, so busy time can exceed the wall time):\n")
print("| load | jobs/s | jobs per batch | writer busy, share of the wall time | busy µs per job |")
print("|---|---:|---:|---:|---:|")
for line in open(writer_path):
    if not line.strip():
        continue
    label, before, after, seconds = line.rstrip("\n").split("\t")
    (j0, b0, s0), (j1, b1, s1) = ([float(x) for x in part.split()] for part in (before, after))
    jobs, batches, busy = j1 - j0, b1 - b0, s1 - s0
    per_batch = f"{jobs / batches:.1f}" if batches else "-"
    per_job = f"{busy / jobs * 1e6:,.0f}" if jobs else "-"
    print(f"| {label} | {jobs / float(seconds):,.0f} | {per_batch} | {busy / float(seconds):.2f} | {per_job} |")
print("\nData checks after the run (each count must be 0, but for the incident and redemption counts and the size of the WAL;")
print("the item of 100 must have exactly 100 reservations):\n")
print("```")
print(open(checks_path).read().rstrip())
print(open(verify_path).read().rstrip())
print("```\n")
