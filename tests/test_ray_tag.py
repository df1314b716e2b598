"""`tag --engine ray` and `ray_tag.tag_dataset`, on local Ray clusters.

The cluster tests are slow (each starts a cluster and its actors: some 20-60
s on a busy 2-core machine) and CI runs them with --slow.
"""
import contextlib
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy
import pytest
import spacy

pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]' runs these tests")
import ray  # noqa: E402

from spacy_lstm_tagger.cli import run as main  # noqa: E402
from spacy_lstm_tagger.tagging.ray_engine import (  # noqa: E402
    MANIFEST, TagBatch, tag_dataset, tag_shards, token_columns,
)
from spacy_lstm_tagger.tagging.local import BadLineError, TagIOError, tag_file  # noqa: E402

from helpers import ROOT, TOY_TEXTS  # noqa: E402
from test_morph import SENTENCES as MORPH_SENTENCES  # noqa: E402

# test_morph's sentences, which the morph_pipeline fixture overfits, and their
# FEATS ("" for none) and lemmas as written there by hand.
MORPH_TEXTS = [" ".join(word for word, *_ in sentence) for sentence in MORPH_SENTENCES]
MORPH_FEATS = [["" if feats == "_" else feats for _, _, feats, _ in sentence] for sentence in MORPH_SENTENCES]
MORPH_LEMMAS = [[lemma for *_, lemma in sentence] for sentence in MORPH_SENTENCES]

SHARDS = 6
LINES_PER_SHARD = 3500  # 21,000 lines in all
BAD_JSONL_LINES = {17: '{"text": 3}', 2900: "not json"}  # line number: line
BAD_TEXT_LINES = {5: b"caf\xe9", 3000: b"a\x00b"}  # not UTF-8; NUL bytes
BAD_LINES = (len(BAD_JSONL_LINES) + len(BAD_TEXT_LINES)) * (SHARDS // 3)


def corpus_lines(rng: random.Random, n: int):
    """Toy words, unknown words and punctuation; empty lines too."""
    words = " ".join(TOY_TEXTS).split() + ["Zorblax", "quickly", ",", ".", "42", "über"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus(toy_pipeline, tmp_path_factory):
    """Shards of plain text and JSONL (both with bad lines) and gzipped text
    in one folder, and the output of the single-process `tag` for each, by name."""
    root = tmp_path_factory.mktemp("corpus")
    shards = root / "shards"
    shards.mkdir()
    rng = random.Random(0)
    for i in range(SHARDS):
        lines = corpus_lines(rng, LINES_PER_SHARD)
        if i % 3 == 0:
            raw = [line.encode("utf-8") for line in lines]
            for number, bad in BAD_TEXT_LINES.items():
                raw[number - 1] = bad
            (shards / f"part-{i}.txt").write_bytes(b"\n".join(raw) + b"\n")
        elif i % 3 == 1:
            with gzip.open(shards / f"part-{i}.txt.gz", "wt", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        else:
            records = [json.dumps({"text": line, "id": n}) for n, line in enumerate(lines)]
            for number, bad in BAD_JSONL_LINES.items():
                records[number - 1] = bad
            (shards / f"part-{i}.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    nlp = spacy.load(toy_pipeline)
    (root / "single").mkdir()
    expected = {}
    for shard in sorted(shards.iterdir()):
        target = root / "single" / f"{shard.name}.jsonl"
        stats = tag_file(nlp, shard, target, progress=False, warn=lambda message: None)
        name = shard.name.split(".")[0] + ".jsonl"
        expected[name] = (target.read_text(encoding="utf-8").splitlines(), stats)
    return shards, expected


def assert_same_as_single_process(output: Path, expected) -> None:
    """Every output shard holds, line by line, what `tag` wrote for its input
    shard, and the manifest counts what `tag` counted."""
    assert sorted(p.name for p in output.iterdir()) == sorted([*expected, MANIFEST])
    for name, (lines, _) in expected.items():
        got = (output / name).read_text(encoding="utf-8").splitlines()
        assert len(got) == len(lines), name
        for n, (ours, theirs) in enumerate(zip(got, lines), start=1):
            assert ours == theirs, f"{name} line {n}"
    manifest = json.loads((output / MANIFEST).read_text(encoding="utf-8"))
    counts = {s["output"]: (s["lines"], s["words"], s["failed_lines"]) for s in manifest["shards"]}
    assert counts == {name: (s.docs, s.words, s.skipped) for name, (_, s) in expected.items()}
    assert manifest["failed_lines"] == BAD_LINES
    assert manifest["lines"] + manifest["failed_lines"] == SHARDS * LINES_PER_SHARD
    assert manifest["stopped"] is None


def ray_tag_args(toy_pipeline, source, output, *options):
    return ["-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, output, "--engine", "ray", *options]


def no_cluster(*args, **kwargs):
    pytest.fail("a cluster was started")


@pytest.mark.parametrize(
    "options, message",
    [
        (["--workers", "0"], "--workers must be at least 1, not 0"),
        (["--batch-size", "-1"], "--batch-size must be at least 1, not -1"),
        (["--n-process", "2"], "--workers sets the number of workers, not --n-process"),
    ],
)
def test_bad_options_are_refused_before_any_cluster_starts(toy_pipeline, tmp_path, monkeypatch, options, message):
    monkeypatch.setattr(ray, "init", no_cluster)
    with pytest.raises(ValueError, match=message):
        main(["tag", str(toy_pipeline), str(tmp_path), str(tmp_path / "out"), "--engine", "ray", *options])


def test_inputs_and_outputs_are_checked_before_any_cluster_starts(toy_pipeline, tmp_path, monkeypatch):
    monkeypatch.setattr(ray, "init", no_cluster)
    with pytest.raises(FileNotFoundError, match="no input files at .*nothing-here"):
        main(["tag", str(toy_pipeline), str(tmp_path / "nothing-here*"), str(tmp_path / "out"), "--engine", "ray"])
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.txt").write_text("The dog\n")
    with pytest.raises(ValueError, match=r"a/x.txt and .*b/x.txt would both be written to x.jsonl"):
        main(["tag", str(toy_pipeline), str(tmp_path / "*" / "x.txt"), str(tmp_path / "out"), "--engine", "ray"])
    with pytest.raises(ValueError, match=r"a/x.txt: is not a folder; with --engine ray, OUTPUT is one"):
        main(["tag", str(toy_pipeline), str(tmp_path / "b"), str(tmp_path / "a" / "x.txt"), "--engine", "ray"])
    (tmp_path / "a" / "x.jsonl").write_text('{"text": "The dog"}\n')
    with pytest.raises(ValueError, match=r"a/x.jsonl: the output is the input file"):
        main(["tag", str(toy_pipeline), str(tmp_path / "a" / "x.jsonl"), str(tmp_path / "a"), "--engine", "ray"])
    with pytest.raises(ValueError, match="--address and --workers need --engine ray"):
        main(["tag", str(toy_pipeline), str(tmp_path / "a" / "x.txt"), str(tmp_path / "out.jsonl"), "--workers", "2"])


def test_a_shard_that_another_shard_would_write_is_refused(toy_pipeline, tmp_path, monkeypatch):
    monkeypatch.setattr(ray, "init", no_cluster)
    # In a folder that is both INPUT and OUTPUT, x.txt is written through
    # x.jsonl.partial, which is a shard of the input too.
    (tmp_path / "x.txt").write_text("The dog\n")
    (tmp_path / "x.jsonl.partial").write_text("The cat\n")
    partial = tmp_path / "x.jsonl.partial"
    with pytest.raises(ValueError) as refusal:
        main(["tag", str(toy_pipeline), str(tmp_path), str(tmp_path), "--engine", "ray"])
    assert str(refusal.value) == f"{partial}: the input is the output's working file {partial}; tagging would overwrite it"
    assert (tmp_path / "x.jsonl.partial").read_text() == "The cat\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl.partial", "x.txt"]


def test_without_ray_the_error_says_what_to_install(toy_pipeline, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "spacy_lstm_tagger.tagging.ray_engine")
    with pytest.raises(ImportError, match=r"--engine ray needs Ray Data: pip install 'spacy-lstm-tagger\[ray\]'"):
        main(["tag", str(toy_pipeline), str(tmp_path), str(tmp_path / "out"), "--engine", "ray"])


def test_an_actor_frees_the_strings_of_every_batch(toy_pipeline):
    # Without that, spaCy's vocabulary, and a long-lived actor's memory, grow
    # with every new word of the corpus. The actor's class is called here as
    # Ray calls it, in this process.
    actor = TagBatch(str(toy_pipeline), "text", "jsonl")
    strings = len(actor.nlp.vocab.strings)
    for r in range(3):
        texts = numpy.array([f"Word{r}x{i} ate the apple" for i in range(100)], dtype=object)
        lines = numpy.arange(1, len(texts) + 1)
        batch = actor({"text": texts, "line": lines, "problem": numpy.full(len(texts), "", dtype=object)})
        record = json.loads(batch["record"][7])
        assert (record["line"], record["tokens"][0]["text"]) == (8, f"Word{r}x7")
        assert list(batch["words"]) == [4] * len(texts)
    assert len(actor.nlp.vocab.strings) == strings


def test_an_empty_batch_has_every_column_of_a_full_one():
    columns = token_columns(iter([]), ("morph", "lemma"))
    assert sorted(columns) == ["lemmas", "morph", "morph_probs", "pos", "probs", "tags", "tokens"]
    assert all(len(column) == 0 for column in columns.values())


def test_an_actor_adds_features_and_lemmas_where_the_pipeline_writes_them(morph_pipeline, toy_pipeline):
    texts = numpy.array(MORPH_TEXTS, dtype=object)
    batch = TagBatch(str(morph_pipeline), "text", None)({"text": texts})
    assert [list(row) for row in batch["morph"]] == MORPH_FEATS
    assert [list(row) for row in batch["lemmas"]] == MORPH_LEMMAS
    docs = list(spacy.load(morph_pipeline).pipe(MORPH_TEXTS))
    assert [list(row) for row in batch["morph_probs"]] == [[t._.morph_prob for t in doc] for doc in docs]
    batch = TagBatch(str(toy_pipeline), "text", None)({"text": numpy.array(TOY_TEXTS, dtype=object)})
    assert sorted(batch) == ["pos", "probs", "tags", "text", "tokens"]
    # Records as `tag` writes them: JSONL tokens with "morph" and "lemma".
    actor = TagBatch(str(morph_pipeline), "text", "jsonl")
    lines = numpy.arange(1, len(texts) + 1)
    batch = actor({"text": texts, "line": lines, "problem": numpy.full(len(texts), "", dtype=object)})
    records = [json.loads(record) for record in batch["record"]]
    assert [[t["morph"] for t in r["tokens"]] for r in records] == MORPH_FEATS
    assert [[t["lemma"] for t in r["tokens"]] for r in records] == MORPH_LEMMAS


def test_an_actor_tags_batch_after_batch_in_memory_zones(morph_pipeline, tmp_path):
    """An actor frees spaCy's strings after each batch: lemmas made in one
    batch must still be right in the next (no lexicon here, so every rule's
    lemma is cached)."""
    nlp = spacy.load(morph_pipeline, config={"components": {"lstm_tagger": {"known_lemma_share": 0}}})
    nlp.to_disk(tmp_path / "no-lexicon")
    texts = numpy.array(["Zebras chased the dog .", "Rats chased the dog ."], dtype=object)
    expected = [[t.lemma_ for t in doc] for doc in spacy.load(tmp_path / "no-lexicon").pipe(list(texts))]
    assert "zebra" in expected[0] and "rat" in expected[1]  # strings of no table
    actor = TagBatch(str(tmp_path / "no-lexicon"), "text", None)
    for _ in range(3):
        assert [list(row) for row in actor({"text": texts})["lemmas"]] == expected


@pytest.mark.slow
def test_two_workers_write_what_tag_writes(toy_pipeline, corpus, tmp_path, run_python):
    shards, expected = corpus
    output = tmp_path / "out"
    out = run_python(*ray_tag_args(toy_pipeline, shards, output, "--workers", "2"), timeout=300)
    assert_same_as_single_process(output, expected)
    assert "part-2.jsonl: line 17: \"text\" must be a string, not int (skipped)" in out.stderr
    assert "part-0.txt: line 5: not valid UTF-8 (byte 0xe9 at byte 4) (skipped)" in out.stderr
    assert "part-3.txt: line 3000: holds NUL bytes" in out.stderr
    assert f"tagged {SHARDS * LINES_PER_SHARD - BAD_LINES:,} documents" in out.stderr
    assert "Traceback" not in out.stderr


@contextlib.contextmanager
def running_until(args, log: Path, started: Callable[[], bool], timeout: float = 240):
    """The command `args` in a process group of its own (stderr into `log`),
    handed over once `started()`; killed with its group if still running after."""
    with log.open("w") as stderr, subprocess.Popen(
        [sys.executable, *map(str, args)], cwd=ROOT, stderr=stderr, start_new_session=True
    ) as proc:
        try:
            deadline = time.monotonic() + timeout
            while not started():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_ctrl_c_stops_where_resume_goes_on(toy_pipeline, corpus, tmp_path, run_python):
    shards, expected = corpus
    output = tmp_path / "out"
    args = ray_tag_args(toy_pipeline, shards, output, "--workers", "2", "--batch-size", "64", "--quiet")
    log = tmp_path / "stderr.txt"
    with running_until(args, log, lambda: any(output.glob("*.partial"))) as proc:  # mid-run
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=240)
    stderr = log.read_text()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted by SIGINT in ")
    assert stderr.strip().endswith(f"are complete in {output}; run again with --resume to continue")
    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["interrupted"] == "SIGINT" and not all(s["complete"] for s in manifest["shards"])
    run_python(*ray_tag_args(toy_pipeline, shards, output, "--workers", "2", "--quiet", "--resume"), timeout=300)
    assert_same_as_single_process(output, expected)
    assert json.loads((output / MANIFEST).read_text())["interrupted"] is None


def worker_pids(root_pid: int, title: str):
    """The processes below `root_pid` whose command line holds `title` (Ray
    names an actor's process after its class)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
        except OSError:  # gone meanwhile
            continue
        parent = int(rest.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(pid))
    found, todo = [], [root_pid]
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            try:
                if title in (Path("/proc") / str(pid) / "cmdline").read_text():
                    found.append(pid)
            except OSError:
                continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker processes in /proc (Linux)")
def test_a_killed_worker_loses_and_repeats_no_line(toy_pipeline, corpus, tmp_path):
    shards, expected = corpus
    output = tmp_path / "out"
    args = ray_tag_args(toy_pipeline, shards, output, "--workers", "2", "--batch-size", "64", "--quiet")
    log = tmp_path / "stderr.txt"
    # Mid-run: the first results are being written, the manifest is not.
    with running_until(args, log, lambda: any(output.glob("*.partial")) or (output / MANIFEST).exists()) as proc:
        actors = worker_pids(proc.pid, "TagBatch")
        assert len(actors) == 2 and not (output / MANIFEST).exists()
        os.kill(actors[0], signal.SIGKILL)
        proc.wait(timeout=240)
    assert proc.returncode == 0, log.read_text()
    assert_same_as_single_process(output, expected)


@pytest.fixture(scope="module")
def local_ray():
    """A local cluster in this process, for the tests that call the Python API."""
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_tag_dataset_adds_tokens_tags_and_probabilities(toy_pipeline, local_ray):
    nlp = spacy.load(toy_pipeline)
    texts = corpus_lines(random.Random(1), 300)
    docs = list(nlp.pipe(texts))
    dataset = ray.data.from_items([{"id": i, "text": text} for i, text in enumerate(texts)])
    rows = sorted(tag_dataset(dataset, toy_pipeline, workers=1, batch_size=50).take_all(), key=lambda r: r["id"])
    assert [row["text"] for row in rows] == texts
    assert [list(row["tokens"]) for row in rows] == [[t.text for t in doc] for doc in docs]
    assert [list(row["tags"]) for row in rows] == [[t.tag_ for t in doc] for doc in docs]
    assert [list(row["pos"]) for row in rows] == [[t.pos_ for t in doc] for doc in docs]
    assert [list(row["probs"]) for row in rows] == [[t._.tag_prob for t in doc] for doc in docs]
    assert "morph" not in rows[0] and "lemmas" not in rows[0]  # the toy pipeline writes neither


@pytest.mark.slow
def test_features_and_lemmas_in_datasets_and_shards(morph_pipeline, local_ray, tmp_path):
    dataset = ray.data.from_items([{"id": i, "text": text} for i, text in enumerate(MORPH_TEXTS)])
    rows = sorted(tag_dataset(dataset, morph_pipeline, workers=1, batch_size=2).take_all(), key=lambda r: r["id"])
    assert [list(row["morph"]) for row in rows] == MORPH_FEATS
    assert [list(row["lemmas"]) for row in rows] == MORPH_LEMMAS
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.txt").write_text("".join(text + "\n" for text in MORPH_TEXTS))
    for output_format in ("jsonl", "conllu"):
        tag_shards(morph_pipeline, shards, tmp_path / output_format, output_format=output_format,
                   workers=1, progress=False)
        expected = tmp_path / f"a.{output_format}"
        tag_file(spacy.load(morph_pipeline), shards / "a.txt", expected, progress=False)
        written = (tmp_path / output_format / f"a.{output_format}").read_text()
        assert written == expected.read_text()
    rows = [line.split("\t") for line in written.splitlines() if line and not line.startswith("#")]
    assert [row[2] for row in rows] == [lemma for lemmas in MORPH_LEMMAS for lemma in lemmas]
    assert [row[5] for row in rows] == [feats or "_" for sentence in MORPH_FEATS for feats in sentence]


@pytest.mark.slow
def test_on_error_stop_writes_what_comes_before_the_bad_line(toy_pipeline, local_ray, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TOY_TEXTS))
    (shards / "b.jsonl").write_text(json.dumps({"text": TOY_TEXTS[1]}) + '\n{"text": \n' + json.dumps({"text": "x"}) + "\n")
    (shards / "c.jsonl").write_text(json.dumps({"text": TOY_TEXTS[0]}) + "\n")
    output = tmp_path / "out"
    with pytest.raises(BadLineError, match=r"b.jsonl: line 2: invalid JSON .*after writing 3 documents"):
        tag_shards(toy_pipeline, shards, output, workers=1, on_error="stop", progress=False)
    with pytest.raises(BadLineError):
        tag_file(spacy.load(toy_pipeline), shards / "b.jsonl", tmp_path / "b.jsonl", on_error="stop", progress=False)
    # a.jsonl and b.jsonl up to the bad line, as `tag` writes them; nothing of c.jsonl.
    assert sorted(p.name for p in output.iterdir()) == ["a.jsonl", "b.jsonl", MANIFEST]
    assert (output / "b.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    assert len((output / "a.jsonl").read_text().splitlines()) == 2
    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["stopped"].endswith("b.jsonl: line 2: invalid JSON (Expecting value: line 1 column 10 (char 9))")
    assert [s["lines"] for s in manifest["shards"]] == [2, 1, 0] and manifest["failed_lines"] == 0


@pytest.mark.slow
def test_a_damaged_shard_ends_the_run_as_tag_ends_on_it(toy_pipeline, local_ray, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.txt").write_text(TOY_TEXTS[0] + "\n")
    data = gzip.compress("".join(f"{TOY_TEXTS[i % 2]}\n" for i in range(3000)).encode())
    (shards / "b.txt.gz").write_bytes(data[: len(data) // 2])  # cut off, as by a failed copy
    output = tmp_path / "out"
    with pytest.raises(TagIOError, match=r"b.txt.gz: damaged gzip data after line \d+ .*b.jsonl.partial"):
        tag_shards(toy_pipeline, shards, output, workers=1, progress=False)
    with pytest.raises(TagIOError):
        tag_file(spacy.load(toy_pipeline), shards / "b.txt.gz", tmp_path / "b.jsonl", progress=False)
    # a.jsonl in place; what was read of b.txt.gz in b.jsonl.partial, as `tag` keeps it; no manifest.
    assert sorted(p.name for p in output.iterdir()) == ["a.jsonl", "b.jsonl.partial", "b.jsonl.partial.origin.json"]
    partial = (output / "b.jsonl.partial").read_text()
    assert partial and partial == (tmp_path / "b.jsonl.partial").read_text()
