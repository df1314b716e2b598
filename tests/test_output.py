"""`tagging/output.py` on its own: the output's paths, the partial file and its
origin, resume, and reading back a cut-off output. Every expected value is
written out here by hand (file contents, paths, messages); no pipeline needed."""
import gzip
import io
import json
import locale
import os
import socket
import stat
import sys
import tempfile
from pathlib import Path

import pytest

from spacy_lstm_tagger.tagging.errors import BadLineError, Problem, TagIOError
from spacy_lstm_tagger.tagging.output import (
    AtomicOutput,
    check_no_leftovers,
    complete_documents,
    model_digest,
    open_output,
    origin_difference,
    output_lines,
    partial_of,
    run_files,
    run_origin,
    same_text,
    stream_kind,
    unwritable_kind,
    written_path,
)

# Two JSONL records as `tag` writes them, and two documents of CoNLL-U (the
# second of two sentences), with the input lines they come from.
JSONL_1 = '{"line": 1, "text": "The dog ate", "tokens": []}\n'
JSONL_3 = '{"line": 3, "text": "Everybody read", "tokens": []}\n'
CONLLU_2 = "# sent_id = 2-1\n# text = The dog\n1\tThe\n2\tdog\n\n"
CONLLU_4 = (
    "# sent_id = 4-1\n# text = It ran.\n1\tIt\n2\tran\n3\t.\n\n"
    "# sent_id = 4-2\n# text = Then it sat.\n1\tThen\n2\tit\n3\tsat\n4\t.\n\n"
)
CONLLU_5 = "# sent_id = 5-1\n# text = Gone\n1\tGone\n\n"
INPUT_LINES = ["The dog ate", "", "Everybody read"]


def origin_of(**changes):
    origin = {
        "input": "/in.txt",
        "input_size": 10,
        "input_mtime_ns": 5,
        "input_format": "text",
        "output_format": "jsonl",
        "model_sha256": "ab",
    }
    return dict(origin, **changes)


def input_documents(lines=INPUT_LINES):
    return lambda: [(number, text) for number, text in enumerate(lines, start=1)]


def names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_a_link_is_written_through_to_its_target(tmp_path):
    target = tmp_path / "real.jsonl"
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    assert written_path(link) == str(target) and written_path(target) == str(target)
    assert written_path("-") == "-" and isinstance(written_path(target), str)
    assert partial_of(link) == str(target) + ".partial"
    assert partial_of(tmp_path / "new.jsonl") == str(tmp_path / "new.jsonl.partial")


def test_what_kind_of_output_a_path_is(tmp_path):
    fifo, folder, plain = tmp_path / "fifo", tmp_path / "folder", tmp_path / "plain"
    os.mkfifo(fifo)
    folder.mkdir()
    plain.write_text("x")
    assert stream_kind("-") == "stdout"
    assert stream_kind(os.devnull) == "a character device"
    assert stream_kind(fifo) == "a FIFO"
    assert stream_kind(plain) is None and stream_kind(folder) is None and stream_kind(tmp_path / "no") is None
    assert [unwritable_kind(p) for p in (folder, plain, os.devnull, fifo, tmp_path / "no")] == [
        "a folder", None, None, None, None
    ]
    assert partial_of("-") is None and partial_of(os.devnull) is None and partial_of(fifo) is None
    # A socket (bound in a short folder: a socket's path has a length limit).
    with tempfile.TemporaryDirectory() as short:
        path = os.path.join(short, "s")
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(path)
            assert unwritable_kind(path) == "a socket" and stream_kind(path) is None
    blocks = [p for p in ("/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1") if os.path.exists(p)]
    for block in blocks[:1]:
        if stat.S_ISBLK(os.stat(block).st_mode):
            assert unwritable_kind(block) == "a block device"


def test_the_files_a_run_may_write(tmp_path):
    out = tmp_path / "out.jsonl"
    assert run_files("-") == []
    assert run_files(os.devnull) == [(os.devnull, "the output")]
    base = str(out)
    own = [
        (base + ".partial", "the output's working file"),
        (base + ".partial.tmp", "the output's working file for --resume"),
        (base + ".partial.origin.json", "the record of what the output's working file holds"),
    ]
    assert run_files(out) == [(base, "the output")] + own
    link = tmp_path / "link"
    link.symlink_to(out)
    assert run_files(link) == [(str(link), "the output"), (base, "the output (through the link)")] + own


def test_run_origin_records_the_input_as_it_is(tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes(b"0123456789")
    os.utime(source, ns=(1_000_000_123, 2_000_000_456))
    link = tmp_path / "link.txt"
    link.symlink_to(source)
    assert run_origin(link, "text", "conllu", "ab12") == {
        "input": str(source),
        "input_size": 10,
        "input_mtime_ns": 2_000_000_456,
        "input_format": "text",
        "output_format": "conllu",
        "model_sha256": "ab12",
    }


@pytest.mark.parametrize(
    "changes, difference",
    [
        ({}, None),
        ({"input": "/other.txt"}, "it was written from another input (/other.txt)"),
        ({"input_size": 11}, "its input has changed since it was written (size or modification time)"),
        ({"input_mtime_ns": 6}, "its input has changed since it was written (size or modification time)"),
        ({"input_format": "jsonl"}, "it was written with another input format (jsonl)"),
        ({"output_format": "conllu"}, "it was written with another output format (conllu)"),
        ({"model_sha256": "cd"}, "it was written by another model"),
    ],
)
def test_origin_difference_names_what_differs(changes, difference):
    assert origin_difference(origin_of(**changes), origin_of()) == difference


def test_origin_difference_of_a_record_that_lacks_keys():
    assert origin_difference({}, origin_of()) == "it was written from another input (None)"
    recorded = {"input": "/in.txt", "input_size": 10, "input_mtime_ns": 5}
    assert origin_difference(recorded, origin_of()) == "it was written with another input format (None)"
    recorded = origin_of()
    del recorded["model_sha256"]
    assert origin_difference(recorded, origin_of()) == "it was written by another model"
    recorded = origin_of()
    del recorded["input_mtime_ns"]
    assert origin_difference(recorded, origin_of()).startswith("its input has changed")


def test_model_digest_is_the_sha256_of_the_pipeline_without_its_vocabulary():
    class Pipeline:
        def to_bytes(self, exclude):
            assert list(exclude) == ["vocab"]
            return b"abc"

    # SHA-256 of "abc", FIPS 180-2's first example.
    assert model_digest(Pipeline()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("leftover", [".partial", ".partial.tmp", ".partial.origin.json"])
def test_a_leftover_of_an_earlier_run_is_refused(tmp_path, leftover):
    out = tmp_path / "out.jsonl"
    check_no_leftovers(out)  # nothing left: nothing to say
    (tmp_path / ("out.jsonl" + leftover)).symlink_to(tmp_path / "gone")  # a dangling link counts
    with pytest.raises(TagIOError) as error:
        check_no_leftovers(out)
    assert str(error.value) == (
        f"{out}{leftover}: left by an earlier run; run again with --resume to continue it, "
        "or delete it to start over"
    )


def test_open_output_writes_utf8_with_plain_newlines(tmp_path):
    with open_output(tmp_path / "a.txt", False) as f:
        f.write("é\n")
    with open_output(tmp_path / "a.txt", False, "a") as f:
        f.write("b\r\n")
    assert (tmp_path / "a.txt").read_bytes() == b"\xc3\xa9\nb\r\n"
    with open_output(tmp_path / "a.gz", True) as f:
        f.write("é\n")
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == b"\xc3\xa9\n"
    with pytest.raises(FileExistsError):
        open_output(tmp_path / "a.gz", True, "x")


def test_a_run_writes_the_partial_file_then_renames_it(tmp_path):
    out = tmp_path / "out.jsonl"
    with AtomicOutput(out, "jsonl", origin=origin_of()) as output:
        assert (output.path, output.partial, output.working) == (str(out), f"{out}.partial", f"{out}.partial")
        assert names(tmp_path) == ["out.jsonl.partial", "out.jsonl.partial.origin.json"]
        origin_text = (tmp_path / "out.jsonl.partial.origin.json").read_text(encoding="utf-8")
        assert json.loads(origin_text) == origin_of() and origin_text.endswith("}\n")
        assert '\n  "input": "/in.txt",\n' in origin_text  # indented, for a person to read
        output.file.write(JSONL_1)
        assert output.kept == f"; what was tagged is in {out}.partial, and --resume continues it"
        assert not output.compressed and (output.resumed_after, output.resumed_docs) == (0, 0)
    assert names(tmp_path) == ["out.jsonl"] and out.read_text() == JSONL_1


def test_an_origin_that_is_not_ascii_is_written_as_it_is(tmp_path):
    out = tmp_path / "out.jsonl"
    with AtomicOutput(out, "jsonl", origin=origin_of(input="/dé.txt")):
        text = (tmp_path / "out.jsonl.partial.origin.json").read_bytes()
    assert '"/dé.txt"'.encode("utf-8") in text


def test_a_gzipped_output_is_gzipped_and_without_origin_none_is_written(tmp_path):
    out = tmp_path / "out.jsonl.gz"
    with AtomicOutput(out, "jsonl") as output:
        assert output.compressed and names(tmp_path) == ["out.jsonl.gz.partial"]
        output.file.write(JSONL_1)
    assert names(tmp_path) == ["out.jsonl.gz"] and gzip.decompress(out.read_bytes()) == JSONL_1.encode()


def test_a_link_output_replaces_its_target_and_stays_a_link(tmp_path):
    target, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    target.write_text("old\n")
    link.symlink_to(target)
    with AtomicOutput(link, "jsonl", origin=origin_of()) as output:
        assert output.path == str(target)
        output.file.write(JSONL_1)
    assert link.is_symlink() and target.read_text() == JSONL_1
    assert names(tmp_path) == ["link.jsonl", "real.jsonl"]


def test_a_file_that_appears_meanwhile_is_not_overwritten(tmp_path):
    out = tmp_path / "out.jsonl"
    theirs = tmp_path / "out.jsonl.partial"
    theirs.write_text("theirs")
    # As if it appeared after the check for leftovers: opened with "x", it is refused.
    with pytest.raises(TagIOError) as error:
        AtomicOutput(out, "jsonl")._open(str(theirs), "x")
    assert str(error.value) == f"{theirs}: appeared while this run started; it is left as it is"
    assert theirs.read_text() == "theirs"


def test_an_output_in_a_missing_folder_cannot_be_written(tmp_path):
    out = tmp_path / "no" / "out.jsonl"
    with pytest.raises(TagIOError) as error:
        with AtomicOutput(out, "jsonl"):
            pass
    assert str(error.value) == f"{out}.partial: cannot be written (No such file or directory)"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_run_that_ends_early_keeps_the_partial_file_and_origin(tmp_path, error):
    out = tmp_path / "out.jsonl"
    with pytest.raises(error):
        with AtomicOutput(out, "jsonl", origin=origin_of()) as output:
            output.file.write(JSONL_1)
            raise error("stop")
    assert names(tmp_path) == ["out.jsonl.partial", "out.jsonl.partial.origin.json"]
    assert (tmp_path / "out.jsonl.partial").read_text() == JSONL_1


def test_a_bad_line_that_stops_the_run_still_completes_the_output(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(BadLineError):
        with AtomicOutput(out, "jsonl", origin=origin_of()) as output:
            output.file.write(JSONL_1)
            raise BadLineError("line 2")
    assert names(tmp_path) == ["out.jsonl"] and out.read_text() == JSONL_1


def test_keep_partial_ends_as_after_an_error(tmp_path):
    out = tmp_path / "out.jsonl"
    with AtomicOutput(out, "jsonl", origin=origin_of()) as output:
        output.file.write(JSONL_1)
        output.keep_partial()
    assert names(tmp_path) == ["out.jsonl.partial", "out.jsonl.partial.origin.json"]


def test_a_write_error_names_the_file_and_where_the_output_is(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(TagIOError) as error:
        with AtomicOutput(out, "jsonl", origin=origin_of()):
            raise OSError(28, "No space left on device")
    assert str(error.value) == (
        f"{out}.partial: cannot be written (No space left on device); what was tagged is in "
        f"{out}.partial, and --resume continues it"
    )
    with pytest.raises(TagIOError) as error:
        with AtomicOutput(tmp_path / "two.jsonl", "jsonl"):
            raise OSError(28, "No space left on device", "/elsewhere")
    assert str(error.value).startswith("/elsewhere: cannot be written (No space left on device); ")
    with pytest.raises(TagIOError) as error:
        with AtomicOutput(tmp_path / "three.jsonl", "jsonl"):
            raise OSError("no errno")
    assert str(error.value).startswith(f"{tmp_path / 'three.jsonl'}.partial: cannot be written (no errno); ")


def test_an_error_on_closing_keeps_the_partial_file(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(TagIOError) as error:
        with AtomicOutput(out, "jsonl", origin=origin_of()) as output:
            output.file.write(JSONL_1)
            real_close = output.file.close

            def close():
                real_close()
                raise OSError(5, "Input/output error")

            output.file.close = close
    assert str(error.value).startswith(f"{out}.partial: cannot be written (Input/output error); ")
    assert names(tmp_path) == ["out.jsonl.partial", "out.jsonl.partial.origin.json"]


def test_a_stream_keeps_nothing_to_resume(tmp_path):
    # A FIFO, not /dev/null: a broken run must not be able to replace a device.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with AtomicOutput(fifo, "jsonl", origin=origin_of()) as output:
            assert (output.stream, output.path, output.working) == ("a FIFO", str(fifo), str(fifo))
            assert output.kept == ""
            output.file.write(JSONL_1)
        with pytest.raises(TagIOError) as error:
            with AtomicOutput(fifo, "jsonl"):
                raise OSError(28, "No space left on device")
        assert str(error.value) == f"{fifo}: cannot be written (No space left on device)"
        with pytest.raises(RuntimeError):  # anything else passes through
            with AtomicOutput(fifo, "jsonl"):
                raise RuntimeError("stop")
        assert os.read(reader, 1000) == JSONL_1.encode()
    finally:
        os.close(reader)
    assert names(tmp_path) == ["fifo"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(ValueError) as error:
        AtomicOutput(os.devnull, "jsonl", resume=True, origin=origin_of(), input_documents=input_documents())
    assert str(error.value) == (
        f"{os.devnull}: is a character device, written as the run goes; --resume needs an output file"
    )


def test_a_fifo_is_written_into(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with AtomicOutput(fifo, "jsonl") as output:
            output.file.write(JSONL_1)
        assert os.read(reader, 1000) == JSONL_1.encode()
    finally:
        os.close(reader)
    assert names(tmp_path) == ["fifo"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_stdout_is_written_straight_to(tmp_path):
    stdout, sys.stdout = sys.stdout, io.StringIO()
    try:
        output = AtomicOutput("-", "jsonl")
        assert (output.stream, output.path) == ("stdout", "-")
        with output:
            assert output.file is sys.stdout
            output.file.write(JSONL_1)
        assert not sys.stdout.closed and sys.stdout.getvalue() == JSONL_1  # stdout stays open
    finally:
        sys.stdout = stdout
    assert names(tmp_path) == []

    class Broken:
        def flush(self):
            raise OSError(32, "Broken pipe")

    output = AtomicOutput("-", "jsonl")
    with pytest.raises(TagIOError) as error:
        with output:
            output.file = Broken()
    assert str(error.value) == "stdout: cannot be written (Broken pipe)"
    output = AtomicOutput("-", "jsonl")
    with pytest.raises(TagIOError) as error:
        with output:
            output.file = open(os.devnull, "w")  # flushes fine; the run's own error is named
            raise OSError(5, "Input/output error")
    assert str(error.value) == "stdout: cannot be written (Input/output error)"


def test_resume_needs_a_file_and_the_runs_origin(tmp_path):
    with pytest.raises(ValueError) as error:
        AtomicOutput("-", "jsonl", resume=True, origin=origin_of(), input_documents=input_documents())
    assert str(error.value) == "-: is stdout, written as the run goes; --resume needs an output file"
    for origin, documents in ((None, input_documents()), (origin_of(), None)):
        with pytest.raises(ValueError) as error:
            AtomicOutput(tmp_path / "out", "jsonl", resume=True, origin=origin, input_documents=documents)
        assert str(error.value) == (
            "resume needs the run's origin and input documents to check the partial output against"
        )
    AtomicOutput(tmp_path / "out", "jsonl", resume=False, origin=None)  # a fresh run needs neither


def leave_partial(tmp_path, content, origin=None, name="out.jsonl"):
    """OUTPUT.partial holding `content`, and its origin, as a run killed midway leaves them."""
    out = tmp_path / name
    partial = tmp_path / (name + ".partial")
    if name.endswith(".gz"):
        partial.write_bytes(gzip.compress(content.encode()))
    else:
        partial.write_text(content, encoding="utf-8")
    origin_text = json.dumps(origin or origin_of(), ensure_ascii=False)
    (tmp_path / (name + ".partial.origin.json")).write_text(origin_text, encoding="utf-8")
    return out, partial


def test_resume_keeps_the_complete_documents_and_continues(tmp_path):
    out, partial = leave_partial(tmp_path, JSONL_1 + JSONL_3[:20])  # the second one cut off
    output = AtomicOutput(out, "jsonl", resume=True, origin=origin_of(), input_documents=input_documents())
    assert output.working == f"{out}.partial.tmp"
    with output:
        assert (output.resumed_after, output.resumed_docs) == (1, 1)
        assert names(tmp_path) == ["out.jsonl.partial", "out.jsonl.partial.origin.json", "out.jsonl.partial.tmp"]
        output.file.write(JSONL_3)
    assert names(tmp_path) == ["out.jsonl"] and out.read_text() == JSONL_1 + JSONL_3


def test_a_resumed_run_that_ends_early_leaves_its_progress_in_the_partial_file(tmp_path):
    out, partial = leave_partial(tmp_path, JSONL_1)
    with pytest.raises(RuntimeError):
        with AtomicOutput(out, "jsonl", resume=True, origin=origin_of(), input_documents=input_documents()) as output:
            output.file.write(JSONL_3)
            raise RuntimeError("stop")
    assert names(tmp_path) == ["out.jsonl.partial", "out.jsonl.partial.origin.json"]
    assert partial.read_text() == JSONL_1 + JSONL_3


def test_resume_of_a_gzipped_conllu_output_cut_off_midway(tmp_path):
    content = CONLLU_2 + CONLLU_4 + CONLLU_5
    name = "out.conllu.gz"
    compressed = gzip.compress(content.encode())
    out, partial = leave_partial(tmp_path, "", origin_of(output_format="conllu"), name=name)
    partial.write_bytes(compressed[:-4])  # cut off in the gzip trailer: all the text is there
    lines = ["a", "The dog", "", "It ran. Then it sat.", "Gone"]
    with AtomicOutput(
        out, "conllu", resume=True, origin=origin_of(output_format="conllu"), input_documents=input_documents(lines)
    ) as output:
        # The last document may lack sentences: it is tagged again.
        assert (output.resumed_after, output.resumed_docs) == (4, 2)
        output.file.write(CONLLU_5)
    assert gzip.decompress(out.read_bytes()).decode() == content
    assert names(tmp_path) == [name]


def refusal(tmp_path, problem, name="out.jsonl"):
    partial = tmp_path / (name + ".partial")
    return (
        f"{partial}: {problem}, so it is not known to be the partial output of this input, model "
        f"and format; resume with those that wrote it, or delete it (and {partial}.origin.json) to start over"
    )


def resume(tmp_path, lines=INPUT_LINES, origin=None):
    return AtomicOutput(
        tmp_path / "out.jsonl", "jsonl", resume=True, origin=origin or origin_of(), input_documents=input_documents(lines)
    )


def refused(tmp_path, **options):
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(TagIOError) as error:
        with resume(tmp_path, **options):
            pass
    # Nothing is changed, and the working file of the resume is gone.
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    return str(error.value)


@pytest.mark.parametrize(
    "content, problem",
    [
        (JSONL_3 + JSONL_1, "its input line 1 comes after line 3"),
        (JSONL_1 + JSONL_1, "its input line 1 comes after line 1"),
        (JSONL_1 + '{"line": 4, "text": "x"}\n', "its input line 4 is past the input's end"),
        ('{"line": 2, "text": "The dog ate"}\n', "its document of input line 2 is not that line's"),
        ('{"line": 1, "text": "The cat ate"}\n', "its document of input line 1 is not that line's"),
    ],
)
def test_resume_refuses_documents_that_are_not_the_inputs(tmp_path, content, problem):
    leave_partial(tmp_path, content)
    assert refused(tmp_path) == refusal(tmp_path, problem)


def test_resume_refuses_a_document_of_a_line_that_is_no_document(tmp_path):
    leave_partial(tmp_path, JSONL_1 + '{"line": 2, "text": ""}\n')
    documents = lambda: [(1, "The dog ate"), (2, Problem("not JSON")), (3, "Everybody read")]  # noqa: E731
    with pytest.raises(TagIOError) as error:
        with AtomicOutput(tmp_path / "out.jsonl", "jsonl", resume=True, origin=origin_of(), input_documents=documents):
            pass
    assert str(error.value) == refusal(tmp_path, "its document of input line 2 is not that line's")


def test_resume_compares_with_a_large_line_number_written_with_commas(tmp_path):
    leave_partial(tmp_path, '{"line": 1234, "text": "x"}\n')
    assert refused(tmp_path) == refusal(tmp_path, "its input line 1,234 is past the input's end")


def test_resume_refuses_a_partial_output_it_cannot_prove_its_own(tmp_path):
    out = tmp_path / "out.jsonl"
    partial, origin = tmp_path / "out.jsonl.partial", tmp_path / "out.jsonl.partial.origin.json"
    assert refused(tmp_path) == f"{partial}: no such file; nothing to resume"
    partial.write_text(JSONL_1)
    assert refused(tmp_path) == refusal(tmp_path, f"there is no {origin} saying what it holds")
    origin.write_text("{not json")
    assert refused(tmp_path).startswith(f"{partial}: {origin} cannot be read (Expecting property name")
    origin.write_text("[]")
    assert refused(tmp_path) == refusal(tmp_path, f"{origin} is not a record of its origin")
    origin.write_text(json.dumps(origin_of(model_sha256="cd")))
    assert refused(tmp_path) == refusal(tmp_path, "it was written by another model")
    origin.write_text(json.dumps(origin_of()))
    (tmp_path / "out.jsonl.partial.tmp").write_text("killed")
    assert refused(tmp_path) == (
        f"{partial}.tmp: left by a resumed run that was killed; delete it ({partial} holds what that run "
        "started from) and resume again"
    )
    (tmp_path / "out.jsonl.partial.tmp").unlink()
    partial.unlink()
    partial.mkdir()
    assert refused(tmp_path) == refusal(tmp_path, "is not a regular file")
    partial.rmdir()
    partial.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_text(JSONL_1)
    assert refused(tmp_path) == refusal(tmp_path, "is not a regular file")
    assert not out.exists()


def test_an_origin_that_cannot_be_read_is_refused(tmp_path):
    partial, origin = tmp_path / "out.jsonl.partial", tmp_path / "out.jsonl.partial.origin.json"
    partial.write_text(JSONL_1)
    origin.mkdir()
    with pytest.raises(TagIOError) as error:
        with resume(tmp_path):
            pass
    assert str(error.value).startswith(f"{partial}: {origin} cannot be read ([Errno 21] Is a directory")


def test_output_lines_of_a_cut_off_gzip_file(tmp_path):
    path = tmp_path / "out.gz"
    data = gzip.compress(("a\n" * 10 + "é\n").encode())
    path.write_bytes(data[:-4])  # the trailer is cut
    assert list(output_lines(path, True)) == ["a\n"] * 10 + ["é\n"]
    path.write_bytes(data[:10])
    assert list(output_lines(path, True)) == []
    (tmp_path / "plain").write_bytes(b"a\n\xff\nb")
    assert list(output_lines(tmp_path / "plain", False)) == ["a\n", "\ufffd\n", "b"]


@pytest.mark.parametrize(
    "content, lines",
    [
        (JSONL_1 + JSONL_3, [1, 3]),
        (JSONL_1 + JSONL_3.rstrip("\n"), [1]),  # the last line is cut off
        (JSONL_1 + "{broken\n" + JSONL_3, [1]),
        (JSONL_1 + '{"text": "x"}\n' + JSONL_3, [1]),
        (JSONL_1 + '{"line": "3", "text": "x"}\n' + JSONL_3, [1]),
        (JSONL_1 + "[3]\n" + JSONL_3, [1]),
        ("", []),
    ],
)
def test_complete_jsonl_documents(tmp_path, content, lines):
    path = tmp_path / "out.jsonl"
    path.write_text(content)
    documents = list(complete_documents(path, "jsonl", False))
    assert [number for number, _ in documents] == lines
    assert "".join(text for _, text in documents) == (JSONL_1 + JSONL_3)[: len("".join(text for _, text in documents))]


@pytest.mark.parametrize(
    "content, documents",
    [
        (CONLLU_2 + CONLLU_4 + CONLLU_5, [(2, CONLLU_2), (4, CONLLU_4)]),  # the last is withheld
        (CONLLU_2 + CONLLU_4, [(2, CONLLU_2)]),
        (CONLLU_2 + CONLLU_4[:30], []),  # the second's first sentence is cut off
        (CONLLU_2, []),
        (CONLLU_2 + "# sent_id = x-1\n1\tx\n\n" + CONLLU_4 + CONLLU_5, []),
        (CONLLU_2 + "1\tx\n\n" + CONLLU_4 + CONLLU_5, []),
        ("", []),
    ],
)
def test_complete_conllu_documents(tmp_path, content, documents):
    path = tmp_path / "out.conllu"
    path.write_text(content)
    assert list(complete_documents(path, "conllu", False)) == documents


def test_same_text_ignores_whitespace_only():
    record = '{"line": 1, "text": "The  dog\\tate"}\n'
    assert same_text("The dog ate", record, "jsonl")
    assert not same_text("The dog ate it", record, "jsonl")
    assert not same_text("The dog", record, "jsonl")
    assert not same_text(Problem("bad line"), record, "jsonl")
    assert not same_text("The dog ate", "{broken", "jsonl")
    assert not same_text("The dog ate", '{"line": 1}', "jsonl")
    assert not same_text("42", '{"line": 1, "text": 42}', "jsonl")
    assert not same_text("[]", "[]", "jsonl")
    assert same_text("It ran. Then it sat.", CONLLU_4, "conllu")
    assert same_text("It ran.Then it sat.", CONLLU_4, "conllu")
    assert not same_text("It ran.", CONLLU_4, "conllu")
    assert not same_text("# text = It ran.", CONLLU_4, "conllu")
    assert same_text("", "1\tx\n\n", "conllu")


def test_a_file_named_dash_is_not_followed_for_stdout(tmp_path):
    # "-" is stdout, even where the working folder holds a link named "-".
    (tmp_path / "-").symlink_to(tmp_path / "elsewhere")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert written_path("-") == "-"
    finally:
        os.chdir(cwd)


def test_a_link_to_a_stream_is_named_as_given(tmp_path):
    fifo, link = tmp_path / "fifo", tmp_path / "link"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(TagIOError) as error:
            with AtomicOutput(link, "jsonl") as output:
                assert (output.stream, output.path) == ("a FIFO", str(link))
                raise OSError(28, "No space left on device")
    finally:
        os.close(reader)
    assert str(error.value) == f"{link}: cannot be written (No space left on device)"


def test_the_origin_of_a_gzipped_output_is_plain_json(tmp_path):
    out = tmp_path / "out.jsonl.gz"
    with pytest.raises(RuntimeError):
        with AtomicOutput(out, "jsonl", origin=origin_of()) as output:
            output.file.write(JSONL_1)
            raise RuntimeError("stop")
    origin = tmp_path / "out.jsonl.gz.partial.origin.json"
    assert json.loads(origin.read_text(encoding="utf-8")) == origin_of()
    # and the gzipped partial output resumes.
    with AtomicOutput(out, "jsonl", resume=True, origin=origin_of(), input_documents=input_documents()) as output:
        assert (output.resumed_after, output.resumed_docs) == (1, 1)
        output.file.write(JSONL_3)
    assert gzip.decompress(out.read_bytes()).decode() == JSONL_1 + JSONL_3
    assert names(tmp_path) == ["out.jsonl.gz"]


def test_complete_documents_of_a_gzipped_output(tmp_path):
    path = tmp_path / "out.jsonl.gz"
    path.write_bytes(gzip.compress((JSONL_1 + JSONL_3).encode()))
    assert list(complete_documents(path, "jsonl", True)) == [(1, JSONL_1), (3, JSONL_3)]


def test_an_origin_record_that_this_run_did_not_write_stays(tmp_path):
    out = tmp_path / "out.jsonl"
    origin = tmp_path / "out.jsonl.partial.origin.json"
    with AtomicOutput(out, "jsonl") as output:  # no origin: nothing of it to delete
        origin.write_text("someone else's")
        output.file.write(JSONL_1)
    assert names(tmp_path) == ["out.jsonl", "out.jsonl.partial.origin.json"]


@pytest.mark.skipif(sys.flags.utf8_mode, reason="Python's UTF-8 mode ignores the locale")
def test_files_are_utf8_whatever_the_locale(tmp_path):
    # Under the C locale, a file opened without an encoding is ASCII.
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        for name in ("a.txt", "a.txt.gz"):
            with open_output(tmp_path / name, name.endswith(".gz")) as f:
                f.write("é\n")
        assert (tmp_path / "a.txt").read_bytes() == b"\xc3\xa9\n"
        assert gzip.decompress((tmp_path / "a.txt.gz").read_bytes()) == b"\xc3\xa9\n"
        out = tmp_path / "out.jsonl"
        origin = origin_of(input="/dé.txt")
        leave_partial(tmp_path, JSONL_1, origin)
        with AtomicOutput(out, "jsonl", resume=True, origin=origin, input_documents=input_documents()) as output:
            assert output.resumed_docs == 1
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
