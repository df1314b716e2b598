"""`python -m spacy_lstm_tagger tag MODEL INPUT OUTPUT` and `tag.tag_file`."""
import gzip
import json
import random
import textwrap

import pytest
import spacy

from spacy_lstm_tagger.conllu import read_conllu
from spacy_lstm_tagger.tag import BadLineError, tag_file

from helpers import TOY_TAGS, TOY_TEXTS

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
    from spacy_lstm_tagger.__main__ import main
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
