#!/usr/bin/env python3
"""Writes the tables of docs/benchmarks.md from the raw files in docs/bench/, so that the page says exactly
what the files hold. Each table sits between `<!-- begin NAME -->` and `<!-- end NAME -->`; the text
around the tables is written by hand. `make bench` runs this after the benchmarks.

Usage: bench_page.py [--check] docs/benchmarks.md
  --check: exit 1 if the page differs from what the raw files give (the page was edited by hand, or the
           raw files changed without the page).
"""

import argparse
import json
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "docs" / "bench"
# Row names of the latency bench (benches/bench.rs).
OWN = "raw ORT run, library's session"
LETTERBOX = "letterbox, session's threads"


# The raw files the tables have read, in order: the provenance table lists these (docs/bench/ also holds
# files of other pages).
READ = []


def load(name):
    path = BENCH / name
    if not path.is_file():
        return None, None
    if name not in READ:
        READ.append(name)
    wrapped = json.loads(path.read_text())
    return wrapped.get("provenance"), wrapped.get("data", wrapped)


def name_of(model_path):
    return Path(model_path).name.removesuffix(".onnx")


def rows_of(model):
    return {row["what"]: row["median_ms"] for row in model["rows"]}


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance_table():
    """One row per distinct provenance, naming the raw files that the other tables read, which are
    rendered first."""
    groups = {}
    for name in list(READ):
        record, _ = load(name)
        if not record:
            groups.setdefault(None, []).append(name)
            continue
        machine = record["machine"]
        commit = (record["commit"] or "?")[:10] + (" (+ uncommitted changes)" if record.get("uncommitted_changes") else "")
        versions = ", ".join(f"{k} {str(v).removeprefix('rustc ')}" for k, v in record["versions"].items())
        key = (commit, record["date"][:10],
               f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, Linux {machine['kernel']}",
               versions)
        groups.setdefault(key, []).append(name)
    rows = []
    for key, names in groups.items():
        files = ", ".join(f"`{n}`" for n in names)
        rows.append([files, *(key or ("no provenance",) * 4)])
    return table(["raw files", "commit", "date", "machine", "versions"], rows)


def latency_table(image_index):
    _, data = load("latency.json")
    if data is None:
        return "(no latency.json)"
    image = data["images"][image_index]
    models = image["models"]
    header = [""] + [f"{name_of(m['model'])} ({m['input'][1]}x{m['input'][0]} input)" for m in models]

    def cells(fn):
        return [fn(m, rows_of(m)) for m in models]

    own = OWN
    rows = [
        ["raw ORT run, the library's own session (ms)"] + cells(lambda m, r: f"{r[own]:.2f}"),
        ["raw ORT run, a separate session (x own)"] + cells(lambda m, r: f"{r['raw ORT run'] / r[own]:.3f}"),
        ["raw ORT run, a 2nd separate session (x own)"]
        + cells(lambda m, r: f"{r['raw ORT run, 2nd session'] / r[own]:.3f}"),
        ["**`yolo_detect_pixels`, paired (x own)**"] + cells(lambda m, r: f"**{m['pixels_over_own_session_paired']:.3f}**"),
        ["**`yolo_detect` JPEG, paired (x own)**"] + cells(lambda m, r: f"**{m['jpeg_over_own_session_paired']:.3f}**"),
        ["`yolo_detect` PNG (ms)"] + cells(lambda m, r: f"{r['yolo_detect PNG']:.2f}"),
        ["stage: decode JPEG (ms)"] + cells(lambda m, r: f"{r['decode JPEG']:.2f}"),
        ["stage: letterbox on the session's threads (ms)"] + cells(lambda m, r: f"{r[LETTERBOX]:.2f}"),
        ["stage: decode + NMS (ms)"] + cells(lambda m, r: f"{r['decode + NMS']:.2f}"),
        ["`yolo_detect_batch` of 4 JPEG (x 4 single calls)"]
        + cells(lambda m, r: f"{r['yolo_detect_batch 4 JPEG'] / r['4 x yolo_detect JPEG']:.3f}"),
    ]
    return table(header, rows)


def throughput_table():
    _, data = load("throughput.json")
    if data is None:
        return "(no throughput.json)"
    runs = data["runs"]
    rows = []
    for callers in sorted({r["callers"] for r in runs}):
        here = [r for r in runs if r["callers"] == callers]
        ours = [r for r in here if r["kind"] != "raw"]
        raw = [r for r in here if r["kind"] == "raw"]
        auto = [r for r in ours if r["kind"] == "auto"]
        best = max(ours, key=lambda r: r["images_per_second"])
        label = "auto" if best["kind"] == "auto" else f"{best['pool']} x {best['threads']}"
        auto_ips = auto[0]["images_per_second"] if auto else None
        raw_best = max(raw, key=lambda r: r["images_per_second"]) if raw else None
        rows.append([
            callers, label, f"{best['images_per_second']:.2f}",
            f"{auto_ips:.2f}" if auto_ips else "-",
            f"**{auto_ips / best['images_per_second']:.3f}**" if auto_ips else "-",
            f"{raw_best['images_per_second']:.2f} ({raw_best['pool']} x {raw_best['threads']})" if raw_best else "-",
            f"{auto_ips / raw_best['images_per_second']:.3f}" if auto_ips and raw_best else "-",
            f"{auto[0]['p50_ms']:.0f} / {auto[0]['p99_ms']:.0f}" if auto else "-",
        ])
    return table(["callers", "best pool x threads", "img/s", "auto img/s", "auto / best",
                  "raw ORT best img/s (pool x threads)", "auto / raw", "auto p50 / p99 ms"], rows)


def tasks_table():
    rows = []
    post, retina = {}, {}
    for name in ("ultralytics-postprocess.json", "ultralytics-postprocess-yolo11n.json", "ultralytics-postprocess-maps.json"):
        _, data = load(name)
        for entry in data or []:
            (retina if entry.get("retina_masks") else post)[name_of(entry["model"])] = entry["postprocess_ms_median"]

    def ultralytics(key):
        if key not in post:
            return "-"
        return f"{post[key]:.2f}" + (f" (`retina_masks`: {retina[key]:.2f})" if key in retina else "")

    for name in ("latency-tasks.json", "latency-tasks-yolo11n.json", "latency-tasks-maps.json"):
        _, data = load(name)
        if data is None:
            continue
        for model in data["images"][0]["models"]:
            r = rows_of(model)
            key = name_of(model["model"])
            rows.append([key, f"{model['input'][1]}x{model['input'][0]}",
                         f"{r[OWN]:.2f}",
                         f"{model['pixels_over_own_session_paired']:.3f}", f"{model['jpeg_over_own_session_paired']:.3f}",
                         f"{r['task head (NMS, masks...)']:.3f}", ultralytics(key)])
    if not rows:
        return "(no latency-tasks*.json)"
    return table(["model", "input", "raw run (ms)", "`yolo_detect_pixels` / raw (paired)",
                  "`yolo_detect` JPEG / raw (paired)", "task head (ms)", "Ultralytics' postprocess (ms)"], rows)


PYTHON_ROWS = [
    ("onnxruntime run (ready tensor)", "onnxruntime `session.run`, ready tensor"),
    ("yolo_ffi detect(path)", "`detect(path)`"),
    ("yolo_ffi detect(bytes)", "`detect(bytes)`"),
    ("yolo_ffi detect(numpy RGB)", "`detect(numpy RGB array)`"),
    ("onnxruntime + numpy", "onnxruntime + numpy"),
    ("ultralytics predict", "Ultralytics `predict(path)`"),
]


def python_models():
    out = []
    for name in ("python-nudenet-320n.json", "python-yolov8n.json"):
        _, data = load(name)
        if data is not None:
            out.append(data)
    return out


def python_table():
    models = python_models()
    if not models:
        return "(no python-*.json)"
    header = ["ms (x raw run)"] + [name_of(m["model"]) for m in models]
    rows = []
    for key, label in PYTHON_ROWS:
        cells = []
        for m in models:
            value = m["latency_ms"].get(key)
            raw = m["latency_ms"]["onnxruntime run (ready tensor)"]
            cells.append(f"{value:.2f} ({value / raw:.3f})" if value is not None else "-")
        rows.append([label] + cells)
    for key in models[0]["throughput"]:
        rows.append([f"throughput, {key} (img/s)"] + [f"{m['throughput'].get(key, 0):.1f}" for m in models])
    return table(header, rows)


def stages_table():
    """Ultralytics' pre- plus post-processing (its own `Results.speed`) against the library's letterbox and
    decode + NMS on the same image, both from raw files of this run."""
    models = python_models()
    _, latency = load("latency.json")
    if not models or latency is None:
        return "(no python-*.json or latency.json)"
    image = next(i for i in latency["images"] if Path(i["image"]).name == Path(models[0]["image"]).name)
    ours = {name_of(m["model"]): rows_of(m) for m in image["models"]}
    rows = []
    for m in models:
        stages = m.get("ultralytics_stages_ms")
        r = ours.get(name_of(m["model"]))
        if not stages or r is None:
            continue
        theirs = stages["preprocess"] + stages["postprocess"]
        mine = r[LETTERBOX] + r["decode + NMS"]
        rows.append([name_of(m["model"]), f"{stages['preprocess']:.2f} + {stages['postprocess']:.2f} = {theirs:.2f}",
                     f"{r[LETTERBOX]:.2f} + {r['decode + NMS']:.2f} = {mine:.2f}",
                     f"**{mine / theirs:.2f}x**"])
    if not rows:
        return "(Ultralytics was not installed in the Python benchmark's environment)"
    return table(["model", "Ultralytics pre + post (ms)", "yolo_ffi letterbox + decode and NMS (ms)", "ratio"], rows)


def track_table():
    """The tracker's update against a detect call and against Ultralytics' trackers on the same detections
    (`cargo bench --bench track`, `scripts/ultralytics_track_bench.py`)."""
    _, ours = load("track.json")
    if ours is None:
        return "(no track.json)"
    _, theirs = load("ultralytics-track.json")
    detect = ours["detect"]["ms_median"]
    rows = []
    for name, label in (("bytetrack", "ByteTrack"), ("botsort", "BoT-SORT")):
        mine = ours["update_us_median"][name]
        row = [label, f"{mine:.1f}", f"{mine / 10 / detect:.2f}%"]
        if theirs is not None:
            other = theirs["update_us_median"][name]
            row += [f"{other:.1f}", f"**{mine / other:.3f}x**"]
        else:
            row += ["(not run)", ""]
        rows.append(row)
    header = [f"tracker ({ours['objects']} objects, {ours['frames']} frames)", "yolo_ffi update (us)",
              f"of a detect call ({Path(ours['detect']['model']).name}, {detect:.2f} ms)", "Ultralytics update (us)",
              "ratio"]
    return table(header, rows)


TABLES = {
    "provenance": provenance_table,
    "latency-bus": lambda: latency_table(0),
    "latency-zidane": lambda: latency_table(1),
    "throughput": throughput_table,
    "tasks": tasks_table,
    "python": python_table,
    "stages": stages_table,
    "track": track_table,
}


def render(text):
    block = re.compile(r"<!-- begin ([\w-]+) -->\n.*?<!-- end \1 -->", re.S)
    names = block.findall(text)
    unknown = set(names) - set(TABLES)
    if unknown:
        sys.exit(f"bench_page: unknown tables {sorted(unknown)}")
    # Provenance last: it names the files the other tables read.
    rendered = {name: TABLES[name]() for name in sorted(names, key=lambda n: n == "provenance")}
    return block.sub(lambda m: f"<!-- begin {m.group(1)} -->\n{rendered[m.group(1)]}\n<!-- end {m.group(1)} -->", text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("page", type=Path)
    args = parser.parse_args()
    text = args.page.read_text()
    rendered = render(text)
    if args.check:
        if rendered != text:
            sys.exit(f"bench_page: {args.page} differs from docs/bench/: run scripts/bench_page.py {args.page}")
        return
    args.page.write_text(rendered)


if __name__ == "__main__":
    main()
