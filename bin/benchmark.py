"""Benchmark this project's lstm_tagger against spaCy's built-in tagger: both
pipelines in one process, on the same gold-tokenized UD split, in one table.

    python bin/benchmark.py --ours training/ewt-lstm/model-best \
        --spacy training/spacy-tagger/model-best --split test --markdown

`--n-process N` adds columns for nlp.pipe(n_process=N), `--engine torch --engine
onnx` times our tagger once per BiLSTM engine, each in its own row,
`--precision float32` (or bfloat16, auto) runs our tagger in that number type
whatever its config says, and `--profile` prints where our tagger spends its
time instead of the table.

Per language, one row per UD treebank (UPOS, XPOS where the treebank has real
XPOS, FEATS and lemmas where it has them, against spaCy's pipeline of tagger,
morphologizer and lemmatizer; then whether the FEATS and lemma goals are met):

    python bin/benchmark.py --threads 1 --markdown \
        --treebank DIR OURS SPACY [SPACY_TRAIN_SECONDS] --treebank ...

Accuracy is spaCy's Scorer on Examples(predicted, gold). Speed is words/s over
the whole split: one warm-up pass each, then interleaved timed rounds. Peak RSS
comes from a child process per pipeline (`--peak-memory PIPELINE`), so that the
two pipelines do not share one process' peak.

Training time comes from --ours/--spacy-train-seconds, else from a
`train_seconds` key in the pipeline's meta.json ("-" when neither is there).

numpy, torch and spaCy are imported inside the functions, after `main` has set
the thread limits (BLAS libraries read them once, when loaded) and started the
peak-memory children (which should not start from a big process).
"""
import argparse
import gc
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
)
# meta.json keys (top level or one level down) that may hold a training time.
TRAIN_SECONDS_KEYS = ("train_seconds", "training_seconds", "train_time_seconds")
Sentence = Tuple[List[str], List[bool]]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Tag a UD split with this project's lstm_tagger and with "
        "spaCy's tagger; print accuracy, speed, size and memory side by side."
    )
    add = parser.add_argument
    add("--ours", type=Path, metavar="DIR", help="pipeline folder with an lstm_tagger")
    add("--spacy", type=Path, metavar="DIR", help="pipeline folder with spaCy's tagger")
    add("--data", type=Path, metavar="DIR",
        help="folder of a UD treebank, LANG_NAME-ud-{train,dev,test}.conllu(.gz) "
        "(default: $UD_EWT_DIR)")
    add("--treebank", nargs="+", action="append", metavar="DIR OURS SPACY [SECONDS]",
        help="a per-language row: the treebank folder, the two pipelines, and "
        "optionally spaCy's training seconds; repeat for more languages")
    add("--split", default="test", choices=("train", "dev", "test"))
    add("--rounds", type=int, default=7, metavar="N", help="timed rounds after the warm-up")
    add("--threads", type=int, default=2, metavar="N", help="torch and BLAS threads")
    add("--batch-size", type=int, default=128, metavar="N", help="nlp.pipe batch size")
    add("--n-process", type=int, default=1, metavar="N",
        help="also time both pipelines with nlp.pipe(n_process=N): two more columns")
    add("--engine", action="append", metavar="NAME",
        help="run our BiLSTM with this engine (torch or onnx), whatever the pipeline's "
        "config says; repeat for one row per engine")
    add("--precision", choices=("float32", "bfloat16", "auto"),
        help="the number type our tagger computes in, whatever the pipeline's config says")
    add("--markdown", action="store_true", help="print a markdown table")
    add("--ours-train-seconds", type=float, metavar="S", help="its training wall time")
    add("--spacy-train-seconds", type=float, metavar="S", help="its training wall time")
    add("--peak-memory", type=Path, metavar="PIPELINE",
        help="(internal) tag the split once with PIPELINE and print its peak RSS")
    add("--profile", action="store_true",
        help="instead of the table: where --ours spends its time in nlp.pipe "
        "(cProfile, and torch.profiler for the network)")
    args = parser.parse_args(argv)
    if args.treebank:
        if any(len(row) not in (3, 4) for row in args.treebank):
            parser.error("--treebank takes DIR OURS SPACY [SPACY_TRAIN_SECONDS]")
        if args.engine:
            parser.error("--engine applies to --ours, not to --treebank rows")
    elif args.profile:
        if args.ours is None:
            parser.error("--profile needs --ours")
    elif args.peak_memory is None and (args.ours is None or args.spacy is None):
        parser.error("--ours and --spacy are both required")
    if min(args.rounds, args.threads, args.batch_size, args.n_process) < 1:
        parser.error("--rounds, --threads, --batch-size and --n-process must be at least 1")
    return args


def limit_threads(n: int) -> None:
    """Limit torch and the BLAS libraries to `n` threads. The environment
    variables must be set before numpy, torch or spaCy are imported.
    """
    import torch

    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(n)


def read_gold(args: argparse.Namespace):
    """Read the split's gold Docs, one per sentence.

    RETURNS (Tuple[Path, List[Doc]]): the CoNLL-U file and its non-empty Docs.
    """
    from spacy.vocab import Vocab

    from spacy_lstm_tagger.data.corpus import read_docs
    from spacy_lstm_tagger.data.treebank import ewt_dir, find_treebank

    path = find_treebank(args.data or ewt_dir()).require(args.split)
    return path, [doc for doc in read_docs(path, Vocab()) if len(doc)]


def load(path: Path, engine: Optional[str] = None, precision: Optional[str] = None):
    """Load a pipeline folder, saying clearly when it is not one; with `engine`
    or `precision`, its lstm_tagger components run with that setting."""
    import spacy

    config_path = path / "config.cfg"
    if not config_path.is_file():
        raise FileNotFoundError(f"not a spaCy pipeline folder (no config.cfg): {path}")
    settings = {name: value for name, value in (("engine", engine), ("precision", precision)) if value}
    if not settings:
        return spacy.load(path)
    components = spacy.util.load_config(config_path)["components"]
    taggers = [name for name, c in components.items() if c.get("factory") == "lstm_tagger"]
    if not taggers:
        raise ValueError(f"--{'/--'.join(settings)}: {path} has no lstm_tagger component")
    return spacy.load(path, config={"components": {name: {"model": settings} for name in taggers}})


def number_types(nlp) -> str:
    """The number type that each lstm_tagger of `nlp` tags in on this machine."""
    return "/".join(
        str(next(pipe.model.tagging_network().parameters()).dtype).replace("torch.", "")
        for _, pipe in nlp.pipeline if hasattr(pipe.model, "tagging_network")
    ) or "-"


def our_pipelines(args: argparse.Namespace) -> Dict[str, Optional[str]]:
    """The name of each of our rows and the engine it runs: "ours" alone
    without --engine, else "ours, ENGINE" per engine."""
    if not args.engine:
        return {"ours": None}
    return {f"ours, {engine}": engine for engine in dict.fromkeys(args.engine)}


def fresh_docs(nlp, sentences: List[Sentence]) -> list:
    """Untagged copies of the gold sentences, gold tokenization, in nlp's vocab."""
    from spacy.tokens import Doc

    return [Doc(nlp.vocab, words=words, spaces=spaces) for words, spaces in sentences]


def tag(nlp, sentences: List[Sentence], batch_size: int, n_process: int = 1) -> Tuple[list, float]:
    """Tag fresh copies of the sentences. RETURNS (Tuple[List[Doc], float]):
    the tagged Docs and the seconds spent in nlp.pipe (copying excluded; with
    n_process > 1, starting the workers and sending the Docs both ways included).
    """
    docs = fresh_docs(nlp, sentences)
    gc.collect()
    start = time.perf_counter()
    tagged = list(nlp.pipe(docs, batch_size=batch_size, n_process=n_process))
    return tagged, time.perf_counter() - start


def predicts_pos(nlp) -> bool:
    """Whether an lstm_tagger of the pipeline writes UPOS (predict_pos, "pos"
    in annotate, or pos_from_tag)."""
    return any(
        nlp.get_pipe_meta(name).factory == "lstm_tagger" and "pos" in pipe.attributes
        for name, pipe in nlp.pipeline
    )


def accuracy(nlp, predicted: list, gold: list) -> Dict[str, Optional[float]]:
    """tag_acc, and pos_acc if the pipeline predicts UPOS, as percentages."""
    from spacy.scorer import Scorer
    from spacy.training import Example

    examples = [Example(p, g) for p, g in zip(predicted, gold)]
    tag_acc = Scorer.score_token_attr(examples, "tag")["tag_acc"]
    pos_acc = None
    if predicts_pos(nlp):
        pos_acc = Scorer.score_token_attr(examples, "pos")["pos_acc"]
    return {k: None if v is None else round(100 * v, 2)
            for k, v in (("tag_acc", tag_acc), ("pos_acc", pos_acc))}


def folder_mb(path: Path) -> float:
    """Size on disk of a pipeline folder: the sum of its files, in MB (10^6 bytes)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def train_seconds(path: Path, given: Optional[float]) -> Optional[float]:
    """The training time from the command line, else from the pipeline's
    meta.json (a TRAIN_SECONDS_KEYS key, top level or one level down)."""
    if given is not None:
        return given
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf8")) if meta_path.is_file() else {}
    for section in [meta, *(v for v in meta.values() if isinstance(v, dict))]:
        for key in TRAIN_SECONDS_KEYS:
            if isinstance(section.get(key), (int, float)):
                return float(section[key])
    return None


def peak_memory(args: argparse.Namespace) -> None:
    """Child-process mode: read the split, load the pipeline, tag the split once;
    print ru_maxrss (KiB on Linux) before loading and after tagging, as JSON.
    """
    _, gold = read_gold(args)
    sentences = [([t.text for t in d], [bool(t.whitespace_) for t in d]) for d in gold]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nlp = load(args.peak_memory, args.engine[0] if args.engine else None, args.precision)
    tag(nlp, sentences, args.batch_size)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_load_kib": before, "ru_maxrss_kib": peak}))


def measure_peak_memory(
    args: argparse.Namespace, pipeline: Path, engine: Optional[str] = None, precision: Optional[str] = None
) -> Dict[str, float]:
    """Run `--peak-memory` in a child process. RETURNS (Dict[str, float]): peak
    RSS and the same before the pipeline was loaded, in MB."""
    cmd = [sys.executable, __file__, "--peak-memory", str(pipeline), "--split", args.split]
    cmd += ["--threads", str(args.threads), "--batch-size", str(args.batch_size)]
    if engine is not None:
        cmd += ["--engine", engine]
    if precision is not None:
        cmd += ["--precision", precision]
    if args.data is not None:
        cmd += ["--data", str(args.data)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"peak-memory child failed for {pipeline}:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"peak": result["ru_maxrss_kib"] * 1024 / 1e6,
            "before_load": result["before_load_kib"] * 1024 / 1e6}


def machine() -> str:
    """CPU model, cores, and the versions that matter for speed."""
    import numpy
    import spacy
    import torch

    from spacy_lstm_tagger.pipeline.precision import native_bfloat16

    cpuinfo = Path("/proc/cpuinfo")
    cpu = platform.processor() or "unknown CPU"
    if cpuinfo.is_file():
        models = [l.split(":", 1)[1].strip() for l in cpuinfo.read_text().splitlines()
                  if l.startswith("model name")]
        cpu = models[0] if models else cpu
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cores = f"{os.cpu_count()} cores" + (f" (usable: {usable})" if usable else "")
    return (
        f"{cpu}, {cores}, bfloat16 instructions: {'yes' if native_bfloat16() else 'no'}; "
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"spacy {spacy.__version__}, numpy {numpy.__version__}"
    )


def interleaved_speeds(
    args: argparse.Namespace, nlps: dict, sentences: List[Sentence], n_process: int = 1
):
    """Words/s of each pipeline ("spacy" and ours) in args.rounds rounds of
    nlp.pipe(n_process=n_process), the order alternating (A B, B A, A B...) so
    that drift in the machine's speed hits all alike.
    RETURNS (Tuple[Dict[str, List[float]], Dict[str, List[float]]]): the speeds,
    and for each of ours its ratios to spaCy per round."""
    n_words = sum(len(words) for words, _ in sentences)
    speeds: Dict[str, List[float]] = {name: [] for name in nlps}
    for i in range(args.rounds):
        for name in list(nlps) if i % 2 == 0 else list(nlps)[::-1]:
            _, seconds = tag(nlps[name], sentences, args.batch_size, n_process)
            speeds[name].append(n_words / seconds)
    ratios = {
        name: [a / b for a, b in zip(speeds[name], speeds["spacy"])]
        for name in nlps if name != "spacy"
    }
    return speeds, ratios


def print_report(args: argparse.Namespace, notes: List[str], header: List[str], rows: List[List[str]]) -> None:
    """The notes as a list, then the table (markdown with --markdown)."""
    bullet = "- " if args.markdown else ""
    print("\n".join(bullet + (n if args.markdown else n.replace("`", "")) for n in notes))
    print()
    print(_markdown(header, rows) if args.markdown else _plain(header, rows))


def benchmark(args: argparse.Namespace, memory: Dict[str, Dict[str, float]]) -> None:
    """Compare the two pipelines and print the table.

    memory (Dict[str, Dict[str, float]]): `measure_peak_memory` of each of ours
        (`our_pipelines`) and "spacy".
    """
    path, gold = read_gold(args)
    sentences = [([t.text for t in d], [bool(t.whitespace_) for t in d]) for d in gold]
    n_words = sum(len(words) for words, _ in sentences)
    ours = our_pipelines(args)
    pipelines = {**{name: args.ours for name in ours}, "spacy": args.spacy}
    nlps = {name: load(p, ours.get(name), args.precision if name in ours else None)
            for name, p in pipelines.items()}

    # The warm-up pass also gives the predictions that are scored.
    scores = {}
    for name, nlp in nlps.items():
        predicted, _ = tag(nlp, sentences, args.batch_size)
        scores[name] = accuracy(nlp, predicted, gold)

    speeds, ratios = interleaved_speeds(args, nlps, sentences)
    runs = [(speeds, ratios, "")]
    if args.n_process > 1:
        runs.append((*interleaved_speeds(args, nlps, sentences, args.n_process),
                     f" n_process={args.n_process}"))

    header = ["pipeline", "tag_acc", "pos_acc"]
    for _, _, label in runs:
        header += [f"words/s{label}", f"ours/spaCy{label}"]
    header += ["size MB", "peak RSS MB", "train time"]
    rows = []
    for name, nlp in nlps.items():
        given = args.spacy_train_seconds if name == "spacy" else args.ours_train_seconds
        trained = train_seconds(pipelines[name], given)
        rows.append([
            f"{name} ({'+'.join(nlp.pipe_names)})",
            _fmt(scores[name]["tag_acc"], "{:.2f}"),
            _fmt(scores[name]["pos_acc"], "{:.2f}"),
            *[cell for run_speeds, run_ratios, _ in runs for cell in (
                f"{statistics.median(run_speeds[name]):,.0f}",
                f"{statistics.median(run_ratios[name]):.2f}x" if name != "spacy" else "1.00x",
            )],
            f"{folder_mb(pipelines[name]):.1f}",
            f"{memory[name]['peak']:.0f}",
            _duration(trained),
        ])

    notes = [
        f"command: `python {shlex.join(sys.argv)}`",
        f"machine: {machine()}",
        f"data: {path}: {len(sentences)} sentences, {n_words} words, gold tokenization",
        f"ours: {args.ours} (tagging in "
        + ", ".join(f"{name}: {number_types(nlps[name])}" for name in ours) + f"); spacy: {args.spacy}",
        f"speed: median of {args.rounds} interleaved rounds after 1 warm-up, "
        f"{args.threads} thread(s), batch size {args.batch_size}; ours/spaCy is the "
        f"median per-round ratio (range {_ranges(ratios)})",
        *[f"speed{label}: the same rounds with nlp.pipe(n_process={args.n_process}), the "
          f"Docs sent to the workers and back included; ratio range {_ranges(r)}"
          for _, r, label in runs[1:]],
        "peak RSS: one child process per pipeline, tagging the split once; before "
        "loading the pipeline (torch and spaCy imported, split read): "
        + ", ".join(f"{n} {m['before_load']:.0f} MB" for n, m in memory.items()),
    ]
    print_report(args, notes, header, rows)


# The goal for features and lemmas against spaCy: a point above it, or
# half of spaCy's remaining errors where spaCy is within 2 points of 100.
def goal(spacy_score: float) -> float:
    """The score that meets the goal against spaCy's `spacy_score` (percent)."""
    if spacy_score >= 98.0:
        return 100.0 - (100.0 - spacy_score) / 2
    return spacy_score + 1.0


def scores_of(examples: list, real_xpos: bool, has_feats: bool, has_lemmas: bool) -> Dict[str, Optional[float]]:
    """UPOS, XPOS, FEATS and lemma accuracy (percent) by spaCy's Scorer, as its
    tagger, morphologizer and lemmatizer score them; None where the treebank
    has no such column."""
    from spacy.scorer import Scorer

    def acc(attr: str, **kwargs) -> float:
        return 100 * (Scorer.score_token_attr(examples, attr, **kwargs)[f"{attr}_acc"] or 0.0)

    return {
        "pos": acc("pos"),
        "tag": acc("tag") if real_xpos else None,
        "morph": acc("morph", getter=lambda token, attr: token.morph.key) if has_feats else None,
        "lemma": acc("lemma") if has_lemmas else None,
    }


# Published UDPipe 2 scores, for context: the UD 2.15 models (241121), test
# split, gold tokenization, F1 of conll18_ud_eval.py; the models use
# multilingual BERT, which this project does not. Source: "Universal
# Dependencies 2.15 Models", Model Performance, gold tokenization rows
# (https://ufal.mff.cuni.cz/udpipe/2/models, docs/models_ud215.md in ufal/udpipe).
UDPIPE2_UD215 = {
    "en_ewt": {"pos": 97.50, "tag": 97.17, "morph": 97.97, "lemma": 97.87},
    "el_gdt": {"pos": 98.28, "tag": 98.30, "morph": 95.85, "lemma": 96.13},
    "hu_szeged": {"pos": 96.84, "tag": None, "morph": 94.43, "lemma": 95.02},
    "vi_vtb": {"pos": 89.83, "tag": 88.75, "morph": None, "lemma": 99.51},
}


def per_language(args: argparse.Namespace) -> None:
    """One row per treebank: UPOS, real XPOS, FEATS and lemma accuracy of both
    pipelines on the split with gold tokens, words/s at args.threads, training
    time; then a table of the FEATS and lemma goals against spaCy."""
    from spacy.training import Example

    from spacy_lstm_tagger.pipeline.morphology import has_features
    from spacy_lstm_tagger.training.ud import has_real_xpos

    header = ["treebank", "UPOS ours", "UPOS spaCy", "XPOS ours", "XPOS spaCy",
              "FEATS ours", "FEATS spaCy", "lemma ours", "lemma spaCy",
              "words/s ours", "words/s spaCy", "ours/spaCy", "train ours (best/all)",
              "train spaCy"]
    goal_header = ["treebank", "FEATS goal", "FEATS ours", "met", "lemma goal", "lemma ours", "met"]
    rows, goal_rows, udpipe_rows, notes = [], [], [], []
    for folder, ours, theirs, *seconds in args.treebank:
        data = argparse.Namespace(data=Path(folder), split=args.split)
        path, gold = read_gold(data)
        sentences = [([t.text for t in d], [bool(t.whitespace_) for t in d]) for d in gold]
        n_words = sum(len(words) for words, _ in sentences)
        nlps = {"ours": load(Path(ours), precision=args.precision), "spacy": load(Path(theirs))}
        columns = (
            has_real_xpos(gold),
            has_features(str(t.morph) for d in gold for t in d),
            any(t.lemma_ for d in gold for t in d),
        )
        acc = {}
        for name, nlp in nlps.items():
            predicted, _ = tag(nlp, sentences, args.batch_size)
            acc[name] = scores_of([Example(p, g) for p, g in zip(predicted, gold)], *columns)
        speeds, ratios = interleaved_speeds(args, nlps, sentences)
        ratios = ratios["ours"]
        last = Path(ours).parent / "model-last"
        treebank = path.name.split("-ud-")[0]
        rows.append([
            treebank,
            *[_fmt(acc[name][attr], "{:.2f}") for attr in ("pos", "tag", "morph", "lemma")
              for name in ("ours", "spacy")],
            f"{statistics.median(speeds['ours']):,.0f}", f"{statistics.median(speeds['spacy']):,.0f}",
            f"{statistics.median(ratios):.2f}x",
            f"{_duration(train_seconds(Path(ours), None))} / {_duration(train_seconds(last, None))}",
            _duration(float(seconds[0]) if seconds else train_seconds(Path(theirs), None)),
        ])
        goal_row = [treebank]
        for attr in ("morph", "lemma"):
            if acc["spacy"][attr] is None or acc["ours"][attr] is None:
                goal_row += ["-", _fmt(acc["ours"][attr], "{:.2f}"), "-"]
                continue
            target = goal(acc["spacy"][attr])
            goal_row += [f"{target:.2f}", f"{acc['ours'][attr]:.2f}",
                         "yes" if acc["ours"][attr] >= target else "no"]
        goal_rows.append(goal_row)
        published = UDPIPE2_UD215.get(treebank)
        if published:
            udpipe_rows.append([treebank] + [
                f"{_fmt(acc['ours'][attr], '{:.2f}')} / {_fmt(published[attr], '{:.2f}')}"
                + (f" ({acc['ours'][attr] - published[attr]:+.2f})"
                   if acc["ours"][attr] is not None and published[attr] is not None else "")
                for attr in ("pos", "tag", "morph", "lemma")
            ])
        notes.append(
            f"{path}: {len(sentences)} sentences, {n_words} words; ours {ours} "
            f"({'+'.join(nlps['ours'].pipe_names)}, tagging in {number_types(nlps['ours'])}), "
            f"spaCy {theirs} ({'+'.join(nlps['spacy'].pipe_names)}); "
            f"ours/spaCy per-round range {min(ratios):.2f}-{max(ratios):.2f}"
        )
    notes = [
        f"command: `python {shlex.join(sys.argv)}`",
        f"machine: {machine()}",
        f"speed: median of {args.rounds} interleaved rounds after 1 warm-up, {args.threads} "
        f"thread(s), batch size {args.batch_size}, gold tokens, each whole pipeline; accuracy: "
        "spaCy's Scorer (FEATS: the whole string, as morph_acc); XPOS only where the treebank "
        "has XPOS beyond UPOS, FEATS and lemmas where it has them",
        *notes,
    ]
    print_report(args, notes, header, rows)
    print()
    print("Goal: a point above spaCy, or half of spaCy's errors where spaCy is within 2 points of 100.")
    print()
    print(_markdown(goal_header, goal_rows) if args.markdown else _plain(goal_header, goal_rows))
    if udpipe_rows:
        header = ["treebank", "UPOS ours / UDPipe 2", "XPOS", "FEATS", "lemma"]
        print()
        print("Published UDPipe 2 (UD 2.15 models, multilingual BERT, gold tokens), and our gap to it:")
        print()
        print(_markdown(header, udpipe_rows) if args.markdown else _plain(header, udpipe_rows))


def profile(args: argparse.Namespace) -> None:
    """Print where `nlp.pipe` of --ours spends its time: a cProfile of one pass
    over the split, as the cumulative time of its main parts, then
    torch.profiler's operators for another pass."""
    import cProfile
    import pstats

    from torch.profiler import ProfilerActivity, profile as torch_profile

    from spacy_lstm_tagger.pipeline import annotations, component, confidence, featurize, model
    from spacy_lstm_tagger.pipeline import token_scores

    tagger = component.LSTMTagger
    # (part, what it is made of); indented parts are inside the part above them.
    parts = [
        ("the component (pipe)", [tagger._annotate]),
        ("  encode (Docs -> BiLSTM output)", [model.encode_docs]),
        ("    featurize (Docs -> index arrays)", [featurize.cut_segments, featurize.featurize]),
        ("    torch.lstm", ["<built-in method torch.lstm>"]),
        ("    char CNN's conv1d", ["<built-in method torch.conv1d>"]),
        ("  write_annotations", [annotations.write_annotations]),
        ("    output layers and softmax", [token_scores.EncodedTokens._softmax]),
        ("    lemmas (lookup, rules)", [annotations.lemma_values]),
        ("    set_confidences (tag_prob)", [confidence.set_confidences]),
        ("    Doc.from_array", ["from_array"]),
    ]
    path, gold = read_gold(args)
    sentences = [([t.text for t in d], [bool(t.whitespace_) for t in d]) for d in gold]
    nlp = load(args.ours, args.engine[-1] if args.engine else None, args.precision)
    tag(nlp, sentences, args.batch_size)  # warm-up
    docs = fresh_docs(nlp, sentences)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(lambda: list(nlp.pipe(docs, batch_size=args.batch_size)))
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (.., cumulative, ..)

    def seconds(members: list) -> float:
        keys = {m if isinstance(m, str) else
                (m.__code__.co_filename, m.__code__.co_firstlineno, m.__code__.co_name)
                for m in members}
        return sum(v[3] for k, v in stats.items() if k in keys or k[2] in keys)

    rows = [[name, f"{seconds(m):.3f}", f"{100 * seconds(m) / total:.0f}%"] for name, m in parts]
    rest = total - seconds([tagger._annotate])
    rows.append(["rest (spaCy's nlp.pipe, batching)", f"{rest:.3f}", f"{100 * rest / total:.0f}%"])
    n_words = sum(len(words) for words, _ in sentences)
    print(f"{path.name}: {n_words} words, {args.threads} thread(s), batch size "
          f"{args.batch_size}: nlp.pipe {total:.3f} s under cProfile")
    print(_markdown(["part of nlp.pipe", "seconds", "share"], rows))
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        list(nlp.pipe(fresh_docs(nlp, sentences), batch_size=args.batch_size))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def _ranges(ratios: Dict[str, List[float]]) -> str:
    """Each of our rows' range of per-round ratios, named when there are several."""
    if len(ratios) == 1:
        (r,) = ratios.values()
        return f"{min(r):.2f}-{max(r):.2f}"
    return ", ".join(f"{name} {min(r):.2f}-{max(r):.2f}" for name, r in ratios.items())


def _fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else spec.format(value)


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _plain(header: List[str], rows: List[List[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        for row in [header, *rows]
    ]
    lines.insert(1, ["-" * w for w in widths])
    return "\n".join("  ".join(line) for line in lines)


def _markdown(header: List[str], rows: List[List[str]]) -> str:
    lines = [header, ["---"] + ["---:"] * (len(header) - 1), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(args.threads)
    if args.peak_memory is not None or args.treebank or args.profile:
        limit_threads(args.threads)
        if args.peak_memory is not None:
            peak_memory(args)
        elif args.profile:
            profile(args)
        else:
            per_language(args)
        return
    # The children run first, while this process is small: a child's ru_maxrss
    # starts from the RSS of the process that started it (Linux carries the
    # peak across exec), which would otherwise be two loaded pipelines.
    memory = {name: measure_peak_memory(args, args.ours, engine, args.precision)
              for name, engine in our_pipelines(args).items()}
    memory["spacy"] = measure_peak_memory(args, args.spacy)
    limit_threads(args.threads)
    benchmark(args, memory)


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        sys.exit(f"error: {err}")
