#!/usr/bin/env python3
"""Plots a throughput run of `cargo bench --bench bench -- throughput --json FILE` to a PNG.

    python scripts/plot_benchmarks.py docs/bench/throughput.json docs/bench/throughput.png

Left: images per second against caller threads, one line per pool size x threads per session (the
automatic defaults dashed), raw ONNX Runtime with one session per caller as black crosses. Right: median
latency, likewise. Needs matplotlib (`pip install matplotlib`).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source: Path, target: Path) -> None:
    data = json.loads(source.read_text())
    lines: dict = defaultdict(list)
    raw = []
    for run in data["runs"]:
        if run["kind"] == "raw":
            raw.append(run)
        else:
            # Older runs name the automatic pool's extra session "solo_threads"; newer ones list its tiers.
            tiers = run.get("tiers") or (f"{run['pool']} x {run['threads']} + 1 x {run['solo_threads']}"
                                         if run.get("solo_threads") else "")  # fmt: skip
            lines[(run["kind"], run["pool"], run["threads"], tiers)].append(run)
    figure, (rate_axis, latency_axis) = plt.subplots(1, 2, figsize=(12, 6.4))
    # tab20 keeps up to 20 lines apart (a 16-core grid has 16); the default cycle repeats after 10.
    colours = plt.get_cmap("tab20").colors
    ordered = sorted(lines.items(), key=lambda item: item[0][:3])
    for index, ((kind, pool, threads, tiers), runs) in enumerate(ordered):
        runs.sort(key=lambda r: r["callers"])
        callers = [r["callers"] for r in runs]
        label = f"auto: {tiers} thr" if kind == "auto" and tiers else f"pool {pool} x {threads} thr"
        style = "--" if kind == "auto" else "-"
        colour = "black" if kind == "auto" else colours[index % len(colours)]
        rate_axis.plot(callers, [r["images_per_second"] for r in runs], style, color=colour, marker="o", label=label)
        latency_axis.plot(callers, [r["p50_ms"] for r in runs], style, color=colour, marker="o", label=label)
    for run in raw:
        rate_axis.plot(run["callers"], run["images_per_second"], "kx", markersize=9)
        rate_axis.annotate(f"raw {run['pool']}x{run['threads']}", (run["callers"], run["images_per_second"]),
                           textcoords="offset points", xytext=(5, -10), fontsize=7)  # fmt: skip
    model = Path(data["model"]).name
    rate_axis.set(title=f"{model}: throughput ({data['cores']} cores)", xlabel="caller threads", ylabel="images/s")
    latency_axis.set(title=f"{model}: median latency", xlabel="caller threads", ylabel="p50 ms")
    for axis in (rate_axis, latency_axis):
        axis.set_xscale("log", base=2)
        ticks = sorted({run["callers"] for run in data["runs"]})
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.grid(alpha=0.3)
    handles, labels = rate_axis.get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=7, loc="lower center", ncol=4)
    figure.tight_layout(rect=(0, 0.16, 1, 1))
    figure.savefig(target, dpi=110)
    print(f"wrote {target}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_benchmarks.py THROUGHPUT.json OUT.png")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
