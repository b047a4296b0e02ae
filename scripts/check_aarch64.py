"""The aarch64 build under qemu-user, against the aarch64 ONNX Runtime of PyPI (`make test-aarch64`):

1. build/aarch64/detect (examples_c/detect.c, linked with the aarch64 install tree) on the demo images gives
   this machine's build/detect detections: the same classes and names, scores within 1e-4, boxes within
   2e-3 (scripts/compare_detections.py).
2. build/aarch64/api_test (tests/c/api_test.c: the whole C API from several threads) passes.
3. Ultralytics' reference (../shared/reference/ultralytics.json, the nudenet models at every setting) at the
   tolerances of tests/parity.rs; SKIPPED without ../shared, a failure with YOLO_FFI_REQUIRE_SHARED=1.
4. The aarch64 wheel, unpacked with PyPI's aarch64 numpy and onnxruntime into a site-packages folder, in
   Debian's arm64 Python (scripts/aarch64-sysroot.sh): `python -m yolo_ffi --json` gives build/detect's
   detections (scripts/check_dists.py run).

Prints what ran and how long each step took under emulation.

Usage: check_aarch64.py --build DIR --wheels DIR --host-detect DETECT --model MODEL --images IMAGE... --shared DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from check_dists import run as run_wheel  # noqa: E402  (a sibling script)
from compare_detections import compare  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Where Debian's cross packages put the aarch64 C libraries, the loader among them.
CROSS_ROOT = "/usr/aarch64-linux-gnu"
#: Settings of tests/parity.rs: a box near the threshold may fall on either side.
THRESHOLD_MARGIN = 0.01


def fail(message: str) -> None:
    sys.exit(f"check_aarch64: {message}")


# One core as Linux describes an Arm Neoverse N1 in /proc/cpuinfo.
ARM_CORE = """processor\t: {index}
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

"""


def qemu_root(build: Path) -> Path:
    """The root qemu-user looks in first for every absolute path (`-L`): the cross C libraries, and an Arm
    /proc/cpuinfo. ONNX Runtime's CPU detection (cpuinfo) parses /proc/cpuinfo, which qemu-user 7.2 (Debian
    12's) passes through from the x86-64 host, and crashes on it."""
    root = build / "qemu-root"
    (root / "proc").mkdir(parents=True, exist_ok=True)
    if not (root / "lib").is_symlink():
        (root / "lib").symlink_to(f"{CROSS_ROOT}/lib")
    cores = "".join(ARM_CORE.format(index=i) for i in range(os.cpu_count() or 1))
    (root / "proc" / "cpuinfo").write_text(cores)
    return root.resolve()


def qemu(build: Path) -> list[str]:
    """The qemu-user command line that runs an aarch64 program with the cross C libraries and the sysroot's."""
    sysroot = (build / "sysroot").resolve()
    libraries = f"{sysroot}/usr/lib/aarch64-linux-gnu:{sysroot}/lib/aarch64-linux-gnu"
    return ["qemu-aarch64", "-L", str(qemu_root(build)), "-E", f"LD_LIBRARY_PATH={libraries}"]


def timed(what: str, command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        fail(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    print(f"check_aarch64: {what}: {time.monotonic() - started:.1f} s under qemu-user", flush=True)
    return done


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def same_as_host(build: Path, host_detect: str, model: str, images: list[str]) -> None:
    for flags in (["--imgsz", "320", "--conf", "0.05"],):
        ours = lines(timed(f"detect {' '.join(flags)}", [*qemu(build), str(build / "detect"), *flags, model, *images]).stdout)
        host = lines(subprocess.run([host_detect, *flags, model, *images], capture_output=True, text=True, check=True).stdout)
        if len(ours) != len(host):
            fail(f"{len(ours)} results, the x86-64 build gave {len(host)}")
        for image, got, expected in zip(images, ours, host):
            print("check_aarch64:", compare(f"aarch64 {Path(image).name} {' '.join(flags)}", expected["detections"],
                                            got["detections"]))


def parity(build: Path, shared: Path) -> None:
    reference_file = shared / "reference" / "ultralytics.json"
    if not reference_file.is_file():
        if os.environ.get("YOLO_FFI_REQUIRE_SHARED") == "1":
            fail(f"{reference_file} is missing and YOLO_FFI_REQUIRE_SHARED=1 requires it")
        print(f"check_aarch64: Ultralytics' reference SKIPPED: {reference_file} is absent", file=sys.stderr)
        return
    reference = json.loads(reference_file.read_text())
    compared, exceptions = 0, []
    for model, by_image in reference.items():
        images = sorted(by_image)
        settings = sorted({s for by_setting in by_image.values() for s in by_setting})
        for setting in settings:
            imgsz, conf = setting.split("/")
            command = [*qemu(build), str(build / "detect"), "--imgsz", imgsz, "--conf", conf, "--iou", "0.7",
                       "--max-det", "300", str(shared / "models" / model), *(str(shared / "images" / i) for i in images)]
            for image, result in zip(images, lines(timed(f"{model} {setting}", command).stdout)):
                expected = by_image[image].get(setting)
                if expected is None:
                    continue
                found = [(d["class_id"], d["score"], d["box"]) for d in result["detections"]]
                label = f"{model} {image} {setting}"
                compared += len(expected)
                exceptions += match(label, expected, found, float(conf))
    for line in exceptions:
        print(f"check_aarch64: allowed: {line}")
    if compared < 50:
        fail(f"compared only {compared} reference boxes")
    print(f"check_aarch64: Ultralytics' reference: {compared} boxes equal, {len(exceptions)} allowed exceptions")


def iou(a: list[float], b: list[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(label: str, expected: list, found: list, conf: float) -> list[str]:
    """tests/parity.rs's rule: each reference box has a detection of its class with IoU >= 0.95 and a score
    within 0.02; only boxes within THRESHOLD_MARGIN of the threshold may be missing or extra."""
    used = [False] * len(found)
    allowed = []
    for class_id, score, *box in expected:
        candidates = [(iou(box, f[2]), i) for i, f in enumerate(found) if not used[i] and f[0] == class_id]
        best = max(candidates, default=(0.0, -1))
        if best[1] >= 0 and best[0] >= 0.95 and abs(found[best[1]][1] - score) <= 0.02:
            used[best[1]] = True
        elif abs(score - conf) <= THRESHOLD_MARGIN:
            allowed.append(f"{label}: reference box class {class_id} score {score} near the threshold is missing")
        else:
            fail(f"{label}: reference box class {class_id} score {score} {box} unmatched (best {best})")
    for (class_id, score, box), taken in zip(found, used):
        if taken:
            continue
        if abs(score - conf) <= THRESHOLD_MARGIN:
            allowed.append(f"{label}: extra box class {class_id} score {score} near the threshold")
        else:
            fail(f"{label}: extra detection class {class_id} score {score} {box} not in the reference")
    return allowed


def wheel_in_arm64_python(build: Path, wheels: Path, host_detect: str, model: str, image: str) -> None:
    """Unpacks the wheel and its dependencies' aarch64 wheels, as pip would install them, and runs them."""
    site = build / "python" / "site-packages"
    if site.parent.exists():
        subprocess.run(["rm", "-rf", str(site.parent)], check=True)
    site.mkdir(parents=True)
    numpy = next(line for line in (ROOT / "python" / "requirements-test.txt").read_text().splitlines()
                 if line.startswith("numpy=="))
    versions = dict(line.split("=", 1) for line in (ROOT / "versions.env").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check", "-d", scratch,
             "--only-binary=:all:", "--platform", "manylinux_2_28_aarch64", "--platform", "manylinux_2_27_aarch64",
             "--platform", "manylinux2014_aarch64", "--python-version", "3.11", numpy,
             f"onnxruntime=={versions['ORT_VERSION']}"],
            check=True,
        )
        for wheel in [*Path(scratch).glob("*.whl"), *wheels.glob("*.whl")]:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site)
    python = build / "python" / "python3"
    sysroot = (build / "sysroot").resolve()
    python.write_text(
        "#!/bin/sh\n# Debian's arm64 Python under qemu-user, with the unpacked wheels on its path.\n"
        f'exec {" ".join(qemu(build))} -E PYTHONPATH={site.resolve()} {sysroot}/usr/bin/python3.11 "$@"\n'
    )
    python.chmod(0o755)
    for path in site.rglob("*.so*"):
        path.chmod(0o755)
    started = time.monotonic()
    run_wheel(str(python), host_detect, model, image)
    print(f"check_aarch64: the wheel in Debian's arm64 Python: {time.monotonic() - started:.1f} s under qemu-user")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, required=True)
    parser.add_argument("--wheels", type=Path, required=True)
    parser.add_argument("--host-detect", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", nargs="+", required=True)
    parser.add_argument("--shared", type=Path, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    same_as_host(args.build, args.host_detect, args.model, args.images)
    timed("api_test", [*qemu(args.build), str(args.build / "api_test"), args.model, args.images[0]])
    parity(args.build, args.shared)
    wheel_in_arm64_python(args.build, args.wheels, args.host_detect, args.model, args.images[0])
    print(f"check_aarch64: all passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
