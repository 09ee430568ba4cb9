"""Compares the Rust reader and the Python reference picture by picture from the timings
`cargo bench --bench ocr` and `benches/ocr_reference.py` appended to one file
(GLIMPSE_BENCH_TIMES), each picture's best time over every run of each. Taking the runs in turns
and the best of many lets both sides be measured at the machine's quietest moments, which a
shared machine needs.

    export GLIMPSE_BENCH_TIMES=/tmp/ocr-times.csv GLIMPSE_BENCH_ROUNDS=2
    for i in 1 2 3 4; do cargo bench --bench ocr; python benches/ocr_reference.py; done
    python benches/ocr_compare.py /tmp/ocr-times.csv
"""

import sys
from collections import defaultdict


def main() -> None:
    best = defaultdict(dict)
    runs = defaultdict(int)
    for line in open(sys.argv[1]):
        which, name, seconds = line.strip().split(",")
        runs[which] += 1
        prev = best[which].get(name)
        best[which][name] = float(seconds) if prev is None else min(prev, float(seconds))
    names = sorted(set(best["rust"]) & set(best["python"]))
    print(f"{len(names)} pictures; timings: rust {runs['rust']}, python {runs['python']}")
    for label, pick in (("with text", lambda n: "blank" not in n), ("without text", lambda n: "blank" in n),
                        ("all", lambda n: True)):
        sel = [n for n in names if pick(n)]
        r = 1000 * sum(best["rust"][n] for n in sel) / len(sel)
        p = 1000 * sum(best["python"][n] for n in sel) / len(sel)
        print(f"  {label:<13} {len(sel):>3} pictures  rust {r:7.1f} ms  python {p:7.1f} ms  python/rust {p / r:.2f}x")


if __name__ == "__main__":
    main()
