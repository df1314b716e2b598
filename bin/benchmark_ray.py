"""Words/s of `tag --engine ray` with 1 and 2 workers against the single-process
`tag` and `tag --n-process 2` (spaCy's `nlp.pipe(n_process=2)`), and the fixed
start-up cost of each, so that one can tell from which corpus size the cluster
pays off.

    OMP_NUM_THREADS=1 python bin/benchmark_ray.py --model training/ewt/model-best --rounds 3 --markdown

The corpus is the raw text of UD English EWT's train split, one sentence a line,
`--repeat` times: one file for `tag`, `--shards` gzipped shards for Ray. Each
configuration runs as its own command, as a user runs it, in interleaved rounds
(the machine is shared). A round also tags a one-line input with each: its wall
time is the fixed cost (imports, loading the pipeline, starting the cluster and
its workers). Rate = words / (wall time - fixed cost), the speed once running;
the end-to-end rate is shown beside it. For Ray runs the resident memory of the
workers is sampled from /proc (when the first output arrives and at the end),
and so is the CPU time of the driver, the one process that receives and writes
every record: words per driver CPU second bound what any cluster can reach.
"""
import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from spacy_lstm_tagger.data.treebank import ewt_dir, ewt_file

CONFIGS = {
    "tag (1 process)": ["--quiet"],
    "tag --n-process 2": ["--n-process", "2", "--quiet"],
    "ray, 1 worker": ["--engine", "ray", "--workers", "1", "--quiet"],
    "ray, 2 workers": ["--engine", "ray", "--workers", "2", "--quiet"],
}


def write_corpus(folder: Path, repeat: int, shards: int) -> Tuple[Path, Path, Path, Path, int]:
    """The corpus as one file and as shards, a one-line file and a one-line
    shard folder; and the number of lines."""
    with gzip.open(ewt_file("train", ewt_dir()), "rt", encoding="utf-8") as f:
        sentences = [line[len("# text = "):].rstrip("\n") for line in f if line.startswith("# text = ")]
    lines = sentences * repeat
    whole = folder / "corpus.txt"
    whole.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sharded = folder / "shards"
    sharded.mkdir()
    size = -(-len(lines) // shards)
    for i in range(shards):
        with gzip.open(sharded / f"part-{i:03d}.txt.gz", "wt", encoding="utf-8") as f:
            f.write("\n".join(lines[i * size : (i + 1) * size]) + "\n")
    one = folder / "one.txt"
    one.write_text(sentences[0] + "\n", encoding="utf-8")
    one_sharded = folder / "one-shard"
    one_sharded.mkdir()
    (one_sharded / "part-000.txt").write_text(sentences[0] + "\n", encoding="utf-8")
    return whole, sharded, one, one_sharded, len(lines)


def worker_rss_mb() -> float:
    """The resident memory of all tagging actors on this machine, in MB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if "TagBatch" not in (status.parent / "cmdline").read_text():
                continue
            total += int(re.search(r"VmRSS:\s+(\d+)", status.read_text()).group(1))
        except (OSError, AttributeError):  # gone meanwhile
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(model: str, source: Path, output: Path, options: List[str]) -> Tuple[float, Optional[Tuple[float, float, float]]]:
    """Wall seconds of one `tag` command; for Ray, the workers' RSS (MB) when
    the first output shard appears and just before the end, and the driver's
    CPU seconds."""
    command = [sys.executable, "-m", "spacy_lstm_tagger", "tag", model, str(source), str(output), *options]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    at_first_output = last = driver_cpu = None
    while proc.poll() is None:
        if "ray" in options:
            rss = worker_rss_mb()
            last = rss or last
            try:
                driver_cpu = cpu_seconds(proc.pid)
            except OSError:  # it has just ended
                pass
            if at_first_output is None and output.is_dir() and any(output.iterdir()):
                at_first_output = rss
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{proc.stderr.read()}")
    return seconds, (at_first_output, last, driver_cpu) if "ray" in options else None


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="pipeline directory")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2, help="copies of EWT train's text in the corpus")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        whole, sharded, one, one_sharded, n_lines = write_corpus(folder, args.repeat, args.shards)
        walls: Dict[str, List[float]] = {name: [] for name in CONFIGS}
        fixed: Dict[str, List[float]] = {name: [] for name in CONFIGS}
        memory: Dict[str, List[Tuple[float, float, float]]] = {name: [] for name in CONFIGS}
        words = 0
        for r in range(args.rounds):
            for name, options in CONFIGS.items():
                is_ray = "ray" in options
                out = folder / f"out-{r}-{len(walls[name])}"
                seconds, rss = run(args.model, sharded if is_ray else whole, out if is_ray else out.with_suffix(".jsonl"), options)
                walls[name].append(seconds)
                if rss:
                    memory[name].append(rss)
                    words = json.loads((out / "manifest.json").read_text())["words"]
                out = folder / f"one-{r}-{name}"
                fixed[name].append(run(args.model, one_sharded if is_ray else one, out if is_ray else out.with_suffix(".jsonl"), options)[0])
                print(f"round {r + 1}: {name}: {seconds:.1f} s, one line {fixed[name][-1]:.1f} s", file=sys.stderr)
    rows = []
    for name in CONFIGS:
        wall, start_up = statistics.median(walls[name]), statistics.median(fixed[name])
        rss = ", ".join(f"{a or 0:.0f} -> {b or 0:.0f}" for a, b, _ in memory[name]) or "-"
        driver = f"{words / statistics.median(c for _, _, c in memory[name]):,.0f}" if memory[name] else "-"
        rows.append([name, f"{words / (wall - start_up):,.0f}", f"{words / wall:,.0f}", f"{start_up:.1f}", f"{wall:.1f}", rss, driver])
    header = [
        "command", "words/s (running)", "words/s (end to end)", "fixed cost s", "wall s",
        "workers' RSS MB (first output -> end)", "words per driver CPU s",
    ]
    load = os.getloadavg()
    print(f"corpus: EWT train text x{args.repeat}: {n_lines:,} lines, {words:,} words; {args.shards} shards for Ray")
    print(f"medians of {args.rounds} interleaved rounds; load average at the end {load[0]:.1f} (2 cores)")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("| --- |" + " ---: |" * 4 + " --- | ---: |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in rows:
            print("  ".join(f"{h}: {v}" for h, v in zip(header, row)))


if __name__ == "__main__":
    main()
