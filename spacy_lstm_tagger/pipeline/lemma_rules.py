"""Lemmas as edit rules: form -> lemma, learned as classes of the lemma head.

A rule strips a prefix and a suffix of the lowercased form, adds others, and
then sets the case of the result, as UDPipe 2's lemma rules do: "Dogs" -> "dog"
and "dogs" -> "dog" are one rule (lowercase, strip "s"). Where the lemma's case
is none of lowercase, title case or uppercase ("McDonald's" -> "McDonald"), the
rule edits the form as it is written ("form" casing); so does the one rule of
every word that is its own lemma, whatever its case ("London" -> "London"). A
rule that cannot apply to a form (the form does not start or end with what it
strips) gives None, never a made-up string; `Lemmatizer` then takes the next
most likely rule, and the form itself where no rule applies. Where the training
data gives a (form, tag) pair one lemma, always and at least `min_count` times,
the lookup decides.
"""
import json
import unicodedata
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy

if TYPE_CHECKING:
    from spacy.strings import StringStore

CASINGS = ("lower", "title", "upper", "form")
# Cached (form, rule) results; the cache is emptied when it grows past this.
CACHE_SIZE = 200_000
# Rules tried per token, most likely first, before the form is its own lemma.
RULES_TRIED = 8


class LemmaRule(NamedTuple):
    """casing: how the result is cased ("lower", "title", "upper"), or "form":
    the edit applies to the form as written and the case stays as it is."""

    casing: str
    strip_prefix: str
    add_prefix: str
    strip_suffix: str
    add_suffix: str

    @property
    def label(self) -> str:
        """The rule as one string (its label in the lemma head): a JSON list."""
        return json.dumps(list(self), ensure_ascii=False)


def make_rule(form: str, lemma: str) -> LemmaRule:
    """The rule that turns `form` into `lemma`: the edit keeps the longest
    common substring of the two (lowercased unless the lemma's case is none
    of lowercase, title case, uppercase)."""
    if form == lemma:
        # One rule for every word that is its own lemma, whatever its case, so
        # that a capitalised word nobody taught otherwise keeps its case.
        return LemmaRule("form", "", "", "", "")
    lowered = lemma.lower()
    for casing in ("lower", "title", "upper"):
        if _cased(lowered, casing) == lemma and len(form.lower()) == len(form):
            return LemmaRule(casing, *_edit(form.lower(), lowered))
    return LemmaRule("form", *_edit(form, lemma))


def _edit(form: str, lemma: str) -> Tuple[str, str, str, str]:
    """(strip_prefix, add_prefix, strip_suffix, add_suffix) around the longest
    common substring; the whole form is replaced where they share nothing."""
    start, lemma_start, size = _longest_common_substring(form, lemma)
    if size == 0:
        return "", "", form, lemma
    return form[:start], lemma[:lemma_start], form[start + size :], lemma[lemma_start + size :]


def _longest_common_substring(a: str, b: str) -> Tuple[int, int, int]:
    """(start in a, start in b, length); the leftmost in `a` among the longest."""
    best = (0, 0, 0)
    previous = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        current = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                current[j] = previous[j - 1] + 1
                if current[j] > best[2]:
                    best = (i - current[j], j - current[j], current[j])
        previous = current
    return best


def _cased(text: str, casing: str) -> str:
    if casing == "lower":
        return text
    if casing == "upper":
        return text.upper()
    return text[:1].upper() + text[1:]


def apply_rule(rule: LemmaRule, form: str) -> Optional[str]:
    """The lemma `rule` makes of `form`, or None if it cannot apply: the form
    does not start with the prefix or end with the suffix it strips (or they
    overlap), or nothing would be left."""
    base = form if rule.casing == "form" else form.lower()
    stripped = len(rule.strip_prefix) + len(rule.strip_suffix)
    if (
        len(base) < stripped
        or not base.startswith(rule.strip_prefix)
        or not base.endswith(rule.strip_suffix)
    ):
        return None
    middle = base[len(rule.strip_prefix) : len(base) - len(rule.strip_suffix)]
    lemma = rule.add_prefix + middle + rule.add_suffix
    if not lemma:
        return None
    return lemma if rule.casing == "form" else _cased(lemma, rule.casing)


def rules_seen(pairs: Iterable[Tuple[str, str]], min_count: int = 1) -> List[LemmaRule]:
    """The rules of (form, lemma) pairs seen `min_count` times or more (the
    most frequent one whatever its count), most frequent first (ties by label)."""
    counts = Counter(make_rule(form, lemma) for form, lemma in pairs)
    ranked = sorted(counts, key=lambda rule: (-counts[rule], rule.label))
    return ranked[:1] + [rule for rule in ranked[1:] if counts[rule] >= min_count]


def build_lookup(triples: Iterable[Tuple[str, str, str]], min_count: int = 2) -> Dict[str, Dict[str, str]]:
    """{tag: {form: lemma}} for the (form, tag) pairs of (form, tag, lemma)
    triples that always have the same lemma, seen at least `min_count` times."""
    lemmas: Dict[Tuple[str, str], Counter] = defaultdict(Counter)
    for form, tag, lemma in triples:
        lemmas[(tag, form)][lemma] += 1
    lookup: Dict[str, Dict[str, str]] = defaultdict(dict)
    for (tag, form), counts in sorted(lemmas.items()):
        if len(counts) == 1 and sum(counts.values()) >= min_count:
            lookup[tag][form] = next(iter(counts))
    return dict(lookup)


def checked_rules(entries: Any, where: str = "lemma_rules") -> List[LemmaRule]:
    """The rules of a saved list of [casing, strip_prefix, add_prefix,
    strip_suffix, add_suffix] entries; ValueError naming the entry otherwise."""
    if not isinstance(entries, list):
        raise ValueError(f"{where} is not a list: {entries!r:.200}")
    rules = []
    for i, entry in enumerate(entries):
        if (
            not isinstance(entry, list)
            or len(entry) != len(LemmaRule._fields)
            or not all(isinstance(field, str) for field in entry)
        ):
            raise ValueError(f"{where} entry {i} is not a list of 5 strings: {entry!r:.200}")
        if entry[0] not in CASINGS:
            raise ValueError(f"{where} entry {i} has casing {entry[0]!r}, not one of {', '.join(CASINGS)}")
        bad = [field for field in entry[1:] if has_control_chars(field)]
        if bad:
            raise ValueError(f"{where} entry {i} has control characters: {bad[0]!r:.100}")
        rules.append(LemmaRule(*entry))
    if len(set(rules)) != len(rules):
        raise ValueError(f"{where} has repeated rules")
    return rules


def checked_lookup(lookup: Any, where: str = "lemma_lookup") -> Dict[str, Dict[str, str]]:
    """A saved {tag: {form: lemma}} table, or ValueError naming the entry."""
    if not isinstance(lookup, dict):
        raise ValueError(f"{where} is not a JSON object: {lookup!r:.200}")
    for tag, forms in lookup.items():
        if not isinstance(forms, dict):
            raise ValueError(f"{where} entry {tag!r:.100} is not a JSON object")
        for form, lemma in forms.items():
            if not (isinstance(lemma, str) and lemma and form) or has_control_chars(form + lemma):
                raise ValueError(
                    f"{where} entry {tag!r:.50} / {form!r:.50} is not a non-empty lemma "
                    f"without control characters: {lemma!r:.100}"
                )
    return lookup


def most_likely(probs: numpy.ndarray, n: int) -> numpy.ndarray:
    """The indices of the `n` largest of `probs`, largest first, ties in index
    order (a stable sort's first `n`) without sorting the whole row."""
    if len(probs) <= n:
        return numpy.argsort(-probs, kind="stable")
    threshold = numpy.partition(probs, len(probs) - n)[len(probs) - n]
    candidates = numpy.flatnonzero(probs >= threshold)
    return candidates[numpy.argsort(-probs[candidates], kind="stable")][:n]


def has_control_chars(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)


class Lemmatizer:
    """Chooses each token's lemma: the lookup where it has the (form, tag),
    else the most likely rule that applies, else the form."""

    def __init__(self, rules: Sequence[LemmaRule], lookup: Dict[str, Dict[str, str]]):
        self.rules = tuple(rules)
        self.lookup = lookup
        self._cache: Dict[Tuple[str, int], Optional[str]] = {}
        # (orth, tag) -> the lookup's lemma hash (0: none), and (orth, best
        # rule) -> the lemma hash where the rule applies; dict reads and writes
        # are atomic, so threads that share the component may fill them together.
        self._known: Dict[Tuple[int, str], int] = {}
        self._ids: Dict[Tuple[int, int], int] = {}

    def lemma(self, form: str, tag: str, ranked: Sequence[int]) -> str:
        """ranked: rule indices, most likely first."""
        known = self.lookup.get(tag, {}).get(form)
        if known is not None:
            return known
        for index in ranked:
            lemma = self._applied(form, int(index))
            if lemma is not None:
                return lemma
        return form

    def lemma_ids(
        self,
        orths: Sequence[int],
        tags: Sequence[str],
        rule_probs: Callable[[numpy.ndarray], numpy.ndarray],
        strings: "StringStore",
    ) -> List[int]:
        """The lemma hash of each token from its form's hash and its predicted
        tag: the lookup's where it has them; else, from the rule probabilities
        of those tokens alone (`rule_probs(rows)`: one row per token asked
        for), `lemma` of the RULES_TRIED most likely rules. Only the best rule
        is looked at unless it cannot apply; results are cached per (form,
        tag) and per (form, rule)."""
        known = self._known
        ids = [known.get(key, -1) for key in zip(orths, tags)]  # one dict read per token
        for row in [row for row, value in enumerate(ids) if value == -1]:
            ids[row] = self._known_id(orths[row], tags[row], strings)
        rows = [row for row, value in enumerate(ids) if value == 0]
        if not rows:
            return ids
        probs = rule_probs(numpy.array(rows, dtype="int64"))
        for k, (row, rule) in enumerate(zip(rows, probs.argmax(axis=1).tolist())):
            key = (orths[row], rule)
            value = self._ids.get(key)
            if value is None:
                form = strings[orths[row]]
                lemma = self._applied(form, rule)
                if lemma is not None:
                    value = self._ids[key] = strings.add(lemma)
                    self._limit(self._ids)
                else:  # the best rule cannot apply: the next ones, for this row alone
                    ranked = most_likely(probs[k], RULES_TRIED)
                    value = strings.add(self.lemma(form, tags[row], ranked))
            ids[row] = value
        return ids

    def _known_id(self, orth: int, tag: str, strings: "StringStore") -> int:
        """The hash of the lookup's lemma for (form, tag), 0 if it has none;
        remembered for the next batches."""
        lemma = self.lookup.get(tag, {}).get(strings[orth])
        value = self._known[(orth, tag)] = strings.add(lemma) if lemma is not None else 0
        self._limit(self._known)
        return value

    @staticmethod
    def _limit(cache: dict) -> None:
        if len(cache) > CACHE_SIZE:
            cache.clear()

    def _applied(self, form: str, index: int) -> Optional[str]:
        key = (form, index)
        try:
            return self._cache[key]
        except KeyError:  # never read back: another thread may empty the cache
            lemma = self._cache[key] = apply_rule(self.rules[index], form)
            self._limit(self._cache)
            return lemma
