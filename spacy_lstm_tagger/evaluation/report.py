"""`python -m spacy_lstm_tagger evaluate MODEL GOLD [--compare OTHER] [--report
OUT.html] [--json OUT.json] [--training DIR]`: the figures of evaluate.py as a
plain-text summary, JSON for scripts and one self-contained HTML file (pictures
embedded as data URIs, so it needs no network or other file to be viewed).
"""
import base64
import html
from pathlib import Path
from typing import Callable, Dict, List, Optional

import spacy

from ..data.corpus import read_docs
from ..data.pipelines import load_pipeline
from ..data.training_log import LOG_NAME, PLOT_NAME, read_log, write_json
from . import figures
from .evaluate import evaluate, word_counts

TEXT_SHARES = (1.0, 0.98, 0.95, 0.9, 0.8, 0.5)
TEXT_ROWS = 15


def run_evaluation(
    model: str,
    gold: Path,
    *,
    compare: Optional[str] = None,
    report_path: Optional[Path] = None,
    json_path: Optional[Path] = None,
    training_dir: Optional[Path] = None,
    out: Callable[[str], None] = print,
) -> Dict:
    """Evaluate the pipeline `model` on the gold corpus `gold`: print the text
    summary, and write the JSON figures and the HTML report where asked.

    compare: a second pipeline that sets tag_ (and pos_), side by side.
    training_dir: the model's training folder (its curves, and its corpus's
        word counts for the frequency bands).
    RETURNS (dict): the figures, as in the JSON.
    """
    nlp = load_pipeline(model)
    gold_docs = read_docs(gold, nlp.vocab)
    training = read_training(training_dir) if training_dir else None
    other = load_pipeline(compare) if compare else None
    report = evaluate(
        nlp,
        gold_docs,
        other=other,
        training_counts=training["counts"] if training else None,
    )
    report.update(model=str(model), gold=str(gold), other=compare)
    report["training"] = training["epochs"] if training else None
    for warning in report["warnings"]:
        out(f"warning: {warning}")
    out(text_summary(report))
    if json_path:
        write_json(json_path, report)
    if report_path:
        curves_png = training["png"] if training else None
        report_path.write_text(html_report(report, curves_png), encoding="utf-8")
        out(f"wrote {report_path}")
    return report


def read_training(folder: Path) -> Dict:
    """What a training folder tells the report: the per-epoch rows, the plot,
    and the training corpus's word counts (None for what is not there)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"--training: no folder {folder}")
    log, png, corpus = folder / LOG_NAME, folder / PLOT_NAME, folder / "corpus" / "train.spacy"
    return {
        "epochs": read_log(log) if log.exists() else None,
        "png": png.read_bytes() if png.exists() else None,
        "counts": word_counts(read_docs(corpus, spacy.blank("xx").vocab)) if corpus.exists() else None,
    }


# The plain-text summary


def number(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def text_summary(r: Dict) -> str:
    acc, seen = r["accuracy"], r["seen"]
    lines = [
        f"{r.get('model', 'model')} on {r.get('gold', 'gold')}: {r['tokens']:,} tokens, "
        f"{r['sentences']:,} sentences",
        f"  tag (XPOS) accuracy {number(acc['tag'])}   UPOS accuracy {number(acc['pos'])}",
        f"  seen words {number(seen['seen']['accuracy'])} ({seen['seen']['tokens']:,} tokens)   "
        f"unseen {number(seen['unseen']['accuracy'])} ({seen['unseen']['tokens']:,} tokens)",
        f"  by frequency in the {r['frequency_source']}: "
        + ", ".join(f"{b['band']}: {number(b['accuracy'])} ({b['tokens']:,})" for b in r["frequency_bands"]),
    ]
    cal = r["calibration"]
    if cal["ece"] is not None:
        line = f"calibration of tag_prob: ECE {cal['ece']:.4f}"
        if cal.get("before"):
            line += f" with temperature {cal['temperature']:.3f} (without: {cal['before']['ece']:.4f})"
        lines.append(line)
        kept = {p["share"]: p for p in cal["kept"]}
        for share in TEXT_SHARES:
            p = kept[share]
            lines.append(
                f"  keep {share:>4.0%} of tokens (tag_prob >= {p['threshold']:.3f}): "
                f"accuracy {p['accuracy']:.4f}"
            )
    lines.append("per tag, most errors first:")
    lines.append(f"  {'tag':<8} {'prec':>6} {'recall':>6} {'f1':>6} {'support':>8} {'errors':>7}")
    for row in r["per_tag"][:TEXT_ROWS]:
        lines.append(
            f"  {row['tag']:<8} {row['precision']:>6.3f} {row['recall']:>6.3f} {row['f1']:>6.3f} "
            f"{row['support']:>8,} {row['errors']:>7,}"
        )
    pairs = r["confusion"]["pairs"][:8]
    if pairs:
        lines.append("most confused (gold > predicted): " + ", ".join(
            f"{p['gold']}>{p['predicted']} {p['count']}" for p in pairs
        ))
    if r["errors"]:
        lines.append("most frequent errors (gold > predicted):")
        for e in r["errors"][:10]:
            lines.append(f"  {e['count']:>4}x {e['word']} {e['gold']}>{e['predicted']}: {bracketed(e['context'])}")
    lines += morph_lines(r.get("morph")) + lemma_lines(r.get("lemma"))
    if r.get("not_evaluated"):
        lines.append(not_evaluated_line(r["not_evaluated"]))
    c = r.get("compare")
    if c:
        lines.append(
            f"compared with {r.get('other')}: tag accuracy {number(c['accuracy']['tag'])} vs "
            f"{number(c['other_accuracy']['tag'])}, UPOS {number(c['accuracy']['pos'])} vs "
            f"{number(c['other_accuracy']['pos'])}; only ours right {c['only_ours_right']:,} "
            f"tokens, only theirs {c['only_other_right']:,}"
        )
        for row in c["per_tag"][:10]:
            lines.append(
                f"  {row['tag']:<8} f1 {row['f1']:.3f} vs {row['other_f1']:.3f}  "
                f"only ours right {row['only_ours_right']:>4}, only theirs {row['only_other_right']:>4}"
            )
    return "\n".join(lines)


def seen_text(seen: Dict) -> str:
    return (f"seen words {number(seen['seen']['accuracy'])} ({seen['seen']['tokens']:,})   "
            f"unseen {number(seen['unseen']['accuracy'])} ({seen['unseen']['tokens']:,})")


def morph_lines(m: Optional[Dict]) -> List[str]:
    if not m:
        return []
    micro = m["micro"]
    lines = [
        f"features (FEATS) accuracy {number(m['accuracy'])} ({m['tokens']:,} tokens)   "
        f"{seen_text(m['seen'])}",
        f"  per feature, micro: prec {micro['precision']:.4f} recall {micro['recall']:.4f} "
        f"f1 {micro['f1']:.4f}; most errors first:",
        f"  {'feature':<14} {'acc':>6} {'prec':>6} {'recall':>6} {'f1':>6} {'support':>8} {'errors':>7}",
    ]
    for row in m["per_feature"][:TEXT_ROWS]:
        lines.append(
            f"  {row['feature']:<14} {row['accuracy']:>6.3f} {row['precision']:>6.3f} "
            f"{row['recall']:>6.3f} {row['f1']:>6.3f} {row['support']:>8,} {row['errors']:>7,}"
        )
    cal = m.get("calibration")
    if cal and cal["ece"] is not None:
        line = f"  calibration of morph_prob: ECE {cal['ece']:.4f}"
        if cal.get("before"):
            line += f" with temperature {cal['temperature']:.3f} (without: {cal['before']['ece']:.4f})"
        lines.append(line)
    if m["value_errors"]:
        lines.append("  most confused values (feature: gold > predicted): " + ", ".join(
            f"{e['feature']}: {e['gold']}>{e['predicted']} {e['count']}" for e in m["value_errors"][:8]
        ))
    if m["errors"]:
        lines.append("  most frequent FEATS errors (gold > predicted, a word):")
        for e in m["errors"][:10]:
            lines.append(f"  {e['count']:>4}x {e['gold']} > {e['predicted'] or '(none)'} ({e['word']})")
    return lines


def lemma_lines(m: Optional[Dict]) -> List[str]:
    if not m:
        return []
    lines = [f"lemma accuracy {number(m['accuracy'])} ({m['tokens']:,} tokens)   {seen_text(m['seen'])}"]
    if m["errors"]:
        lines.append("  most frequent lemma errors (word: gold > predicted):")
        for e in m["errors"][:10]:
            lines.append(f"  {e['count']:>4}x {e['word']}: {e['gold']} > {e['predicted'] or '(none)'}")
    return lines


def not_evaluated_line(reasons: Dict[str, str]) -> str:
    names = {"morph": "features", "lemma": "lemmas"}
    return "not evaluated: " + "; ".join(f"{names[k]} ({why})" for k, why in reasons.items())


# The HTML report

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
table.sortable th { cursor: pointer; }
.missing { background: #fff3cd; border: 1px solid #e0c060; padding: 0.6em 1em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
mark { background: #ffd6d6; }
"""

# Click a column heading to sort by it (again: the other way round).
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.title = "sort by " + th.textContent;
    th.addEventListener("click", function () {
      var down = th.dataset.order !== "down";
      th.dataset.order = down ? "down" : "up";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].textContent, y = b.cells[column].textContent;
        var nx = parseFloat(x.replace(/,/g, "")), ny = parseFloat(y.replace(/,/g, ""));
        var order = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
        return down ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  table.dataset.sortable = "ready";
});
"""


class Markup(str):
    """HTML made here from escaped parts: a table cell that is not escaped again."""


def esc(value) -> str:
    return value if isinstance(value, Markup) else html.escape(str(value))


def table(headings: List[str], rows: List[List], sortable: bool = False, text_columns=(0,)) -> str:
    """An HTML table; every heading and cell is escaped (what the model, the
    gold corpus and the training log hold is text), except `Markup`;
    `text_columns` are left-aligned."""
    def cell(tag: str, i: int, value) -> str:
        align = ' class="text"' if i in text_columns else ""
        return f"<{tag}{align}>{esc(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headings))
    body = "\n".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    kind = ' class="sortable"' if sortable else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def image(png: Optional[bytes], alt: str) -> str:
    if png is None:
        return f'<p class="missing">{esc(alt)}: {esc(figures.MISSING)}</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def figure(draw: Callable[..., bytes], alt: str, *args) -> str:
    return image(draw(*args) if figures.available() else None, alt)


def html_report(r: Dict, training_png: Optional[bytes] = None) -> str:
    """The whole report as one HTML page; `training_png`: the training folder's
    plot of its curves, if it has one."""
    parts = [f"<h1>Tagger evaluation: {esc(r.get('model'))} on {esc(r.get('gold'))}</h1>"]
    for warning in r.get("warnings") or ():
        parts.append(f'<p class="missing"><b>Warning.</b> {esc(warning)}</p>')
    if not figures.available():
        parts.append(f'<p class="missing"><b>Figures missing.</b> {esc(figures.MISSING)}</p>')
    parts += [accuracy_section(r), per_tag_section(r), confusion_section(r),
              calibration_section(r["calibration"]), errors_section(r)]
    if r.get("morph"):
        parts.append(morph_section(r["morph"]))
        if r["morph"].get("calibration"):
            parts.append(calibration_section(r["morph"]["calibration"], "morph_prob", "morph-calibration"))
    if r.get("lemma"):
        parts.append(lemma_section(r["lemma"]))
    if r.get("not_evaluated"):
        parts.append(f"<p>{esc(not_evaluated_line(r['not_evaluated']))}.</p>")
    if r.get("compare"):
        parts.append(compare_section(r))
    if r.get("training") or training_png:
        parts.append(training_section(r.get("training"), training_png))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Tagger evaluation: {esc(r.get('model'))}</title><style>{STYLE}</style></head>\n"
        "<body>\n" + "\n".join(parts) + f"\n<script>{SORT_SCRIPT}</script>\n</body></html>\n"
    )


def accuracy_section(r: Dict) -> str:
    acc, seen = r["accuracy"], r["seen"]
    groups = [["all", r["tokens"], number(acc["tag"])],
              ["seen in training", seen["seen"]["tokens"], number(seen["seen"]["accuracy"])],
              ["not seen in training", seen["unseen"]["tokens"], number(seen["unseen"]["accuracy"])]]
    groups += [[f"frequency {b['band']} ({r['frequency_source']})", b["tokens"], number(b["accuracy"])]
               for b in r["frequency_bands"]]
    return (
        '<h2 id="accuracy">Accuracy</h2>'
        f"<p>{r['tokens']:,} tokens in {r['sentences']:,} sentences. Tag (XPOS) accuracy "
        f"<b>{number(acc['tag'])}</b>, UPOS accuracy <b>{number(acc['pos'])}</b>. Seen: the "
        "word has an embedding of its own in the model's word table.</p>"
        '<div class="figures">' + table(["words", "tokens", "tag accuracy"], groups)
        + figure(figures.bands, "accuracy by word group", seen, r["frequency_bands"]) + "</div>"
    )


def per_tag_section(r: Dict) -> str:
    return (
        '<h2 id="per-tag">Per tag</h2><p>Sorted by errors (false positives + false '
        "negatives); click a heading to sort by it.</p>"
        + table(
            ["tag", "precision", "recall", "F1", "support", "errors"],
            [[t["tag"], f"{t['precision']:.3f}", f"{t['recall']:.3f}", f"{t['f1']:.3f}",
              f"{t['support']:,}", f"{t['errors']:,}"] for t in r["per_tag"]],
            sortable=True,
        )
    )


def confusion_section(r: Dict) -> str:
    conf = r["confusion"]
    if not conf["tags"]:
        return '<h2 id="confusions">Confusions</h2><p>No errors.</p>'
    return (
        '<h2 id="confusions">Confusions</h2><div class="figures">'
        + figure(figures.confusion, "confusion heatmap", conf["tags"], conf["matrix"])
        + table(
            ["gold", "predicted", "count"],
            [[p["gold"], p["predicted"], f"{p['count']:,}"] for p in conf["pairs"]],
            text_columns=(0, 1),
        )
        + "</div>"
    )


def calibration_section(cal: Dict, attribute: str = "tag_prob", anchor: str = "calibration") -> str:
    """The calibration of token._.`attribute`: ECE, reliability diagram and
    what setting aside the least confident tokens leaves."""
    heading = f'<h2 id="{anchor}">Calibration of token._.{attribute}</h2>'
    if cal["ece"] is None:
        return heading + f"<p>The pipeline sets no {attribute}.</p>"
    before = cal.get("before")
    ece = (f"Expected calibration error (ECE, {len(cal['bins'])} non-empty bins of width 0.1): "
           f"<b>{cal['ece']:.4f}</b>")
    if before:
        ece += (f" with the temperature {cal['temperature']:.3f} fitted on dev in training; "
                f"without it {before['ece']:.4f}")
    kept = {p["share"]: p for p in cal["kept"]}
    return (
        f"{heading}<p>{ece}. Dot sizes show the tokens in a bin. Setting aside the tokens "
        f"below a {attribute} threshold (to route them to review) leaves these:</p>"
        '<div class="figures">'
        + figure(figures.reliability, "reliability diagram", cal["bins"],
                 before["bins"] if before else None, cal["temperature"], attribute)
        + figure(figures.kept, "accuracy against the share of tokens kept", cal["kept"])
        + table(["tokens kept", f"{attribute} threshold", "accuracy of the kept"],
                [[f"{s:.0%}", f"{kept[s]['threshold']:.3f}", f"{kept[s]['accuracy']:.4f}"]
                 for s in TEXT_SHARES])
        + "</div>"
    )


def errors_section(r: Dict) -> str:
    return '<h2 id="errors">Most frequent errors</h2>' + table(
        ["count", "word", "gold", "predicted", "first context"],
        [[e["count"], e["word"], e["gold"], e["predicted"], marked(e["context"])]
         for e in r["errors"]],
        text_columns=(1, 2, 3, 4),
    )


def seen_rows(m: Dict) -> List[List]:
    return [["all", f"{m['tokens']:,}", number(m["accuracy"])]] + [
        [f"{'not ' if group == 'unseen' else ''}seen in training", f"{g['tokens']:,}", number(g["accuracy"])]
        for group, g in m["seen"].items()
    ]


def morph_section(m: Dict) -> str:
    micro = m["micro"]
    return (
        '<h2 id="features">Features (FEATS)</h2>'
        f"<p>Accuracy of the whole FEATS string <b>{number(m['accuracy'])}</b> (spaCy's "
        f"<code>morph_acc</code>). Per feature (spaCy's <code>morph_per_feat</code>, over the "
        "tokens whose gold FEATS is not _): micro precision "
        f"{micro['precision']:.4f}, recall {micro['recall']:.4f}, F1 <b>{micro['f1']:.4f}</b>; "
        "accuracy: of the tokens where the gold or the prediction has the feature, the share "
        "where both give it the same value.</p>"
        + table(["words", "tokens", "FEATS accuracy"], seen_rows(m))
        + table(
            ["feature", "accuracy", "precision", "recall", "F1", "support", "errors"],
            [[f["feature"], f"{f['accuracy']:.3f}", f"{f['precision']:.3f}", f"{f['recall']:.3f}",
              f"{f['f1']:.3f}", f"{f['support']:,}", f"{f['errors']:,}"] for f in m["per_feature"]],
            sortable=True,
        )
        + "<h3>Most confused values</h3>"
        + table(
            ["count", "feature", "gold", "predicted", "a word"],
            [[e["count"], e["feature"], e["gold"], e["predicted"], e["word"]] for e in m["value_errors"]],
            text_columns=(1, 2, 3, 4),
        )
        + "<h3>Most frequent FEATS errors</h3>"
        + table(
            ["count", "gold FEATS", "predicted FEATS", "a word"],
            [[e["count"], e["gold"], e["predicted"], e["word"]] for e in m["errors"]],
            text_columns=(1, 2, 3),
        )
    )


def lemma_section(m: Dict) -> str:
    return (
        f'<h2 id="lemmas">Lemmas</h2><p>Lemma accuracy <b>{number(m["accuracy"])}</b> '
        "(spaCy's <code>lemma_acc</code>, over the tokens with a gold lemma).</p>"
        + table(["words", "tokens", "lemma accuracy"], seen_rows(m))
        + "<h3>Most frequent lemma errors</h3>"
        + table(
            ["count", "word", "gold lemma", "predicted lemma"],
            [[e["count"], e["word"], e["gold"], e["predicted"]] for e in m["errors"]],
            text_columns=(1, 2, 3),
        )
    )


def compare_section(r: Dict) -> str:
    c, other = r["compare"], str(r.get("other"))
    return (
        f'<h2 id="compare">Compared with {esc(other)}</h2>'
        f"<p>Tag accuracy {number(c['accuracy']['tag'])} against {number(c['other_accuracy']['tag'])}, "
        f"UPOS {number(c['accuracy']['pos'])} against {number(c['other_accuracy']['pos'])}; on words "
        f"the lstm_tagger never saw, {number(r['seen']['unseen']['accuracy'])} against "
        f"{number(c['other_unseen_accuracy'])}. Only the lstm_tagger is right on "
        f"{c['only_ours_right']:,} tokens, only the other on {c['only_other_right']:,}.</p>"
        + figure(figures.compare, "per-tag F1 of both", c["per_tag"], other)
        + table(
            ["gold tag", "support", "F1 lstm_tagger", "F1 other", "only lstm_tagger right", "only other right"],
            [[t["tag"], f"{t['support']:,}", f"{t['f1']:.3f}", f"{t['other_f1']:.3f}",
              t["only_ours_right"], t["only_other_right"]] for t in c["per_tag"]],
            sortable=True,
        )
    )


def training_section(epochs: Optional[List[Dict]], training_png: Optional[bytes]) -> str:
    """The training folder's plot (or one drawn from its log) and its log."""
    if training_png is not None:
        curves = image(training_png, "training curves")
    else:
        curves = figure(figures.training_curves, "training curves", epochs)
    section = '<h2 id="training">Training</h2>' + curves
    if not epochs:
        return section
    return section + table(
        ["epoch", "loss", "dev tag accuracy", "dev UPOS accuracy", "temperature",
         "dev ECE without it", "dev ECE with it", "seconds"],
        [[e["epoch"], number(e.get("loss")), number(e.get("tag_acc")),
          number(e.get("pos_acc")), *calibration_columns(e), number(e.get("seconds"), 1)]
         for e in epochs],
        sortable=True,
    )


def calibration_columns(epoch: Dict) -> List[str]:
    """The temperature and dev ECE of a training-log row's (first) lstm_tagger."""
    fitted = next(iter((epoch.get("calibration") or {}).values()), {})
    return [number(fitted.get(key)) for key in ("temperature", "ece_before", "ece_after")]


def marked(context: Dict[str, str]) -> Markup:
    return Markup(f"{esc(context['before'])} <mark>{esc(context['word'])}</mark> {esc(context['after'])}")


def bracketed(context: Dict[str, str]) -> str:
    return f"{context['before']} [[{context['word']}]] {context['after']}".strip()
