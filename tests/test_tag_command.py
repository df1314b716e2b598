"""`python -m spacy_lstm_tagger tag MODEL INPUT OUTPUT` and `tag.tag_file`."""
import gzip
import json
import math
import os
import random
import resource
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_lstm_tagger.cli import run as main
from spacy_lstm_tagger.data.conllu import read_conllu
from spacy_lstm_tagger.tagging.local import BadLineError, TagIOError, tag_file

from helpers import SMALL_MODEL, TOY_TAGS, TOY_TEXTS

JSONL_WITH_BAD_LINES = "\n".join(
    [
        json.dumps({"text": TOY_TEXTS[0], "id": 1}),
        '{"text": "unfinished',
        "",  # blank lines are passed over
        json.dumps({"txt": "no text key"}),
        json.dumps({"text": 42}),
        json.dumps({"text": TOY_TEXTS[1]}),
    ]
) + "\n"


@pytest.fixture(scope="module")
def nlp(toy_pipeline):
    return spacy.load(toy_pipeline)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_plain_text_to_jsonl(toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.txt"
    source.write_text(f"{TOY_TEXTS[0]}\n\n{TOY_TEXTS[1]}\n", encoding="utf-8")
    out = run_python("-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, tmp_path / "out.jsonl")
    records = read_jsonl(tmp_path / "out.jsonl")
    # One record per line, the empty one too, so that they line up with the input.
    assert [r["line"] for r in records] == [1, 2, 3]
    assert [r["text"] for r in records] == [TOY_TEXTS[0], "", TOY_TEXTS[1]]
    assert [[t["tag"] for t in r["tokens"]] for r in records] == [TOY_TAGS[0], [], TOY_TAGS[1]]
    token = records[0]["tokens"][0]
    assert set(token) == {"text", "tag", "pos", "prob"}
    assert token["pos"] == "" and 0.5 < token["prob"] <= 1.0
    assert "words/s" in out.stderr and "tagged 3 documents (9 words)" in out.stderr
    assert out.stdout == ""  # stdout stays free for `-` as OUTPUT


def test_bad_lines_are_reported_and_skipped(toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.jsonl"
    source.write_text(JSONL_WITH_BAD_LINES, encoding="utf-8")
    out = run_python("-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, tmp_path / "out.jsonl")
    assert "line 2: invalid JSON" in out.stderr
    assert 'line 4: expected an object with a "text" string' in out.stderr
    assert 'line 5: "text" must be a string, not int' in out.stderr
    assert "skipped 3 bad lines" in out.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [(r["line"], r["text"]) for r in records] == [(1, TOY_TEXTS[0]), (6, TOY_TEXTS[1])]


def test_every_field_of_a_jsonl_record_is_kept(nlp, tmp_path):
    meta = {"source": "web", "scores": [1, 2.5], "note": "two\nlines"}
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join([
            json.dumps({"id": "doc-7", "text": TOY_TEXTS[0], "meta": meta}),
            '{"text": "The dog", "score": NaN}',
            '{"text": "The dog", "score": -Infinity}',
            json.dumps({"text": "The dog", "tokens": ["The", "dog"]}),
            json.dumps({"text": TOY_TEXTS[1], "n": 12345678901234567890, "ok": None}),
        ]) + "\n",
        encoding="utf-8",
    )
    warnings = []
    stats = tag_file(nlp, source, tmp_path / "out.jsonl", progress=False, warn=warnings.append)
    assert warnings == [
        "line 2: invalid JSON (NaN is not JSON) (skipped)",
        "line 3: invalid JSON (-Infinity is not JSON) (skipped)",
        "line 4: has a field 'tokens', which the output sets; rename it (skipped)",
    ]
    assert stats.skipped == 3
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [list(r) for r in records] == [
        ["line", "text", "id", "meta", "tokens"], ["line", "text", "n", "ok", "tokens"]
    ]
    assert (records[0]["id"], records[0]["meta"]) == ("doc-7", meta)
    assert (records[1]["n"], records[1]["ok"]) == (12345678901234567890, None)
    assert [t["tag"] for t in records[0]["tokens"]] == TOY_TAGS[0]
    # CoNLL-U: as comments of the document's first sentence.
    tag_file(nlp, source, tmp_path / "out.conllu", progress=False, warn=warnings.append)
    lines = (tmp_path / "out.conllu").read_text(encoding="utf-8").splitlines()
    assert lines[:5] == [
        "# sent_id = 1-1", f"# text = {TOY_TEXTS[0]}", "# id = doc-7", f"# meta = {json.dumps(meta)}", "1\tThe\t_\t_\tDET\t_\t_\t_\t_\t" + lines[4].split("\t")[-1],
    ]
    assert "# n = 12345678901234567890" in lines and "# ok = null" in lines
    docs = list(read_conllu(tmp_path / "out.conllu", spacy.blank("en").vocab))
    assert [[t.tag_ for t in doc] for doc in docs] == TOY_TAGS


def test_on_error_stop_stops_at_the_bad_line(toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.jsonl"
    source.write_text(JSONL_WITH_BAD_LINES, encoding="utf-8")
    out = run_python(
        "-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, tmp_path / "out.jsonl",
        "--on-error", "stop", check=False,
    )
    assert out.returncode == 1
    assert "error: line 2: invalid JSON" in out.stderr and "Traceback" not in out.stderr
    # What came before the bad line is written.
    assert [r["text"] for r in read_jsonl(tmp_path / "out.jsonl")] == [TOY_TEXTS[0]]


def test_conllu_with_two_processes(toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.jsonl"
    texts = TOY_TEXTS * 20
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    run_python(
        "-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, tmp_path / "out.conllu",
        "--n-process", "2", "--batch-size", "8", "--quiet", timeout=120,
    )
    docs = list(read_conllu(tmp_path / "out.conllu", spacy.blank("en").vocab))
    assert [[t.tag_ for t in doc] for doc in docs] == TOY_TAGS * 20
    assert [doc.text.rstrip() for doc in docs] == texts  # the reader adds a final space


def test_conllu_format(nlp, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(f"{TOY_TEXTS[0]}.  {TOY_TEXTS[1]}\n", encoding="utf-8")
    target = tmp_path / "out.txt"  # no telling suffix: --format decides
    stats = tag_file(nlp, source, target, output_format="conllu", progress=False)
    assert (stats.docs, stats.words, stats.skipped) == (1, 11, 0)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["# sent_id = 1-1", f"# text = {TOY_TEXTS[0]}. {TOY_TEXTS[1]}"]
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    # The whitespace token is left out; the word before it keeps its space.
    assert [row[1] for row in rows] == TOY_TEXTS[0].split() + ["."] + TOY_TEXTS[1].split()
    assert rows[4][9].startswith("SpaceAfter=No|TagProb=")
    assert rows[5][9].startswith("TagProb=")
    assert [row[4] for row in rows[:5]] == TOY_TAGS[0]


def test_sentences_become_conllu_sentences(toy_pipeline, tmp_path):
    nlp = spacy.load(toy_pipeline)
    nlp.add_pipe("sentencizer", first=True)
    source = tmp_path / "in.txt.gz"
    with gzip.open(source, "wt", encoding="utf-8") as f:
        f.write(f"{TOY_TEXTS[0]}. {TOY_TEXTS[1]}.\n")
    tag_file(nlp, source, tmp_path / "out.conllu.gz", progress=False)
    docs = list(read_conllu(tmp_path / "out.conllu.gz", nlp.vocab))
    assert [[t.tag_ for t in doc][:-1] for doc in docs] == TOY_TAGS


def test_top_k_in_jsonl(toy_pipeline, tmp_path):
    nlp = spacy.load(toy_pipeline, config={"components": {"lstm_tagger": {"top_k": 2}}})
    source = tmp_path / "in.txt"
    source.write_text(TOY_TEXTS[0] + "\n", encoding="utf-8")
    tag_file(nlp, source, tmp_path / "out.jsonl", progress=False)
    token = read_jsonl(tmp_path / "out.jsonl")[0]["tokens"][0]
    assert token["top_k"][0] == [token["tag"], token["prob"]] and len(token["top_k"]) == 2


def test_tag_file_raises_at_a_bad_line_with_stop(nlp, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(JSONL_WITH_BAD_LINES, encoding="utf-8")
    warnings = []
    with pytest.raises(BadLineError, match="line 2: invalid JSON"):
        tag_file(nlp, source, tmp_path / "out.jsonl", on_error="stop", progress=False, warn=warnings.append)
    assert warnings == []
    with pytest.raises(ValueError, match="'xml' is not one of jsonl, conllu"):
        tag_file(nlp, source, tmp_path / "out.xml", output_format="xml")


# Peak memory (ru_maxrss, in KiB on Linux) of one `tag` run, measured in its own process.
PEAK_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import torch
    from spacy_lstm_tagger.cli import run as main
    torch.set_num_threads(1)  # memory is the point; on a busy machine one thread is faster
    main(["tag", *sys.argv[1:], "--quiet"])
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def test_memory_stays_flat(toy_pipeline, tmp_path, run_python):
    words = "the dog ate apple everybody read that book".split()
    rng = random.Random(0)
    n = 1500
    lines = [" ".join(rng.choice(words) for _ in range(3)) for _ in range(4 * n)]
    script = tmp_path / "peak.py"
    script.write_text(PEAK_RSS_SCRIPT)
    peaks = {}
    for size in (n, 4 * n):
        source = tmp_path / f"in{size}.txt"
        source.write_text("\n".join(lines[:size]) + "\n")
        target = tmp_path / f"out{size}.jsonl"
        out = run_python(script, toy_pipeline, source, target, "--batch-size", "100", timeout=300)
        peaks[size] = int(out.stdout.split()[-1]) / 1024  # MiB
        assert len(target.read_text().splitlines()) == size
    # Keeping the Docs of the extra 3n lines would take some 20 MiB more; a
    # streaming run takes the same, give or take the allocator's noise.
    assert peaks[4 * n] - peaks[n] < 8, peaks


# Hostile input: every bad line is reported with its number, skipped and counted.
HOSTILE_TEXT_LINES = [
    (TOY_TEXTS[0].encode(), None),
    (b"caf\xe9 in Latin-1", "line 2: not valid UTF-8 (byte 0xe9 at byte 4)"),
    (b"a lone surrogate \xed\xa0\x80", "line 3: not valid UTF-8 (byte 0xed at byte 18)"),
    (b"a NUL \x00 byte", "line 4: holds NUL bytes"),
    (b"x" * 1_000_001, "line 5: 1,000,001 characters, over the pipeline's max_length of 1,000,000"),
    (TOY_TEXTS[1].encode(), None),
]
HOSTILE_JSONL_LINES = [
    (json.dumps({"text": TOY_TEXTS[0]}).encode(), None),
    (b'{"text": "\\ud800 alone"}', 'line 2: lone surrogate U+D800 at character 1 of "text"'),
    (b"[" * 100_000 + b"]" * 100_000, "line 3: invalid JSON (nested too deeply)"),
    (b'{"text": "big", "n": 1' + b"0" * 5000 + b"}", "line 4: invalid JSON (Exceeds the limit"),
    (json.dumps({"text": TOY_TEXTS[1]}).encode(), None),
]


@pytest.mark.parametrize(
    "name,lines", [("in.txt", HOSTILE_TEXT_LINES), ("in.jsonl", HOSTILE_JSONL_LINES)]
)
def test_hostile_lines_are_reported_skipped_and_counted(toy_pipeline, tmp_path, run_python, name, lines):
    source = tmp_path / name
    source.write_bytes(b"".join(line + b"\n" for line, _ in lines))
    out = run_python("-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, tmp_path / "out.jsonl")
    problems = [problem for _, problem in lines if problem]
    for problem in problems:
        assert f"{problem}" in out.stderr
    assert f"skipped {len(problems)} bad lines" in out.stderr and "Traceback" not in out.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [(r["line"], r["text"]) for r in records] == [(1, TOY_TEXTS[0]), (len(lines), TOY_TEXTS[1])]


def test_a_utf16_file_is_reported_line_by_line(toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.txt"
    source.write_text(f"{TOY_TEXTS[0]}\n{TOY_TEXTS[1]}\n", encoding="utf-16")
    out = run_python("-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, tmp_path / "out.jsonl")
    assert "line 1: starts with a UTF-16 byte order mark; the input must be UTF-8" in out.stderr
    assert "line 2: holds NUL bytes (UTF-16 or binary data?)" in out.stderr
    assert (tmp_path / "out.jsonl").read_text() == ""


def test_on_error_stop_at_a_line_that_is_not_utf8(toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.txt"
    source.write_bytes(b"\n".join(line for line, _ in HOSTILE_TEXT_LINES[:3]) + b"\n")
    out = run_python(
        "-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, tmp_path / "out.jsonl",
        "--on-error", "stop", check=False,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        f"error: {HOSTILE_TEXT_LINES[1][1]} (stopped by --on-error stop after writing 1 documents)"
    )
    assert [r["text"] for r in read_jsonl(tmp_path / "out.jsonl")] == [TOY_TEXTS[0]]


def test_lines_over_max_length_are_not_read_whole(nlp, tmp_path):
    nlp.max_length = 100
    source = tmp_path / "in.txt"
    # 101 characters; then more bytes than any text of 100 characters can take.
    source.write_text("\n".join([TOY_TEXTS[0], "é" * 101, "x" * 1601, TOY_TEXTS[1]]) + "\n")
    warnings = []
    try:
        stats = tag_file(nlp, source, tmp_path / "out.jsonl", progress=False, warn=warnings.append)
    finally:
        nlp.max_length = 1_000_000
    assert warnings == [
        "line 2: 101 characters, over the pipeline's max_length of 100 (skipped)",
        "line 3: longer than 1,600 bytes, over the pipeline's max_length of 100 characters (skipped)",
    ]
    assert stats.skipped == 2
    assert [r["line"] for r in read_jsonl(tmp_path / "out.jsonl")] == [1, 4]


@Language.component("nan_tag_probs")
def nan_tag_probs(doc):
    """Stands for a model gone wrong: every probability NaN."""
    for token in doc:
        token._.tag_prob = math.nan
        token._.tag_top_k = [(token.tag_, math.nan)]
    return doc


def test_nan_never_reaches_the_output(toy_pipeline, tmp_path):
    nlp = spacy.load(toy_pipeline)
    nlp.add_pipe("nan_tag_probs")
    source = tmp_path / "in.txt"
    source.write_text(TOY_TEXTS[0] + "\n")
    tag_file(nlp, source, tmp_path / "out.jsonl", progress=False)
    tag_file(nlp, source, tmp_path / "out.conllu", progress=False)

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    line = (tmp_path / "out.jsonl").read_text()
    token = json.loads(line, parse_constant=refuse)["tokens"][0]
    assert token["prob"] is None and token["top_k"] == [[token["tag"], None]]
    assert "TagProb" not in (tmp_path / "out.conllu").read_text()


# Files: the output is complete or not there at all; errors are one line.


def run_tag(run_python, toy_pipeline, *args, **kwargs):
    return run_python("-m", "spacy_lstm_tagger", "tag", toy_pipeline, *args, check=False, **kwargs)


def assert_one_line_error(out, message):
    assert out.returncode == 1
    assert out.stderr.splitlines() == [f"error: {message}"]


def assert_refused(toy_pipeline, *args, message):
    """What the command says (after "error: ", in one line: see
    test_output_that_is_the_input_is_refused) for arguments checked before the
    pipeline is loaded; run in this process, which saves starting one."""
    with pytest.raises(ValueError) as refusal:
        main(["tag", str(toy_pipeline), *map(str, args), "--quiet"])
    assert str(refusal.value) == message


def test_output_that_is_the_input_is_refused(toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.txt"
    source.write_text(TOY_TEXTS[0] + "\n")
    (tmp_path / "symlink.txt").symlink_to(source)
    (tmp_path / "hardlink.txt").hardlink_to(source)
    out = run_tag(run_python, toy_pipeline, source, source)
    assert_one_line_error(out, f"{source}: the output is the input file; tagging would erase it")
    for name in ("symlink.txt", "hardlink.txt"):
        target = tmp_path / name
        assert_refused(toy_pipeline, source, target, message=f"{target}: the output is the input file; tagging would erase it")
    assert source.read_text() == TOY_TEXTS[0] + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hardlink.txt", "in.txt", "symlink.txt"]


def test_an_input_that_is_a_working_file_of_the_output_is_refused(toy_pipeline, tmp_path):
    # tag MODEL data.jsonl.partial data.jsonl would write its output over its input.
    source = tmp_path / "data.jsonl.partial"
    content = json.dumps({"text": TOY_TEXTS[0]}) + "\n"
    source.write_text(content)
    target = tmp_path / "data.jsonl"
    assert_refused(
        toy_pipeline, source, target, "--input-format", "jsonl",
        message=f"{source}: the input is the output's working file {source}; tagging would overwrite it",
    )
    resuming = tmp_path / "data.jsonl.partial.tmp"
    resuming.write_text(content)
    assert_refused(
        toy_pipeline, resuming, target, "--input-format", "jsonl", "--resume",
        message=f"{resuming}: the input is the output's working file for --resume {resuming}; "
        "tagging would overwrite it",
    )
    # Through a link to the folder, or a hard link, too.
    (tmp_path / "link").symlink_to(tmp_path)
    (tmp_path / "other.txt").hardlink_to(source)
    for linked, output in [(source, tmp_path / "link" / "data.jsonl"), (tmp_path / "other.txt", target)]:
        with pytest.raises(ValueError, match="the input is the output's working file"):
            main(["tag", str(toy_pipeline), str(linked), str(output), "--input-format", "jsonl", "--quiet"])
    assert source.read_text() == content and resuming.read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data.jsonl.partial", "data.jsonl.partial.tmp", "link", "other.txt"
    ]


def test_a_device_or_fifo_output_is_written_into_not_replaced(nlp, toy_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(f"{TOY_TEXTS[0]}\n{TOY_TEXTS[1]}\n")
    # A link to /dev/null (a link, so that a run that replaced it would not
    # replace the machine's /dev/null): written into, and both stay what they are.
    null = tmp_path / "null.jsonl"
    null.symlink_to(os.devnull)
    stats = tag_file(nlp, source, null, progress=False)
    assert stats.docs == 2 and null.is_symlink() and os.path.realpath(null) == os.devnull
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert_refused(
        toy_pipeline, source, null, "--resume",
        message=f"{null}: is a character device, written as the run goes; --resume needs an output file",
    )
    # A FIFO: what its reader reads is the output, and it stays a FIFO.
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    # Its reader, opened first (a small output fits in the pipe's buffer).
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        tag_file(nlp, source, fifo, progress=False)
        received = os.read(reader, 1 << 20).decode()
    finally:
        os.close(reader)
    tag_file(nlp, source, tmp_path / "expected.jsonl", progress=False)
    assert received == (tmp_path / "expected.jsonl").read_text()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expected.jsonl", "fifo.jsonl", "in.txt", "null.jsonl"]


def test_a_linked_output_is_written_through_the_link(nlp, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(f"{TOY_TEXTS[0]}\n")
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "today.jsonl"
    target.write_text("an earlier run\n")
    latest = tmp_path / "latest.jsonl"
    latest.symlink_to(target)
    dangling = tmp_path / "next.jsonl"  # its target does not exist yet
    dangling.symlink_to(tmp_path / "runs" / "tomorrow.jsonl")
    for link in (latest, dangling):
        tag_file(nlp, source, link, progress=False)
        assert link.is_symlink()
    assert [r["text"] for r in read_jsonl(target)] == [TOY_TEXTS[0]]
    assert (tmp_path / "runs" / "tomorrow.jsonl").read_text() == target.read_text()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["today.jsonl", "tomorrow.jsonl"]


def test_bad_options_and_paths_are_refused(toy_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(TOY_TEXTS[0] + "\n")
    cases = [
        ([source, tmp_path / "out.jsonl", "--batch-size", "0"], "--batch-size must be at least 1, not 0"),
        ([source, tmp_path / "out.jsonl", "--batch-size", "-2"], "--batch-size must be at least 1, not -2"),
        ([source, tmp_path / "out.jsonl", "--n-process", "0"], "--n-process must be at least 1, not 0"),
        ([tmp_path, tmp_path / "out.jsonl"], f"{tmp_path}: is a folder, not an input file"),
        ([tmp_path / "no.txt", tmp_path / "out.jsonl"], f"{tmp_path / 'no.txt'}: no such input file"),
        ([source, tmp_path / "no" / "out.jsonl"], f"{tmp_path / 'no' / 'out.jsonl'}: the folder {tmp_path / 'no'} does not exist"),
        ([source, source / "out.jsonl"], f"{source / 'out.jsonl'}: the folder {source} is not a folder"),
        ([source, tmp_path], f"{tmp_path}: is a folder, not an output file"),
        ([source, tmp_path / "out.jsonl", "--resume"], f"{tmp_path / 'out.jsonl.partial'}: no such file; nothing to resume"),
    ]
    for args, message in cases:
        assert_refused(toy_pipeline, *args, message=message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_damaged_gzip_input_keeps_what_was_tagged(toy_pipeline, tmp_path, run_python):
    lines = "".join(f"{TOY_TEXTS[i % 2]}\n" for i in range(2000))
    source = tmp_path / "in.txt.gz"
    source.write_bytes(gzip.compress(lines.encode())[:-40])  # cut off near its end
    target = tmp_path / "out.jsonl"
    out = run_tag(run_python, toy_pipeline, source, target, "--quiet")
    partial = tmp_path / "out.jsonl.partial"
    records = read_jsonl(partial)
    n = len(records)
    assert_one_line_error(
        out,
        f"{source}: damaged gzip data after line {n} (Compressed file ended before the "
        f"end-of-stream marker was reached); what was tagged is in {partial}, and --resume continues it",
    )
    assert 1000 < n < 2000 and [r["line"] for r in records] == list(range(1, n + 1))
    assert not target.exists()
    partial.unlink()  # else the next run refuses to start afresh over it
    (tmp_path / "out.jsonl.partial.origin.json").unlink()
    source.write_bytes(b"not gzip\n")
    out = run_tag(run_python, toy_pipeline, source, target, "--quiet")
    assert out.stderr.startswith(f"error: {source}: damaged gzip data after line 0 (Not a gzipped file")


def test_a_broken_pipe_is_one_line(toy_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(f"{TOY_TEXTS[0]}\n" * 5000)
    # As `tag MODEL in.txt - | head -1`: the reader goes after one line.
    with subprocess.Popen(
        [sys.executable, "-m", "spacy_lstm_tagger", "tag", str(toy_pipeline), str(source), "-", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        assert json.loads(proc.stdout.readline())["line"] == 1
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=120) == 1
    assert stderr.splitlines() == ["error: stdout: cannot be written (Broken pipe)"]


@pytest.mark.parametrize("name", ["out.jsonl.gz", "out.conllu"])
def test_resume_after_a_killed_run(nlp, toy_pipeline, tmp_path, run_python, name):
    lines = [TOY_TEXTS[i % 2] if i % 7 else "" for i in range(300)]
    source = tmp_path / "in.txt"
    source.write_text("".join(line + "\n" for line in lines))
    complete = tmp_path / "complete" / name
    complete.parent.mkdir()
    tag_file(nlp, source, complete, progress=False)
    data = complete.read_bytes()
    target = tmp_path / name
    partial = tmp_path / (name + ".partial")
    # What a run stopped halfway leaves: a file cut off mid-document (here by
    # a file size limit, at half the output).
    size = len(data) // 2 - 5
    killed = subprocess.run(
        [sys.executable, "-m", "spacy_lstm_tagger", "tag", str(toy_pipeline), str(source), str(target), "--quiet"],
        capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size)),
    )
    assert killed.returncode == 1 and partial.stat().st_size == size, killed.stderr
    out = run_python("-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, target, "--resume")
    assert "kept" in out.stderr and "documents of the earlier run" in out.stderr
    content = gzip.decompress if name.endswith(".gz") else bytes  # a gzip header holds a time
    assert content(target.read_bytes()) == content(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["complete", "in.txt", name])


def interrupted_run(nlp, source, target):
    """Tag `source`, whose third line is bad, as a run that Ctrl-C stops at
    that line: what it leaves is OUTPUT.partial and its origin."""
    source.write_bytes(f"{TOY_TEXTS[0]}\n{TOY_TEXTS[1]}\na\x00b\n{TOY_TEXTS[0]}\n".encode())
    stats = tag_file(
        nlp, source, target, batch_size=1, progress=False,
        warn=lambda message: os.kill(os.getpid(), signal.SIGINT),
    )
    assert stats.interrupted == "SIGINT"
    return stats


def test_resume_keeps_only_a_partial_output_of_this_run(nlp, toy_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    target = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    origin = tmp_path / "out.jsonl.partial.origin.json"
    interrupted_run(nlp, source, target)
    kept = partial.read_text()
    assert [r["line"] for r in read_jsonl(partial)] == [1, 2]
    refusal = (
        f"{partial}: {{}}, so it is not known to be the partial output of this input, model and "
        f"format; resume with those that wrote it, or delete it (and {origin}) to start over"
    )
    # A fresh run does not overwrite it.
    with pytest.raises(TagIOError) as error:
        tag_file(nlp, source, target, progress=False)
    assert str(error.value) == (
        f"{partial}: left by an earlier run; run again with --resume to continue it, or delete it to start over"
    )
    other = tmp_path / "other.txt"  # the same lines, another input
    other.write_bytes(source.read_bytes())
    records = read_jsonl(partial)
    past_the_end = dict(records[1], line=9)
    other_text = dict(records[1], text=TOY_TEXTS[0])
    cases = [
        ({"input_path": other}, kept, f"it was written from another input ({source})"),
        ({"output_format": "conllu"}, kept, "it was written with another output format (jsonl)"),
        ({}, kept.replace(TOY_TEXTS[1], TOY_TEXTS[1].upper()), "its document of input line 2 is not that line's"),
        ({}, kept + json.dumps(past_the_end) + "\n", "its input line 9 is past the input's end"),
        ({}, "".join(json.dumps(r) + "\n" for r in records[::-1]), "its input line 1 comes after line 2"),
        ({}, json.dumps(records[0]) + "\n" + json.dumps(other_text) + "\n", "its document of input line 2 is not that line's"),
    ]
    for options, content, problem in cases:
        partial.write_text(content)
        with pytest.raises(TagIOError) as error:
            tag_file(nlp, options.get("input_path", source), target, resume=True, progress=False,
                     output_format=options.get("output_format"))
        assert str(error.value) == refusal.format(problem)
        assert partial.read_text() == content and origin.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "other.txt", partial.name, origin.name]
    source.touch()  # a newer input, maybe other lines
    partial.write_text(kept)
    with pytest.raises(TagIOError, match="its input has changed since it was written"):
        tag_file(nlp, source, target, resume=True, progress=False)
    os.utime(source, ns=(os.stat(source).st_atime_ns, json.loads(origin.read_text())["input_mtime_ns"]))
    # Another model's (here, the same with sentences) is not kept either.
    partial.write_text(kept)
    other_model = spacy.load(toy_pipeline)
    other_model.add_pipe("sentencizer", first=True)
    with pytest.raises(TagIOError, match="it was written by another model, so"):
        tag_file(other_model, source, target, resume=True, progress=False)
    # Its own partial output is kept, and then both files go.
    stats = tag_file(nlp, source, target, resume=True, progress=False, warn=lambda message: None)
    assert (stats.resumed_docs, stats.docs) == (2, 1)
    tag_file(nlp, source, tmp_path / "expected.jsonl", progress=False, warn=lambda message: None)
    assert target.read_text() == (tmp_path / "expected.jsonl").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expected.jsonl", "in.txt", "other.txt", "out.jsonl"]


def test_a_partial_output_that_is_no_file_is_refused(nlp, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(TOY_TEXTS[0] + "\n")
    target = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    partial.mkdir()
    (tmp_path / "out.jsonl.partial.origin.json").write_text("{}")
    with pytest.raises(TagIOError, match=f"^{partial}: is not a regular file, so it is not known"):
        tag_file(nlp, source, target, resume=True, progress=False)
    assert partial.is_dir() and not target.exists()


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_with_two_processes_writes_what_was_tagged(toy_pipeline, tmp_path, signame):
    n = 20_000
    source = tmp_path / "in.txt"
    source.write_text(f"{TOY_TEXTS[0]}\n" * n)
    target = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    command = [sys.executable, "-m", "spacy_lstm_tagger", "tag", str(toy_pipeline), str(source),
               str(target), "--n-process", "2", "--batch-size", "20", "--quiet"]
    signum = getattr(signal, signame)
    # A session of its own: Ctrl-C goes to the whole group, as a terminal sends
    # it; SIGTERM, as `kill` sends it, to the main process only.
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
        try:
            for _ in range(1200):  # until the first documents are written
                if partial.exists() and partial.stat().st_size:
                    break
                time.sleep(0.1)
            if signum == signal.SIGINT:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)
            stderr = proc.stderr.read()
            returncode = proc.wait(timeout=60)  # not a hang
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert returncode == 128 + signum, stderr
    records = read_jsonl(partial)
    assert stderr.splitlines() == [
        f"interrupted by {signame} after input line {len(records):,}: {len(records):,} documents "
        f"are in {partial}; run again with --resume to continue"
    ]
    assert 0 < len(records) < n and [r["line"] for r in records] == list(range(1, len(records) + 1))
    assert all([t["tag"] for t in r["tokens"]] == TOY_TAGS[0] for r in records)
    assert not target.exists()


def limit_file_size():
    # Past this size a write fails with EFBIG, as on a full disk (Python
    # ignores SIGXFSZ, so the write fails instead of killing the process).
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_failed_write_keeps_the_partial_output_for_resume(nlp, toy_pipeline, tmp_path, run_python):
    source = tmp_path / "in.txt"
    source.write_text("".join(f"{TOY_TEXTS[i % 2]}\n" for i in range(400)))
    target = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    out = subprocess.run(
        [sys.executable, "-m", "spacy_lstm_tagger", "tag", str(toy_pipeline), str(source), str(target), "--quiet"],
        capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size,
    )
    assert_one_line_error(
        out,
        f"{partial}: cannot be written (File too large); what was tagged is in {partial}, "
        "and --resume continues it",
    )
    assert partial.stat().st_size == 20_000 and not target.exists()
    run_python("-m", "spacy_lstm_tagger", "tag", toy_pipeline, source, target, "--resume", "--quiet")
    tag_file(nlp, source, tmp_path / "expected.jsonl", progress=False)
    assert target.read_text() == (tmp_path / "expected.jsonl").read_text()


# The toy sentences with UPOS labels, for a pipeline that predicts both.
UPOS_DATA = [
    ("The dog ate the apple".split(), "DET NN V DET NN".split(), "DET NOUN VERB DET NOUN".split()),
    ("Everybody read that book".split(), "NN V DET NN".split(), "PRON VERB DET NOUN".split()),
]


@pytest.fixture(scope="module")
def upos_pipeline(tmp_path_factory):
    """A small pipeline trained until it tags the toy sentences' XPOS and UPOS exactly."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_tagger", config={"model": SMALL_MODEL, "predict_pos": True})
    examples = [
        Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, tags=tags, pos=pos))
        for words, tags, pos in UPOS_DATA
    ]
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    docs = list(nlp.pipe(" ".join(words) for words, _, _ in UPOS_DATA))
    assert [[(t.tag_, t.pos_) for t in doc] for doc in docs] == [list(zip(t, p)) for _, t, p in UPOS_DATA]
    path = tmp_path_factory.mktemp("upos") / "pipeline"
    nlp.to_disk(path)
    return path


def test_conllu_columns_carry_upos_xpos_and_the_models_probability(upos_pipeline, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("The dog ate the apple\nEverybody read that book\n", encoding="utf-8")
    assert main(["tag", str(upos_pipeline), str(source), str(tmp_path / "out.txt"), "--format", "conllu", "--quiet"]) == 0
    # The probability of each predicted tag, from the component's own scores:
    # the tag columns come first, each head normalised on its own.
    nlp = spacy.load(upos_pipeline)
    tagger = nlp.get_pipe("lstm_tagger")
    n_tags = len(tagger.labels)
    probs = []
    for words, _, _ in UPOS_DATA:
        (scores,) = tagger.predict([Doc(nlp.vocab, words=words)])
        probs.append([f"{float(row[:n_tags].max()):.4f}" for row in scores])
    assert all(0.5 < float(p) <= 1.0 for doc in probs for p in doc)  # 1 - p would differ
    expected = []
    for n, ((words, tags, pos), doc_probs) in enumerate(zip(UPOS_DATA, probs), start=1):
        expected += [f"# sent_id = {n}-1", f"# text = {' '.join(words)}"]
        expected += [
            f"{i}\t{w}\t_\t{u}\t{t}\t_\t_\t_\t_\tTagProb={p}"
            for i, (w, t, u, p) in enumerate(zip(words, tags, pos, doc_probs), start=1)
        ]
        expected.append("")
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").split("\n") == expected + [""]


# test_morph's sentences, which the morph_pipeline fixture overfits: (word,
# tag = UPOS, FEATS, lemma) of each token, written out by hand.
from test_morph import SENTENCES as MORPH_SENTENCES  # noqa: E402

MORPH_TEXTS = [" ".join(word for word, *_ in sentence) for sentence in MORPH_SENTENCES]


def conllu_rows(path):
    """The columns of each token line of a CoNLL-U file, but MISC."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return [line.split("\t")[:9] for line in lines if line and not line.startswith("#")]


def test_jsonl_tokens_carry_the_features_and_lemmas_of_the_pipeline(morph_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("".join(text + "\n" for text in MORPH_TEXTS), encoding="utf-8")
    assert main(["tag", str(morph_pipeline), str(source), str(tmp_path / "out.jsonl"), "--quiet"]) == 0
    records = read_jsonl(tmp_path / "out.jsonl")
    for record, sentence in zip(records, MORPH_SENTENCES, strict=True):
        for token, (word, tag, feats, lemma) in zip(record["tokens"], sentence, strict=True):
            assert list(token) == ["text", "tag", "pos", "morph", "lemma", "prob", "morph_prob"]
            assert token["prob"] > 0.5 and token["morph_prob"] > 0.5
            del token["prob"], token["morph_prob"]
            assert token == {
                "text": word, "tag": tag, "pos": tag, "morph": "" if feats == "_" else feats, "lemma": lemma
            }


def test_conllu_lemma_and_feats_columns(morph_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("".join(text + "\n" for text in MORPH_TEXTS), encoding="utf-8")
    target = tmp_path / "out.conllu"
    assert main(["tag", str(morph_pipeline), str(source), str(target), "--quiet"]) == 0
    expected = [
        [str(i), word, lemma, tag, tag, feats, "_", "_", "_"]
        for sentence in MORPH_SENTENCES
        for i, (word, tag, feats, lemma) in enumerate(sentence, start=1)
    ]
    assert conllu_rows(target) == expected
    docs = list(read_conllu(target, spacy.blank("en").vocab))
    assert [[(t.lemma_, str(t.morph) or "_") for t in doc] for doc in docs] == [
        [(lemma, feats) for _, _, feats, lemma in sentence] for sentence in MORPH_SENTENCES
    ]


@Language.component("test_odd_lemmas", assigns=["token.lemma"])
def odd_lemmas(doc):
    """Lemmas (and for the first token a FEATS value) with a tab and line
    breaks, as a component of someone else's might write them."""
    for token in doc:
        token.lemma_ = f"{token.text.lower()}\t\n\n\u2028x"
    if len(doc):
        doc[0].set_morph("Note=a\tb")
    return doc


def test_a_value_with_a_tab_or_line_break_cannot_break_a_conllu_line(toy_pipeline, tmp_path):
    nlp = spacy.load(toy_pipeline)
    nlp.add_pipe("test_odd_lemmas")
    source = tmp_path / "in.txt"
    source.write_text(TOY_TEXTS[0] + "\n", encoding="utf-8")
    tag_file(nlp, source, tmp_path / "out.conllu", progress=False)
    # Replaced by spaces: each a column of its own token line still.
    assert conllu_rows(tmp_path / "out.conllu") == [
        [str(i), word, f"{word.lower()}    x", "_", tag, "Note=a b" if i == 1 else "_", "_", "_", "_"]
        for i, (word, tag) in enumerate(zip(TOY_TEXTS[0].split(), TOY_TAGS[0]), start=1)
    ]
    # JSON holds any string as it is; the pipeline assigns lemmas, not morph.
    tag_file(nlp, source, tmp_path / "out.jsonl", progress=False)
    # (JSONL lines end at "\n" only: U+2028 is a character of a JSON string.)
    (line,) = (tmp_path / "out.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    tokens = json.loads(line)["tokens"]
    assert [list(token) for token in tokens] == [["text", "tag", "pos", "lemma", "prob"]] * 5
    assert tokens[1]["lemma"] == "dog\t\n\n\u2028x"


@Language.component("test_period_lemmas", assigns=["token.lemma"])
def period_lemmas(doc):
    for token in doc:
        if token.text == ".":
            token.lemma_ = ".\n\n."
    return doc


# CoNLL-U does not say where a document ends: resume keeps all but the last.
@pytest.mark.parametrize("name, kept", [("out.jsonl", 2), ("out.conllu", 1)])
def test_resume_keeps_documents_with_features_and_lemmas(morph_pipeline, tmp_path, name, kept):
    nlp = spacy.load(morph_pipeline)
    nlp.add_pipe("test_period_lemmas")  # a lemma that would end a CoNLL-U sentence
    source, target = tmp_path / "in.txt", tmp_path / name
    source.write_bytes(f"{MORPH_TEXTS[0]}\n{MORPH_TEXTS[1]}\na\x00b\n{MORPH_TEXTS[2]}\n".encode())
    stats = tag_file(
        nlp, source, target, batch_size=1, progress=False,
        warn=lambda message: os.kill(os.getpid(), signal.SIGINT),
    )
    assert stats.interrupted == "SIGINT" and stats.docs == 2
    stats = tag_file(nlp, source, target, resume=True, progress=False, warn=lambda message: None)
    assert (stats.resumed_docs, stats.docs) == (kept, 3 - kept)
    tag_file(nlp, source, tmp_path / f"expected-{name}", progress=False, warn=lambda message: None)
    assert target.read_text() == (tmp_path / f"expected-{name}").read_text()
    sentences = [MORPH_SENTENCES[0], MORPH_SENTENCES[1], MORPH_SENTENCES[2]]
    if name.endswith(".conllu"):
        assert [row[2] for row in conllu_rows(target)] == [
            ".  ." if word == "." else lemma for sentence in sentences for word, _, _, lemma in sentence
        ]
        assert [row[5] for row in conllu_rows(target)] == [f for s in sentences for _, _, f, _ in s]
    else:
        assert [[(t["morph"] or "_", t["lemma"]) for t in r["tokens"]] for r in read_jsonl(target)] == [
            [(feats, ".\n\n." if word == "." else lemma) for word, _, feats, lemma in s] for s in sentences
        ]
