"""The benchmark driver: every system, one after another, each in its own measured child process.

    python -m bench.run quick      # < 10 minutes on 2 cores (make bench-quick)
    python -m bench.run full       # the issue's full series, an hour or more (make bench)
    python -m bench.run onnx       # ONNX Runtime vs TensorFlow, same ResNet50 (make bench-onnx)

Results accumulate in bench/results/<preset>.json (one record per run, written after each run,
so an interrupted run keeps what it measured); bench/report.py turns them into bench/RESULTS.md
and the figures in bench/charts/, and the ratios are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import common, data, measure, onnx_compare, profile, report, run_records

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "build" / "bench"

# The systems of one comparison; vista-* are vista_sql runs, the rest are peers.
COMPARE = (
    "vista-auto",
    "vista-lazy",
    "vista-eager",
    "vista-staged",
    "pyspark-peer",
    "single",
    "limit",
)
MODULES = {
    "pyspark-peer": "bench.peers.pyspark_peer",
    "single": "bench.peers.single_machine",
    "limit": "bench.peers.limit",
}


@dataclass(frozen=True)
class Budget:
    """A fixed memory budget for the memory-pressure series: Spark conf and parallelism."""

    name: str
    conf: tuple[str, ...]
    master: str | None = None
    container_gb: float | None = None  # the whole process tree is killed above this RSS
    note: str = ""


@dataclass
class Preset:
    name: str
    compare: list[tuple[str, int, int]]  # (cnn, top k layers, N)
    scaling: tuple[str, int, tuple[int, ...]] | None  # cnn, k, Ns: SCALING_SYSTEMS at each N
    memory: tuple[str, int, int] | None  # cnn, k, N under each budget
    budgets: list[Budget] = field(default_factory=list)
    onnx: bool = False  # bench/onnx_compare.py's two runs
    timeout: float = 3600
    memory_timeout: float = 900


# The single-machine peer holds every image's pixels and every requested layer's unpooled
# output in memory at once (ResNet50 top-5: about 2.6 MB per image, 8.4 GB of RSS at N = 1000);
# past a few thousand images that is more than this 23.5 GB machine has. Its process tree is
# killed above this, recorded as a crash, rather than letting the kernel's OOM killer choose.
SINGLE_MEMORY_LIMIT_GB = 18.0

BUDGETS = {
    "heap": Budget(
        "JVM heap 1 GB",
        ("spark.driver.memory=1g",),
        note="spark.driver.memory=1g: about 400 MB of unified storage + execution memory",
    ),
    "container-quick": Budget(
        "6 GB container, heap 1 GB",
        ("spark.driver.memory=1g",),
        container_gb=6.0,
        note="a real 6 GB memory cgroup: the kernel OOM-kills in it as in a Docker, Kubernetes or "
        "YARN container (where cgroups cannot be made, the tree is killed above 6 GB of "
        "resident memory); two concurrent TensorFlow tasks (local[*])",
    ),
    "container": Budget(
        "8 GB container, local[4], heap 1 GB",
        ("spark.driver.memory=1g",),
        master="local[4]",
        container_gb=8.0,
        note="four concurrent TensorFlow tasks (high parallelism) in a real 8 GB memory cgroup, "
        "as in a container (where cgroups cannot be made, the tree is killed above 8 GB of "
        "resident memory)",
    ),
}

PRESETS = {
    "quick": Preset(
        "quick",
        compare=[("resnet50", 3, 200)],
        scaling=("resnet50", 3, (100, 200)),
        memory=("resnet50", 3, 100),
        budgets=[BUDGETS["container-quick"]],
        timeout=400,
        memory_timeout=300,
    ),
    "full": Preset(
        "full",
        compare=[("resnet50", 5, 1000), ("vgg16", 3, 1000)],
        scaling=("resnet50", 5, (500, 1000, 2000, 4000)),
        memory=("resnet50", 5, 1000),
        budgets=[BUDGETS["heap"], BUDGETS["container-quick"], BUDGETS["container"]],
        timeout=5400,
        memory_timeout=1800,
    ),
    "onnx": Preset("onnx", compare=[], scaling=None, memory=None, onnx=True, timeout=600),
}


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    versions = {}
    packages = ("pyspark", "tensorflow", "keras", "onnxruntime", "scikit-learn", "numpy", "pillow")
    for package in packages:
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    import psutil

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "java": java.splitlines()[0] if java else "?",
        "versions": versions,
    }


class Driver:
    def __init__(self, preset: Preset, out: Path, dry: bool = False, profile: bool = False):
        self.preset, self.out, self.dry, self.profile = preset, out, dry, profile
        self.records: list[dict] = []
        earlier: list[dict] = []
        if out.exists():
            saved = json.loads(out.read_text())
            self.records = saved.get("runs", [])
            earlier = saved.get("meta", {}).get("invocations", [])
        self.invocation = {
            "command": " ".join([Path(sys.executable).name, "-m", "bench.run", *sys.argv[1:]]),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": _git("rev-parse", "--short", "HEAD"),
            # vista_sql files changed but not committed at the start (others' work in progress).
            "uncommitted": _git("status", "--porcelain", "--", "vista_sql").splitlines(),
        }
        self.meta = {
            "preset": preset.name,
            "machine": machine(),
            "invocations": [*earlier, self.invocation],
        }

    def dataset(self, n: int) -> Path:
        return data.build(WORK / f"n{n}", n)

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps({"meta": self.meta, "runs": self.records}, indent=1))

    def run(self, series, system, cnn, k, n, *, budget=None, timeout=None, layers=None, extra=None):
        """`layers` and `extra` (vista_run options, replacing --plan) serve the onnx series."""
        layers = layers or common.top_layers(cnn, k)
        key = dict(series=series, system=system, cnn=cnn, k=k, n=n, budget=budget and budget.name)
        for record in self.records:
            if (
                all(record.get(f) == v for f, v in key.items())
                and record.get("status") != "skipped"
            ):
                print(f"  (kept) {self._line(record)}")
                return record
        path = self.dataset(n)
        logs = WORK / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        tag = common.run_tag(series, system, cnn, k, n, budget and budget.name)
        result_file = logs / f"{tag}.json"
        result_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", MODULES.get(system, "bench.vista_run")]
        command += ["--data", str(path), "--cnn", cnn, "--layers", ",".join(layers)]
        command += ["--out", str(result_file)]
        if extra is not None:
            command += extra
        elif system.startswith("vista-"):
            command += ["--plan", system.removeprefix("vista-")]
            if budget is not None:
                command += [f"--conf={c}" for c in budget.conf]
                if budget.master:
                    command += ["--master", budget.master]
        limit_gb = budget.container_gb if budget else None
        if system == "single":
            limit_gb = SINGLE_MEMORY_LIMIT_GB
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
        load_before = os.getloadavg()
        profile_dir = logs / f"{tag}.profile"
        if self.profile:
            shutil.rmtree(profile_dir, ignore_errors=True)
        print(f"  running {tag} ...", flush=True)
        if self.dry:
            return None
        measured = measure.run(
            command,
            timeout=timeout or self.preset.timeout,
            memory_limit=int(limit_gb * 2**30) if limit_gb else None,
            log_path=str(logs / f"{tag}.log"),
            profile_dir=str(profile_dir) if self.profile else None,
            env=env,
            cwd=str(ROOT),
            in_cgroup=budget is not None,  # a container's limit, as the kernel enforces it
        )
        child = json.loads(result_file.read_text()) if result_file.exists() else {}
        status = child.get("status", "crash")
        if measured.timed_out:
            status = "timeout"
        elif measured.memory_killed:
            status = "crash"
            child["error"] = (
                f"killed by the kernel's OOM killer in a {limit_gb:g} GB memory cgroup"
                if measured.limit_enforced_by == "cgroup"
                else f"killed: process tree over {limit_gb:g} GB of resident memory"
            )
        elif measured.returncode != 0:
            status = "crash"
        if status == "finish" and child.get("cached_peak_disk_bytes", 0) > 0:
            status = "spill"
        if status == "crash":
            # vista_sql reads its JVM's output itself and names a heap that ran out in the child's
            # error; the log is searched for what other systems' JVMs printed.
            cause = _jvm_out_of_memory(logs / f"{tag}.log")
            if cause or not child.get("error"):
                child["error"] = cause or _last_error(logs / f"{tag}.log", measured.returncode)
        if self.profile and profile_dir.exists():
            child["profile"] = profile.summarise(profile_dir)
        bookkeeping = sum(p["seconds"] for p in child.get("phases", []) if p.get("bookkeeping"))
        record = {
            **key,
            "layers": layers,
            "status": status,
            "wall_seconds": round(measured.wall_seconds - bookkeeping, 2),
            "cpu_seconds": measured.cpu_seconds,
            "peak_rss_mb": round(measured.peak_rss_bytes / 2**20),
            "peak_processes": measured.peak_processes,
            "worker_rss_mb": round(measured.peak_worker_rss_bytes / 2**20),
            "worker_vms_mb": round(measured.peak_worker_vms_bytes / 2**20),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "returncode": measured.returncode,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "budget_conf": list(budget.conf) if budget else [],
            "budget_master": budget.master if budget else None,
            "budget_container_gb": budget.container_gb if budget else None,
            "memory_limit_gb": limit_gb,
            "limit_enforced_by": measured.limit_enforced_by,
            "rss_timeline": measured.rss_timeline,
            "child": child,
            "command": " ".join(command[1:]),
        }
        self.records.append(record)
        self.save()
        print(f"  {self._line(record)}", flush=True)
        return record

    @staticmethod
    def _line(r: dict) -> str:
        extra = f" ({r['child'].get('error', '')[:120]})" if r["status"] == "crash" else ""
        return (
            f"{r['system']:<13} {r['cnn']} top{r['k']} N={r['n']:<5} {r['status']:<8} "
            f"wall {r['wall_seconds']:7.1f} s  cpu {r['cpu_seconds']:7.1f} s  "
            f"peak {r['peak_rss_mb']:6d} MB{extra}"
        )


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT)
        return done.stdout.strip()
    except OSError:
        return ""


def _jvm_out_of_memory(log: Path) -> str | None:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = next((line for line in text.splitlines() if "java.lang.OutOfMemoryError" in line), None)
    return f"the JVM died: {found.strip()[:200]}" if found else None


def _last_error(log: Path, returncode) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return f"exit code {returncode}"
    hits = [line for line in lines if "Error" in line or "Exception" in line or "Killed" in line]
    return (hits[-1] if hits else f"exit code {returncode}")[:300]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument(
        "--parts",
        default="compare,scaling,memory,onnx",
        help="comma-separated subset of compare,scaling,memory,onnx (what the preset has)",
    )
    parser.add_argument("--only-cnn", help="run only this CNN's parts (e.g. resnet50)")
    parser.add_argument(
        "--budgets", help=f"memory budgets to run, comma-separated among {', '.join(BUDGETS)}"
    )
    parser.add_argument("--fresh", action="store_true", help="forget earlier results of the preset")
    parser.add_argument("--dry-run", action="store_true", help="print the runs, run nothing")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy every Python process of each run"
    )
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    out = RESULTS / f"{preset.name}.json"
    if args.fresh:
        out.unlink(missing_ok=True)
    driver = Driver(preset, out, dry=args.dry_run, profile=args.profile)
    parts = args.parts.split(",")
    started = time.perf_counter()

    def wanted(cnn):
        return not args.only_cnn or cnn == args.only_cnn

    if "compare" in parts:
        for cnn, k, n in preset.compare:
            if not wanted(cnn):
                continue
            print(f"== compare: {cnn} top-{k}, N={n}", flush=True)
            auto = driver.run("compare", "vista-auto", cnn, k, n)
            strategy = auto and auto["child"].get("strategy")
            for system in COMPARE[1:]:
                if system == f"vista-{strategy}":
                    continue  # the optimizer's plan already ran as vista-auto
                driver.run("compare", system, cnn, k, n)
    if "scaling" in parts and preset.scaling and wanted(preset.scaling[0]):
        cnn, k, ns = preset.scaling
        print(f"== scaling: {cnn} top-{k}, N = {', '.join(map(str, ns))}", flush=True)
        for n in ns:
            for system in run_records.SCALING_SYSTEMS:
                # The compare series' runs at the same N are the same measurement: reuse them.
                reused = [
                    r
                    for r in driver.records
                    if r["series"] == "compare"
                    and (r["system"], r["cnn"], r["k"], r["n"]) == (system, cnn, k, n)
                ]
                if not reused:
                    driver.run("scaling", system, cnn, k, n)
    if "memory" in parts and preset.memory and wanted(preset.memory[0]):
        cnn, k, n = preset.memory
        chosen_budgets = [BUDGETS[b] for b in args.budgets.split(",")] if args.budgets else None
        for budget in chosen_budgets or preset.budgets:
            print(f"== memory pressure: {cnn} top-{k}, N={n}, budget {budget.name}", flush=True)
            auto = driver.run(
                "memory", "vista-auto", cnn, k, n, budget=budget, timeout=preset.memory_timeout
            )
            chosen = auto and auto["child"].get("strategy")
            for system in ("vista-lazy", "vista-eager", "vista-staged"):
                if system != f"vista-{chosen}":
                    driver.run(
                        "memory", system, cnn, k, n, budget=budget, timeout=preset.memory_timeout
                    )
    if "onnx" in parts and preset.onnx and wanted(onnx_compare.CNN):
        onnx_compare.run(driver)
    if args.dry_run:
        return
    driver.invocation["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    driver.invocation["driver_seconds"] = round(time.perf_counter() - started, 1)
    driver.save()
    print(f"== done in {time.perf_counter() - started:.0f} s; writing the report", flush=True)
    report.main([])


if __name__ == "__main__":
    main()
