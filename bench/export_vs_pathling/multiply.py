"""multiply.py SRC_DIR OUT_DIR COPIES - the Bulk Data sample COPIES times over with re-issued ids.

Every UUID in a copy k > 0 (resource ids and the references to them) gets its first 32 bits
shifted by k, so copies are distinct resources that still reference each other correctly.
Writes one uncompressed <Type>.ndjson per resource type (both tools read that layout).
"""
import gzip
import os
import re
import sys

src, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shifter(k):
    def sub(m):
        s = m.group(0)
        head = (int(s[:8], 16) + k * 0x9E3779B1) & 0xFFFFFFFF
        return b"%08x" % head + s[8:]
    return sub


by_type = {}
for name in sorted(os.listdir(src)):
    if name.endswith(".ndjson.gz"):
        by_type.setdefault(name.split(".")[0], []).append(os.path.join(src, name))
total = 0
for rtype, files in by_type.items():
    with open(os.path.join(out, rtype + ".ndjson"), "wb") as w:
        for f in files:
            data = gzip.open(f).read()
            for k in range(copies):
                w.write(data if k == 0 else UUID.sub(shifter(k), data))
                total += len(data)
print(f"multiply: {len(by_type)} types, {copies} copies, {total / 1e6:.1f} MB in {out}")
