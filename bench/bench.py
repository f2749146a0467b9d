#!/usr/bin/env python3
"""Helpers of `make bench` (bench/bench.sh), standard library only.

  bench.py opened TRACE < EXPORT.tar      bytes of the regular files a traced run opened
  bench.py render RESULTS.md OUTDIR       put OUTDIR/<section>.md between the section's markers
  bench.py svg SIZES.json OUT.svg         the size chart (log scale) of the sizes section
  bench.py stats MS...                    "median (min-max)" of run times in ms, in seconds

`opened` reads `strace -f -y -e trace=openat,execve` output (-y prints the path an fd
resolves to inside the container) and the container's filesystem (`docker export`): the
files opened read-only or not, each counted once, plus every program execve'd and its ELF
interpreter (the kernel opens those without an openat). Paths outside the export (/proc,
/sys, /dev) and failed calls count nothing. Prints JSON {"files": N, "bytes": B, "paths": [...]}.
"""
import json
import os
import re
import statistics
import struct
import sys
import tarfile

OPEN_RE = re.compile(r'openat\(.*\) = \d+<([^>]*)>')
EXEC_RE = re.compile(r'execve\("([^"]*)",.*\) = 0')


def norm(p):
    return os.path.normpath("/" + p.lstrip("./")).lstrip("/")


def resolve(entries, path, depth=0):
    """Follow symlinks (in every component) through the export's entries."""
    parts = [x for x in norm(path).split("/") if x]
    cur = []
    for i, part in enumerate(parts):
        cur.append(part)
        e = entries.get("/".join(cur))
        if e and e[0] == "sym" and depth < 40:
            target = e[2]
            base = "" if target.startswith("/") else "/".join(cur[:-1])
            rest = "/".join(parts[i + 1:])
            return resolve(entries, "/".join(x for x in (base, target, rest) if x), depth + 1)
    return "/".join(cur)


def interp_of(data):
    """PT_INTERP of a 64-bit little-endian ELF, or None."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 56 > len(data):
            return None
        ptype, = struct.unpack_from("<I", data, off)
        if ptype == 3:
            p_offset, = struct.unpack_from("<Q", data, off + 8)
            p_filesz, = struct.unpack_from("<Q", data, off + 32)
            return data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    return None


def opened(trace_path):
    opens, execs = set(), []
    with open(trace_path, errors="replace") as f:
        for line in f:
            m = OPEN_RE.search(line)
            if m:
                opens.add(norm(m.group(1)))
                continue
            m = EXEC_RE.search(line)
            if m:
                execs.append(m.group(1))
    entries, heads = {}, {}
    with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
        for ti in t:
            name = norm(ti.name)
            if ti.issym():
                entries[name] = ("sym", 0, ti.linkname)
            elif ti.islnk():
                entries[name] = ("lnk", 0, norm(ti.linkname))
            elif ti.isreg():
                entries[name] = ("reg", ti.size, None)
                if ti.size >= 64 and ti.mode & 0o111:
                    heads[name] = t.extractfile(ti).read(65536)
            else:
                entries[name] = ("other", 0, None)
    want = set(opens)
    for e in execs:
        p = resolve(entries, e)
        want.add(p)
        i = interp_of(heads.get(p, b""))
        if i:
            want.add(resolve(entries, i))
    files, total = [], 0
    for p in sorted(want):
        e = entries.get(p)
        if e and e[0] == "lnk":
            p, e = e[2], entries.get(e[2])
        if e and e[0] == "reg":
            files.append(p)
            total += e[1]
    print(json.dumps({"files": len(set(files)), "bytes": total, "paths": sorted(set(files))}))


def render(results, outdir):
    with open(results) as f:
        text = f.read()
    for name in sorted(os.listdir(outdir)):
        if not name.endswith(".md"):
            continue
        sec = name[:-3]
        begin = "<!-- make bench: %s -->" % sec
        end = "<!-- /make bench: %s -->" % sec
        if begin not in text or end not in text:
            sys.exit("bench: %s has no markers for section '%s' (%s ... %s)" %
                     (results, sec, begin, end))
        with open(os.path.join(outdir, name)) as f:
            body = f.read().strip("\n")
        a = text.index(begin) + len(begin)
        b = text.index(end)
        text = text[:a] + "\n" + body + "\n" + text[b:]
    tmp = results + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, results)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg(sizes_path, out):
    """Horizontal bars per workload and variant, log scale, the opened bytes as a line."""
    import math
    with open(sizes_path) as f:
        d = json.load(f)
    variants = d["variants"]
    colors = {"naive": "#c0392b", "guide": "#e67e22", "gpuslim": "#2980b9",
              "closure": "#27ae60"}
    bar, gap, left, width = 16, 26, 150, 560
    rows = []
    for w in d["workloads"]:
        rows.append(("title", w))
        for v in variants:
            rows.append(("bar", w, v))
        rows.append(("gap",))
    lo, hi = 1e6, 1e10  # 1 MB .. 10 GB
    def x(b):
        b = min(max(b, lo), hi)
        return left + width * (math.log10(b) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    y, body = 40, []
    for r in rows:
        if r[0] == "title":
            w = r[1]
            lim = w.get("opened")
            note = " (the smoke test opens %.1f MB)" % (lim / 1e6) if lim else ""
            body.append('<text x="10" y="%d" font-weight="bold">%s%s</text>' %
                        (y + 12, esc(w["name"]), esc(note)))
            y += 20
            top = y
        elif r[0] == "bar":
            w, v = r[1], r[2]
            size = w["sizes"].get(v)
            body.append('<text x="%d" y="%d" text-anchor="end">%s</text>' %
                        (left - 6, y + 12, esc(v)))
            if size:
                body.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' %
                            (left, y, x(size) - left, bar, colors.get(v, "#7f8c8d")))
                mult = (" = %.0f× opened" % (size / w["opened"])) if w.get("opened") else ""
                body.append('<text x="%.1f" y="%d">%.1f MB%s</text>' %
                            (x(size) + 4, y + 12, size / 1e6, esc(mult)))
            else:
                body.append('<text x="%d" y="%d" fill="#888">not built%s</text>' %
                            (left + 4, y + 12, esc(": " + w.get("why", {}).get(v, ""))
                             if w.get("why", {}).get(v) else ""))
            y += bar + 4
            if v == variants[-1] and w.get("opened"):
                lx = x(w["opened"])
                body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" '
                            'stroke-dasharray="3,2"/>' % (lx, top - 2, lx, y))
        else:
            y += gap - 20
    axis = []
    for p in range(6, 11):
        ax = x(10 ** p)
        axis.append('<line x1="%.1f" y1="30" x2="%.1f" y2="%d" stroke="#ddd"/>' % (ax, ax, y))
        axis.append('<text x="%.1f" y="24" text-anchor="middle" fill="#555">%s</text>' %
                    (ax, {6: "1 MB", 7: "10 MB", 8: "100 MB", 9: "1 GB", 10: "10 GB"}[p]))
    h = y + 30
    caption = ("Image size (log scale); dashed: the bytes the smoke test opens. %s" %
               d.get("caption", ""))
    doc = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (left + width + 170, h),
           '<rect width="100%" height="100%" fill="#fff"/>'] + axis + body + [
           '<text x="10" y="%d" fill="#555">%s</text>' % (h - 10, esc(caption)), '</svg>']
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(doc) + "\n")
    os.rename(tmp, out)


def stats(ms):
    v = sorted(int(x) for x in ms)
    return "%.2f s (%.2f-%.2f s, %d runs)" % (statistics.median(v) / 1e3, v[0] / 1e3,
                                               v[-1] / 1e3, len(v))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "opened" and len(sys.argv) == 3:
        opened(sys.argv[2])
    elif cmd == "render" and len(sys.argv) == 4:
        render(sys.argv[2], sys.argv[3])
    elif cmd == "svg" and len(sys.argv) == 4:
        svg(sys.argv[2], sys.argv[3])
    elif cmd == "stats" and len(sys.argv) > 2:
        print(stats(sys.argv[2:]))
    else:
        sys.exit(__doc__)
