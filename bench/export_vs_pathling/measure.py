"""measure.py OUT_JSON CMD... - run CMD, report wall time, CPU time and peak RSS of its whole
process tree (the JVM Spark starts is a grandchild): /proc is polled every 20 ms for the RSS
sum of every live descendant; CPU = utime+stime of every descendant seen (last sample) or,
when larger, RUSAGE_CHILDREN of the waited tree."""
import json
import os
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def children_map():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append((int(p), fields))
    return kids


out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
proc = subprocess.Popen(cmd)
peak, cpu_seen = 0, {}
while proc.poll() is None:
    kids = children_map()
    tree, todo = [], [proc.pid]
    rss = 0
    while todo:
        pid = todo.pop()
        tree.append(pid)
        for cpid, fields in kids.get(pid, []):
            todo.append(cpid)
    for pid in tree:
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            cpu_seen[pid] = (int(fields[11]) + int(fields[12])) / TICK
            rss += int(fields[21]) * PAGE
        except (OSError, IndexError):
            pass
    peak = max(peak, rss)
    time.sleep(0.02)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = max(ru.ru_utime + ru.ru_stime, sum(cpu_seen.values()))
peak = max(peak, ru.ru_maxrss * 1024)
json.dump({"rc": proc.returncode, "wall": wall, "cpu": cpu, "peak_rss": peak}, open(out, "w"))
sys.exit(proc.returncode)
