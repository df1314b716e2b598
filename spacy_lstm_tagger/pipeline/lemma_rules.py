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
data gives a (form, tag) pair one lemma, always and at least twice, the lookup
decides. A pair seen once decides where no rule makes its lemma (an irregular
form), or where its rule has at least `known_share` of the best rule's
probability: one occurrence is weaker evidence than a lemma layer that is sure
of another rule ("Hùng" seen once as "Hùng", where the treebank writes the
lemmas of names lowercase).

Where the most likely rule makes a word that is no lemma of the training data
(whatever its case), a less likely rule that makes one wins, if it has at least
`known_share` of the best rule's probability: a rule that strips "ing" from
"pledging" makes "pledg", the rule that puts back an "e" makes "pledge". Case
is left to the rules: "Kim" stays "Kim" though only "kim" was seen.
"""
import json
import unicodedata
from collections import Counter, defaultdict
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.strings import StringStore

CASINGS = ("lower", "title", "upper", "form")
# Cached (form, rule) results; the cache is emptied when it grows past this.
CACHE_SIZE = 200_000
# Rules tried per token, most likely first, before the form is its own lemma.
RULES_TRIED = 32
# The share of the best rule's probability that a rule making a known lemma
# needs to win over it (dev lemma accuracy, BENCHMARKS.md).
KNOWN_SHARE = 0.01


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


def build_lookup(
    triples: Iterable[Tuple[str, str, str]], min_count: int = 2, max_count: Optional[int] = None
) -> Dict[str, Dict[str, str]]:
    """{tag: {form: lemma}} for the (form, tag) pairs of (form, tag, lemma)
    triples that always have the same lemma, seen at least `min_count` times
    (and at most `max_count`)."""
    lemmas: Dict[Tuple[str, str], Counter] = defaultdict(Counter)
    for form, tag, lemma in triples:
        lemmas[(tag, form)][lemma] += 1
    lookup: Dict[str, Dict[str, str]] = defaultdict(dict)
    for (tag, form), counts in sorted(lemmas.items()):
        seen = sum(counts.values())
        if len(counts) == 1 and seen >= min_count and (max_count is None or seen <= max_count):
            lookup[tag][form] = next(iter(counts))
    return dict(lookup)


def build_lexicon(lemmas: Iterable[str]) -> List[str]:
    """The distinct lemmas, lowercased and sorted: what the rules' lemmas are
    checked against."""
    return sorted({lemma.lower() for lemma in lemmas if lemma})


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


def checked_lexicon(lemmas: Any, where: str = "lemma_lexicon") -> List[str]:
    """A saved list of lowercased lemmas, or ValueError naming the entry."""
    if not isinstance(lemmas, list):
        raise ValueError(f"{where} is not a list: {lemmas!r:.200}")
    for i, lemma in enumerate(lemmas):
        if not (isinstance(lemma, str) and lemma) or lemma != lemma.lower() or has_control_chars(lemma):
            raise ValueError(
                f"{where} entry {i} is not a non-empty lowercase string without control characters: {lemma!r:.100}"
            )
    return lemmas


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
    """Chooses each token's lemma: the lookup where it has the (form, tag);
    else the lemma of `seen_once` where no rule makes it or its rule has
    `known_share` of the best rule's probability or more; else the most
    likely rule that applies (one that makes a lemma of `lexicon` where its
    probability is `known_share` of that rule's or more); else the form. A
    known_share of 0 turns `seen_once` and `lexicon` off."""

    def __init__(
        self,
        rules: Sequence[LemmaRule],
        lookup: Dict[str, Dict[str, str]],
        lexicon: Iterable[str] = (),
        known_share: float = KNOWN_SHARE,
        seen_once: Optional[Dict[str, Dict[str, str]]] = None,
    ):
        self.rules = tuple(rules)
        self.lookup = lookup
        self.lexicon = frozenset(lexicon) if known_share else frozenset()
        self.seen_once = (seen_once or {}) if known_share else {}
        self.known_share = known_share
        self._rule_index = {rule: index for index, rule in enumerate(self.rules)}
        # The last character each rule strips (-1: none): a rule cannot apply
        # to a form that ends otherwise, which numpy can tell for many at once.
        self._strip_ends = numpy.array(
            [ord(rule.strip_suffix[-1]) if rule.strip_suffix else -1 for rule in self.rules], dtype="int64"
        )
        self._cache: Dict[Tuple[str, int], Optional[str]] = {}
        # (orth, tag) -> the lookup's lemma hash (0: none), and (orth, best
        # rule) -> (the rule's lemma, whether it is known) where the rule
        # applies; dict reads and writes are atomic, so threads that share the
        # component may fill them together. Hashes are kept only of the
        # tables' lemmas, which stay in the StringStore for good: a lemma that
        # a rule makes is added again for each token, as spaCy frees the
        # strings of a memory zone (`nlp.memory_zone()`) when it ends.
        self._known: Dict[Tuple[int, str], int] = {}
        self._best: Dict[Tuple[int, int], Tuple[str, bool]] = {}
        # (orth, tag) -> (lemma hash, index of its rule or -1) of seen_once,
        # None where it has no entry.
        self._once: Dict[Tuple[int, str], Optional[Tuple[int, int]]] = {}
        self._strings = StringStore()  # lemma()'s

    def lemma(self, form: str, tag: str, probs: numpy.ndarray) -> str:
        """One token's lemma, as `lemma_ids` gives it; probs: the probability
        of each rule for this token."""
        # One store for every call: the caches keep hashes of its strings.
        strings = self._strings
        ids = self.lemma_ids([strings.add(form)], [tag], lambda rows: probs[None, :][rows], strings)
        return strings[ids[0]]

    def _best_applying(self, form: str, probs: numpy.ndarray) -> Tuple[int, Optional[str]]:
        """(rule, lemma) of the most likely of the RULES_TRIED most likely
        rules that applies to `form`; (-1, None) where none does."""
        for index in most_likely(probs, RULES_TRIED).tolist():
            lemma = self._applied(form, index)
            if lemma is not None:
                return index, lemma
        return -1, None

    def _is_known(self, lemma: str) -> bool:
        """Whether no other rule need be looked at for this lemma."""
        return not self.lexicon or lemma.lower() in self.lexicon

    def _known_alternatives(
        self, forms: Sequence[str], probs: numpy.ndarray, best: Sequence[int]
    ) -> List[Optional[str]]:
        """For each form, whose most likely rule that applies, best[i], makes
        a lemma not in the lexicon: the known lemma of the most likely of the
        other rules with at least known_share of that rule's probability (of
        the RULES_TRIED most likely that may apply), or None where none makes
        one. probs: one row per form. One pass over all the forms' candidate
        rules, most likely first: numpy calls per form cost more than the
        rules."""
        rows = numpy.arange(len(forms))
        best = numpy.asarray(best, dtype="int64")
        candidates = probs >= (probs[rows, best] * self.known_share)[:, None]
        candidates[rows, best] = False
        row_of, rule_of = numpy.nonzero(candidates)
        # Only rules that strip nothing or the form's last character (as
        # written or lowercased) can apply.
        ends = numpy.array(
            [[ord(form[-1]), ord(form.lower()[-1])] if form else [-2, -2] for form in forms], dtype="int64"
        ).reshape(-1, 2)
        strip_end = self._strip_ends[rule_of]
        may_apply = (strip_end == -1) | (strip_end == ends[row_of, 0]) | (strip_end == ends[row_of, 1])
        row_of, rule_of = row_of[may_apply], rule_of[may_apply]
        order = numpy.lexsort((rule_of, -probs[row_of, rule_of], row_of))  # by row, most likely first
        row_of, rule_of = row_of[order], rule_of[order]
        starts = numpy.searchsorted(row_of, rows)
        rank = numpy.arange(len(row_of)) - starts[row_of]
        found: List[Optional[str]] = [None] * len(forms)
        for row, rule in zip(row_of[rank < RULES_TRIED].tolist(), rule_of[rank < RULES_TRIED].tolist()):
            if found[row] is None:
                lemma = self._applied(forms[row], rule)
                if lemma is not None and lemma.lower() in self.lexicon:
                    found[row] = lemma
        return found

    def lemma_ids(
        self,
        orths: Sequence[int],
        tags: Sequence[str],
        rule_probs: Callable[[numpy.ndarray], numpy.ndarray],
        strings: StringStore,
    ) -> List[int]:
        """The lemma hash of each token from its form's hash and its predicted
        tag: the lookup's where it has them; else, from the rule probabilities
        of those tokens alone (`rule_probs(rows)`: one row per token asked
        for), the seen-once lemma or the rules' (as the class says). Only the
        best rule is looked at unless it cannot apply or makes an unknown
        lemma; results are cached per (form, tag) and per (form, rule)."""
        known = self._known
        ids = [known.get(key, -1) for key in zip(orths, tags)]  # one dict read per token
        for row in [row for row, value in enumerate(ids) if value == -1]:
            ids[row] = self._known_id(orths[row], tags[row], strings)
        rows = [row for row, value in enumerate(ids) if value == 0]
        if not rows:
            return ids
        probs = rule_probs(numpy.array(rows, dtype="int64"))
        seen_once = self._seen_once_wins(rows, orths, tags, probs, strings) if self.seen_once else {}
        unknown: List[Tuple[int, int, int, str]] = []  # (k, row, best rule, its lemma)
        for k, (row, rule) in enumerate(zip(rows, probs.argmax(axis=1).tolist())):
            if k in seen_once:
                ids[row] = seen_once[k]
                continue
            key = (orths[row], rule)
            best = self._best.get(key)
            if best is None:
                form = strings[orths[row]]
                lemma = self._applied(form, rule)
                if lemma is None:  # the best rule cannot apply: the next ones, for this row alone
                    rule, lemma = self._best_applying(form, probs[k])
                    if lemma is None or self._is_known(lemma):
                        ids[row] = strings.add(lemma or form)
                        continue
                    best = (lemma, False)
                else:
                    best = self._best[key] = (lemma, self._is_known(lemma))
                    self._limit(self._best)
            lemma, known = best
            if known:
                ids[row] = strings.add(lemma)
            else:
                unknown.append((k, row, rule, lemma))  # decided below, all such rows at once
        if unknown:
            ks, unknown_rows, best, lemmas = zip(*unknown)
            forms = [strings[orths[row]] for row in unknown_rows]
            others = self._known_alternatives(forms, probs[list(ks)], best)
            for row, lemma, other in zip(unknown_rows, lemmas, others):
                ids[row] = strings.add(other or lemma)
        return ids

    def _seen_once_wins(
        self, rows: List[int], orths: Sequence[int], tags: Sequence[str], probs: numpy.ndarray,
        strings: StringStore,
    ) -> Dict[int, int]:
        """{k: lemma hash} for each rows[k] whose (form, tag) training saw
        once, where that lemma wins: no rule makes it, or its rule has at
        least known_share of the best rule's probability (probs[k])."""
        entries = [(k, self._seen_once_entry(orths[row], tags[row], strings)) for k, row in enumerate(rows)]
        entries = [(k, entry) for k, entry in entries if entry is not None]
        if not entries:
            return {}
        ks = numpy.array([k for k, _ in entries], dtype="int64")
        rules = numpy.array([rule for _, (_, rule) in entries], dtype="int64")
        likely = probs[ks, rules.clip(0)] >= probs[ks].max(axis=1) * self.known_share
        wins = ((rules == -1) | likely).tolist()
        return {k: lemma for (k, (lemma, _)), win in zip(entries, wins) if win}

    def _seen_once_entry(self, orth: int, tag: str, strings: StringStore) -> Optional[Tuple[int, int]]:
        key = (orth, tag)
        try:
            return self._once[key]
        except KeyError:  # never read back: another thread may empty the cache
            form = strings[orth]
            lemma = self.seen_once.get(tag, {}).get(form)
            entry = None
            if lemma is not None:
                lemma_id = strings.add(lemma, allow_transient=False)
                entry = (lemma_id, self._rule_index.get(make_rule(form, lemma), -1))
            self._once[key] = entry
            self._limit(self._once)
            return entry

    def _known_id(self, orth: int, tag: str, strings: StringStore) -> int:
        """The hash of the lookup's lemma for (form, tag), 0 if it has none;
        remembered for the next batches."""
        lemma = self.lookup.get(tag, {}).get(strings[orth])
        value = self._known[(orth, tag)] = strings.add(lemma, allow_transient=False) if lemma is not None else 0
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
