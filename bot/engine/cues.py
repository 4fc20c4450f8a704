"""The small words that change what a typed answer means: negations, hedges, questions, 'I don't
know', yes and no, in French and English as young people type them (normalized: see
matching.normalize)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

# A word that negates what follows it ("pas de bus", "don't feel safe": "don t" once normalized).
NEGATIONS = frozenset({
    "pas", "ne", "n", "jamais", "sans", "aucun", "aucune", "ni", "nul", "guere",
    "not", "no", "never", "without", "nor", "neither", "dont", "doesnt", "didnt", "isnt", "arent",
    "wasnt", "cant", "cannot", "wont", "aint", "don", "doesn", "didn", "isn", "aren", "wasn",
    "won", "nt", "nope", "nah", "non", "nan",
})
# Words that end the reach of a negation: what comes after is said for itself.
CLAUSE_BREAKS = frozenset({"mais", "but", "par", "contre", "sauf", "except", "though", "however",
                           "cependant", "plutot", "rather", "instead"})
HEDGES = (
    "peut etre", "peutetre", "ptet", "ptetre", "p etre", "je crois", "j crois", "je suppose",
    "probablement", "sans doute", "je pense", "maybe", "perhaps", "probably", "i guess", "i think",
    "i suppose", "sort of", "kind of", "kinda", "sorta", "not sure", "pas sur", "pas sure",
    "pas trop sur", "bof", "or something", "ou quoi",
)
DONT_KNOW = (
    "je sais pas", "je ne sais pas", "sais pas", "jsp", "jsais pas", "je c pas", "chais pas",
    "chai pas", "j sais pas", "aucune idee", "pas d idee", "nsp", "je sais plus", "i dont know",
    "i don t know", "dont know", "don t know", "idk", "dunno", "no idea", "not sure", "no clue",
    "idek", "i have no idea", "pas sur", "je ne sais plus", "euh", "hmm", "hm",
)
# A message that opens with one of these asks something rather than answering.
QUESTION_OPENERS = frozenset({
    "qui", "quoi", "que", "quel", "quelle", "quels", "quelles", "comment", "pourquoi", "combien",
    "est", "who", "what", "whats", "why", "how", "where", "when", "which", "whos", "do", "does",
    "can", "could", "will", "would", "is", "are", "should", "vous", "tu", "c", "qu",
})
# Yes, as young people type it; longest phrases are tried first.
YES = (
    "oui", "ouais", "ouai", "ouaip", "ouep", "ouip", "wi", "wai", "yes", "yess", "yesss", "yeah",
    "yea", "yeh", "ye", "yep", "yup", "ya", "yas", "ok", "okay", "oki", "okk", "okey", "kk",
    "okidoki", "d accord", "dac", "dacc", "daccord", "grave", "carrement", "evidemment",
    "bien sur", "bien entendu", "volontiers", "avec plaisir", "je veux bien", "j accepte",
    "accepte", "je suis d accord", "ca marche", "ca roule", "c est bon", "c bon", "cest bon",
    "parfait", "vas y", "allez", "allons y", "go", "let s go", "lets go", "c parti", "c est parti",
    "sure", "of course", "ofc", "absolutely", "definitely", "deal", "alright", "aight", "fine",
    "cool", "sounds good", "i agree", "agree", "agreed", "i accept", "accept", "yes please",
    "i do", "yessir", "bet", "tiguidou", "waaw", "waw", "no problem", "no prob", "no problemo",
    "np", "no worries", "pas de probleme", "pas de soucis", "pas de souci", "pas d souci",
    "aucun probleme", "aucun souci", "sans probleme", "sans souci", "why not", "pourquoi pas",
    "of course yes", "for sure", "oui oui", "yes yes", "with pleasure", "certainly",
)
NO = (
    "non", "nan", "nn", "no", "nope", "nah", "naw", "non merci", "no thanks", "no thank you",
    "nope thanks", "pas du tout", "not at all", "jamais", "never", "pas d accord", "pas daccord",
    "not ok", "not okay", "pas ok", "je refuse", "i refuse", "refuse", "pas envie",
    "veux pas", "dont want", "don t want", "do not want", "pas question", "no way", "hell no",
    "not interested", "pas interesse", "pas interessee", "pas encore", "not yet", "i disagree",
    "disagree", "i do not agree", "i dont agree", "i don t agree", "je n accepte pas",
    "j accepte pas", "n accepte pas", "not really", "pas vraiment",
)
CONTRASTS = frozenset({"mais", "but", "sauf", "except", "though", "however", "cependant", "quand",
                       "if", "si", "unless"})
# A bare "no" is also how "no problem" idioms begin ("no wahala", "no stress", "no biggie"): before
# a word we do not know, it is not a clear refusal. These words may follow a refusing "no".
BARE_NO = frozenset({"no", "non", "nan", "nah", "naw", "nn", "nope"})
AFTER_A_REFUSAL = frozenset({
    "je", "j", "i", "im", "me", "moi", "merci", "thanks", "thank", "you", "sorry", "desole",
    "desolee", "pardon", "c", "est", "cest", "ca", "vraiment", "really", "just", "juste", "pas",
    "not", "ne", "n", "du", "tout", "please", "stp", "svp", "mec", "bro", "frere", "wesh", "lol",
    "oh", "ah", "bah", "ben", "bon", "alors", "thx", "mrc", "msi",
})


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    QUESTION = "question"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def find_phrases(words: list[str], phrases: Iterable[str]) -> list[Span]:
    """Where any of the phrases occurs as whole words; longer phrases first, no overlaps."""
    taken = [False] * len(words)
    spans: list[Span] = []
    for phrase in sorted({p for p in phrases}, key=lambda p: -len(p.split())):
        target = phrase.split()
        size = len(target)
        for start in range(len(words) - size + 1):
            if words[start:start + size] == target and not any(taken[start:start + size]):
                spans.append(Span(start, start + size))
                for k in range(start, start + size):
                    taken[k] = True
    return sorted(spans, key=lambda s: s.start)


def has_phrase(words: list[str], phrases: Iterable[str]) -> bool:
    return bool(find_phrases(words, phrases))


def asks(raw: str, words: list[str]) -> bool:
    """The message is a question: a question mark, or it opens like one."""
    if "?" in raw or "？" in raw:
        return True
    return bool(words) and words[0] in {"pourquoi", "why", "comment", "how", "qui", "who",
                                        "combien", "what", "whats", "quoi"}


def is_dont_know(words: list[str]) -> bool:
    """The whole message says 'I don't know' (with at most a filler word or two)."""
    spans = find_phrases(words, DONT_KNOW)
    covered = sum(s.end - s.start for s in spans)
    return bool(spans) and len(words) - covered <= 1


# Said right after what it negates: "je marche pas", "je prends jamais le bus".
NEGATIONS_AFTER = frozenset({"pas", "jamais", "never", "not"})


def negated_before(words: list[str], start: int, floor: int = 0, reach: int = 4) -> bool:
    """A negation governs the words at `start`: one of the `reach` words before it, in the same
    clause, never before `floor` (the end of the previous thing named)."""
    for k in range(start - 1, max(floor, start - reach) - 1, -1):
        if words[k] in CLAUSE_BREAKS:
            return False
        if words[k] in NEGATIONS:
            return True
    return False


def yes_or_no(raw: str, words: list[str], *, lenient: bool = False) -> Answer:
    """Read a yes/no answer. YES or NO only when it is unambiguous: a yes with a negation, a
    contrast ('ok but...'), a hedge or a question is not a yes.

    lenient: a plain negative sentence with no explicit 'no' ('y a pas', 'there isn't') is a no;
    right for a survey's yes/no question, not for consent.
    """
    if asks(raw, words):
        return Answer.QUESTION
    if not words:
        return Answer.UNCLEAR
    spans = find_phrases(words, (*YES, *NO))
    no_phrases = {tuple(p.split()) for p in NO}
    no_spans = [s for s in spans if tuple(words[s.start:s.end]) in no_phrases]
    yes_spans = [s for s in spans if s not in no_spans]
    loose = [w for k, w in enumerate(words) if not any(s.start <= k < s.end for s in spans)]
    if has_phrase(words, HEDGES) or is_dont_know(words):
        return Answer.UNCLEAR
    negation = any(w in NEGATIONS for w in loose)
    contrast = any(w in CONTRASTS for w in loose)
    negated_yes = [s for s in yes_spans if negated_before(words, s.start, reach=3)]
    says_yes = len(yes_spans) > len(negated_yes)
    says_no = bool(no_spans) or bool(negated_yes)
    if says_yes and not says_no and not negation and not contrast:
        return Answer.YES
    if says_no and not says_yes and not contrast:
        if not lenient and _only_bare_no_before_unknown(words, no_spans, negated_yes, loose):
            return Answer.UNCLEAR
        return Answer.NO
    if lenient and negation and not says_yes and not contrast:
        return Answer.NO
    return Answer.UNCLEAR


def _only_bare_no_before_unknown(words: list[str], no_spans: list[Span], negated_yes: list[Span],
                                 loose: list[str]) -> bool:
    """The only refusal is a bare "no" and the rest holds a word we do not know: unclear."""
    bare = all(s.end - s.start == 1 and words[s.start] in BARE_NO for s in no_spans)
    known = AFTER_A_REFUSAL | NEGATIONS
    return bare and not negated_yes and any(w not in known and len(w) > 1 for w in loose)
