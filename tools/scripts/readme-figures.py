#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the README's performance figures from one `shmbus bench --json-file FILE` run.

Everything between the lines `<!-- bench:begin -->` and `<!-- bench:end -->` of the README is
generated: the command and the machine, the 64 B round-trip table, the one-way table, the Pool
figures, the comparison with Python's multiprocessing and the ranges the text quotes. So the
figures cannot drift from the run they came from.

    readme-figures.py BENCH.json [--readme README.md]           rewrite the block in place
    readme-figures.py BENCH.json [--readme README.md] --check   exit 1 when the block differs

The command shown is rebuilt from the document (mode, sizes, Python rows); give --command to
spell it yourself. Reads schema versions 1 to 3; a version 2 document (rows measured in rounds,
with the reference ring) adds the ring's columns, the rounds and Python's Pool.map; a version 3
document with a topic table adds the topic table (1 publisher to N subscribers, next to the
Queue and iceoryx).
"""
import argparse
import difflib
import json
import sys

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
DEFAULT_SIZES = [8, 64, 1024, 65536]
DEFAULT_TOPIC_SIZES = [64, 65536, 1 << 20]
DEFAULT_SUBSCRIBERS = [1, 2, 4]
TOPIC_KEYS = ["shmbus.topic.copy", "shmbus.topic.loan", "iceoryx"]
LATENCY_SIZE = 64
FAST = ["shmbus.queue.spin", "shmbus.queue.hybrid", "shmbus.pipe.spin", "shmbus.pipe.hybrid"]
BLOCK = ["shmbus.queue.block", "shmbus.pipe.block"]
# Rows of the tables, in this order when present; Pool rows exist at 8 B only (own sentence).
TABLE_KEYS = ["floor", "ring", "shmbus.queue.spin", "shmbus.queue.hybrid", "shmbus.queue.block",
              "shmbus.pipe.spin", "shmbus.pipe.hybrid", "shmbus.pipe.block", "pipe2", "socketpair",
              "posix_mq", "boost_mq", "memcpy", "memcpy.cache", "memcpy.dram", "python.mp_queue",
              "python.mp_pipe"]


class Bench:
    def __init__(self, doc):
        if doc.get("schema") != "shmbus.bench" or doc.get("version") not in (1, 2, 3):
            sys.exit("readme-figures: not a shmbus.bench version 1, 2 or 3 document")
        self.doc = doc
        self.rounds = doc["version"] >= 2
        self.labels = {m["key"]: m["label"] for m in doc["mechanisms"]}
        self.rows = {(r["mechanism"], "latency", r["size"]): r for r in doc["latency"]}
        self.rows.update({(r["mechanism"], "throughput", r["size"]): r for r in doc["throughput"]})
        self.topic = doc.get("topic", {"rows": [], "sizes": [], "subscribers": []})
        self.topic_labels = {m["key"]: m["label"] for m in self.topic.get("mechanisms", [])}
        self.topic_rows = {(r["mechanism"], r["size"], r["subscribers"]): r
                           for r in self.topic["rows"]}

    def row(self, key, metric, size):
        row = self.rows.get((key, metric, size))
        return row if row and row["available"] else None

    def keys(self, metric, size):
        return [k for k in TABLE_KEYS if (k, metric, size) in self.rows]

    def has(self, key):
        return key in self.labels

    def size_or_first(self, wanted):
        return wanted if wanted in self.doc["sizes"] else self.doc["sizes"][0]


def fmt_ns(ns):
    if ns < 1000:
        return f"{ns} ns"
    if ns < 10_000:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1_000_000:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns / 1e6:.2f} ms"


def fmt_rate(per_s):
    if per_s >= 1e6:
        return f"{per_s / 1e6:.2f} M"
    if per_s >= 1e3:
        return f"{per_s / 1e3:.1f} k"
    return f"{per_s:.0f}"


def fmt_ratio(ratio):
    if ratio >= 100:
        return f"{ratio:.0f}×"
    if ratio >= 0.1:
        return f"{ratio:.2f}×"
    return f"{ratio:.4f}×"


def fmt_times(ratio):
    """A speed-up in prose: 425×, 59×, 2.5×."""
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def size_name(size):
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def command(bench, override):
    if override:
        return override
    doc = bench.doc
    parts = ["shmbus bench"]
    if doc["mode"] == "quick":
        parts.append("--quick")
    if bench.has("python.mp_queue") or bench.has("python.mp_pipe"):
        parts.append("--python")
    if doc["sizes"] != DEFAULT_SIZES:
        parts.append("--sizes " + ",".join(str(s) for s in doc["sizes"]))
    if bench.topic["rows"] and bench.topic["sizes"] != DEFAULT_TOPIC_SIZES:
        parts.append("--topic-sizes " + ",".join(str(s) for s in bench.topic["sizes"]))
    if bench.topic["rows"] and bench.topic["subscribers"] != DEFAULT_SUBSCRIBERS:
        parts.append("--subscribers " + ",".join(str(s) for s in bench.topic["subscribers"]))
    if not doc["pinned"]:
        parts.append("--no-pin")
    parts.append("--json-file bench.json")
    return " ".join(parts)


def load_figure(text):
    return text.split()[0] if text else "?"


def machine_lines(bench, override):
    doc = bench.doc
    pinned = "the two processes pinned to two CPUs" if doc["pinned"] else "processes not pinned"
    load = doc["load_average"]
    rounds = (f" Every figure is the median of {doc['rounds']} rounds; each ratio to the floor or "
              "the ring divides figures of one round.") if bench.rounds else ""
    return [
        f"`{command(bench, override)}` ({doc['mode']} run) on {doc['cpu_model']}, "
        f"{doc['cpus']} CPUs, {pinned}; 1-minute load average {load_figure(load['before'])} "
        f"before the run and {load_figure(load['after'])} after it.{rounds}",
    ]


def ratio_cell(row, baseline, figure):
    ratio = row.get(f"ratio_to_{baseline}")
    return fmt_ratio(ratio[figure]) if ratio and figure in ratio else "–"


def latency_table(bench):
    size = bench.size_or_first(LATENCY_SIZE)
    pipe = bench.row("pipe2", "latency", size)
    ring = " p50 ÷ ring |" if bench.rounds else ""
    lines = [f"| {size_name(size)} round trip | p50 | p99 | p99.9 | p50 ÷ floor |{ring} "
             "p50 ÷ pipe(2) | pipe(2) p50 ÷ this |",
             "|---|--:|--:|--:|--:|--:|--:|" + ("--:|" if ring else "")]
    for key in bench.keys("latency", size):
        row = bench.row(key, "latency", size)
        label = bench.labels[key]
        if row is None:
            lines.append(f"| {label} | n/a | | | | | |" + (" |" if ring else ""))
            continue
        speedup = fmt_ratio(pipe["p50_ns"] / row["p50_ns"]) if pipe else "–"
        to_ring = f" {ratio_cell(row, 'ring', 'p50')} |" if ring else ""
        lines.append(f"| {label} | {fmt_ns(row['p50_ns'])} | {fmt_ns(row['p99_ns'])} "
                     f"| {fmt_ns(row['p999_ns'])} | {ratio_cell(row, 'floor', 'p50')} |{to_ring} "
                     f"{ratio_cell(row, 'pipe', 'p50')} | {speedup} |")
    return lines


def throughput_cells(bench, key, size, rate):
    row = bench.row(key, "throughput", size)
    baselines = ["ring", "pipe"] if bench.rounds else ["pipe"]
    if row is None:
        return ["n/a"] + [""] * len(baselines)
    figure = fmt_rate(row["messages_per_s"]) if rate else f"{row['bytes_per_s'] / 1e6:.0f}"
    return [figure] + [ratio_cell(row, b, "messages_per_s") for b in baselines]


def throughput_table(bench):
    small = bench.size_or_first(LATENCY_SIZE)
    large = max(bench.doc["sizes"])
    ring = " ÷ ring |" if bench.rounds else ""
    lines = [f"| one way | {size_name(small)} msg/s |{ring} ÷ pipe(2) | {size_name(large)} MB/s "
             f"|{ring} ÷ pipe(2) |",
             "|---|--:|--:|--:|--:|" + ("--:|--:|" if ring else "")]
    for key in bench.keys("throughput", small):
        cells = throughput_cells(bench, key, small, True) + throughput_cells(bench, key, large,
                                                                              False)
        lines.append(f"| {bench.labels[key]} | " + " | ".join(cells) + " |")
    return lines


def ratio_range(values):
    low, high = min(values), max(values)
    return fmt_times(low) if fmt_times(low) == fmt_times(high) else \
        f"{fmt_times(low)[:-1]}–{fmt_times(high)}"


def summary_lines(bench):
    """The ranges the README's prose relies on, computed here so that the prose quotes none."""
    small = [s for s in bench.doc["sizes"] if s <= 64] or bench.doc["sizes"][:1]
    lines = []
    fast = [bench.row(k, "latency", s) for k in FAST for s in small]
    fast = [r for r in fast if r]
    if fast:
        to_floor = [r["ratio_to_floor"]["p50"] for r in fast]
        faster = [1 / r["ratio_to_pipe"]["p50"] for r in fast]
        floor = "the one-line floor" if bench.rounds else "the raw cache-line floor"
        to_ring = [r["ratio_to_ring"]["p50"] for r in fast if "ratio_to_ring" in r]
        ring = f", {ratio_range(to_ring)} the plain SPSC ring" if to_ring else ""
        lines.append(f"- Queue and Pipe round trips with a spinning or hybrid waiter, at "
                     f"{'–'.join(size_name(s) for s in small)}: {ratio_range(to_floor)} "
                     f"{floor}{ring}, {ratio_range(faster)} faster than pipe(2).")
    block = [bench.row(k, "latency", s) for k in BLOCK for s in bench.doc["sizes"]]
    block = [r["ratio_to_pipe"]["p50"] for r in block if r]
    if block:
        lines.append(f"- Queue and Pipe round trips under the `block` policy, at every size: "
                     f"{ratio_range(block)} a pipe(2) round trip (p50).")
    return lines


def pool_lines(bench):
    mapped = bench.row("shmbus.pool.map", "throughput", 8)
    apply = bench.row("shmbus.pool.apply_async", "latency", 8)
    python = bench.row("python.pool.map", "throughput", 8)
    parts = []
    if mapped:
        tasks = mapped["per_round"][0]["messages"] if "per_round" in mapped else mapped["messages"]
        parts.append(f"`Pool.map` of {tasks:,} trivial tasks ran at "
                     f"{fmt_rate(mapped['messages_per_s'])} tasks/s")
    if mapped and python:
        parts.append(f"Python's `multiprocessing.Pool.map` of the same tasks at "
                     f"{fmt_rate(python['messages_per_s'])} tasks/s "
                     f"(**{fmt_times(mapped['messages_per_s'] / python['messages_per_s'])} "
                     "faster**)")
    if apply:
        parts.append(f"an `apply_async(...).get()` round trip took {fmt_ns(apply['p50_ns'])} p50")
    return ["- Pool: " + "; ".join(parts) + "."] if parts else []


def versus_python(bench, ours, theirs, name):
    """'Queue (hybrid) 1.28 µs vs mp.Queue 43.0 µs at 64 B: 34× faster (…)'."""
    small = bench.size_or_first(LATENCY_SIZE)
    ours_small = bench.row(ours, "latency", small)
    theirs_small = bench.row(theirs, "latency", small)
    if not ours_small or not theirs_small:
        return []
    others = []
    for size in bench.doc["sizes"]:
        a, b = bench.row(ours, "latency", size), bench.row(theirs, "latency", size)
        if size != small and a and b:
            others.append(f"{fmt_times(b['p50_ns'] / a['p50_ns'])} at {size_name(size)}")
    text = (f"- {name} (hybrid) {fmt_ns(ours_small['p50_ns'])} vs "
            f"{bench.labels[theirs].replace('Python ', '')} {fmt_ns(theirs_small['p50_ns'])} p50 "
            f"round trip at {size_name(small)}: "
            f"**{fmt_times(theirs_small['p50_ns'] / ours_small['p50_ns'])} faster**")
    text += f" ({', '.join(others)})" if others else ""
    one_way = []
    for size in (small, max(bench.doc["sizes"])):
        a, b = bench.row(ours, "throughput", size), bench.row(theirs, "throughput", size)
        if a and b:
            one_way.append(f"{fmt_times(a['messages_per_s'] / b['messages_per_s'])} at "
                           f"{size_name(size)}")
    text += "; one-way throughput " + ", ".join(one_way) if one_way else ""
    return [text + "."]


def from_python_lines(bench):
    """shmbus used from Python, as times faster than mp.Queue, each round paired with one of
    mp.Queue's: 'shmbus.Queue py-C++: 3.40 µs p50 round trip, 19.2× faster (17.1×–33.5×)'."""
    size = bench.size_or_first(LATENCY_SIZE)
    lines = []
    for key in sorted(k for k in bench.labels if k.startswith("python.shmbus")):
        latency = bench.row(key, "latency", size)
        if not latency or "ratio_to_mp_queue" not in latency:
            continue
        ratio = latency["ratio_to_mp_queue"]
        text = (f"- {bench.labels[key]} (shmbus used from Python): {fmt_ns(latency['p50_ns'])} p50 "
                f"round trip at {size_name(size)}, **{fmt_times(1 / ratio['p50'])} faster** than "
                f"mp.Queue ({fmt_times(1 / ratio['spread']['max'])}–"
                f"{fmt_times(1 / ratio['spread']['min'])} over the rounds)")
        rate = bench.row(key, "throughput", size)
        if rate and "ratio_to_mp_queue" in rate:
            text += f"; one way {fmt_times(rate['ratio_to_mp_queue']['messages_per_s'])}"
        lines.append(text + ".")
    return lines


def python_lines(bench):
    lines = versus_python(bench, "shmbus.queue.hybrid", "python.mp_queue", "Queue") + \
        versus_python(bench, "shmbus.pipe.hybrid", "python.mp_pipe", "Pipe") + \
        from_python_lines(bench)
    return ["", "Against Python's multiprocessing in the same run:", ""] + lines if lines else []


def topic_table(bench):
    """One line per size, subscriber count and mechanism: round trip and one-way rate."""
    topic = bench.topic
    if not topic["rows"]:
        return []
    lines = ["| Topic, 1 publisher | subscribers | wait | RTT p50 | RTT p99 | p50 ÷ Queue "
             "| p50 ÷ iceoryx | one way msg/s | ÷ Queue |",
             "|---|--:|---|--:|--:|--:|--:|--:|--:|"]
    for size in topic["sizes"]:
        for subscribers in topic["subscribers"]:
            for key in TOPIC_KEYS:
                row = bench.topic_rows.get((key, size, subscribers))
                if row is None:
                    continue
                latency, throughput = row["latency"], row["throughput"]
                cells = [f"{bench.topic_labels.get(key, key)}, {size_name(size)}",
                         str(subscribers), row["wait"]]
                if latency["available"]:
                    cells += [fmt_ns(latency["p50_ns"]), fmt_ns(latency["p99_ns"]),
                              ratio_cell(latency, "queue", "p50"),
                              ratio_cell(latency, "iceoryx", "p50")]
                else:
                    cells += ["n/a", "", "", ""]
                if throughput["available"]:
                    cells += [fmt_rate(throughput["messages_per_s"]),
                              ratio_cell(throughput, "queue", "messages_per_s")]
                else:
                    cells += ["–", ""]
                lines.append("| " + " | ".join(cells) + " |")
    return ["", "One publisher to N subscriber processes of a Topic (`Queue` with one consumer "
            "and iceoryx beside it in each round; ratios pair rounds):", ""] + \
        lines + topic_summary(bench)


def topic_summary(bench):
    """The Topic's targets, in figures of this run."""
    lines = []
    small = min(bench.topic["sizes"])
    for key in ("shmbus.topic.copy", "shmbus.topic.loan"):
        row = bench.topic_rows.get((key, small, 1))
        if not row or not row["latency"]["available"]:
            continue
        latency = row["latency"]
        text = (f"- {bench.topic_labels.get(key, key)}, {size_name(small)}, one subscriber: "
                f"RTT p50 {fmt_ns(latency['p50_ns'])}, "
                f"{ratio_cell(latency, 'queue', 'p50')} the Queue's")
        if "ratio_to_iceoryx" in latency:
            text += (f"; iceoryx's p50 is {fmt_times(1 / latency['ratio_to_iceoryx']['p50'])} "
                     "this one")
        lines.append(text + ".")
    return [""] + lines if lines else []


def render(bench, override=None):
    lines = [BEGIN,
             "<!-- generated by tools/scripts/readme-figures.py from one `shmbus bench` JSON "
             "document: do not edit by hand -->",
             ""]
    lines += machine_lines(bench, override) + [""]
    lines += latency_table(bench) + [""] + throughput_table(bench) + [""]
    lines += summary_lines(bench) + pool_lines(bench)
    lines += python_lines(bench)
    lines += topic_table(bench)
    return "\n".join(lines + ["", END])


def split_readme(text):
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin:
        sys.exit(f"readme-figures: no {BEGIN} ... {END} block")
    return text[:begin], text[begin:end + len(END)], text[end + len(END):]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="a `shmbus bench --json-file` document")
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 (with a diff) when the block differs")
    parser.add_argument("--command", help="the bench command to show (default: rebuilt)")
    args = parser.parse_args()
    with open(args.json) as f:
        bench = Bench(json.load(f))
    with open(args.readme) as f:
        text = f.read()
    before, block, after = split_readme(text)
    wanted = render(bench, args.command)
    if args.check:
        if block == wanted:
            return 0
        sys.stdout.writelines(difflib.unified_diff(block.splitlines(True), wanted.splitlines(True),
                                                   args.readme, "from " + args.json))
        print(f"\nreadme-figures: {args.readme} differs from {args.json}", file=sys.stderr)
        return 1
    with open(args.readme, "w") as f:
        f.write(before + wanted + after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
