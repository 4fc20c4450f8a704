"""Which language the bot replies in: French or English.

The conversation starts in the Telegram interface language and keeps its language on short or
neutral messages ("ok", "oui", an emoji, a number). One message switches it only when it has two
or more words confidently in the other language. /language is handled by the engine, not here.

Across a conversation (`follow_language`), evidence accumulates: each message's votes are added to
a decaying weight per language, so a run of short French messages ("slt", "oui", "jsp") switches
an English conversation after a few messages even though none of them would alone. When recent
messages pull both ways, the person is asked once instead. A neutral message adds nothing, so it
never causes a switch.

Confidence comes from votes that each explain themselves:

- very frequent function words and chat words of each language ("le", "pas", "jsp", "the", "idk"),
  French elisions ("c'est", "j'ai") and English contractions ("don't", "it's");
- letters with French diacritics ("é", "à", "ç");
- an injected statistical detector, trusted only when it is nearly sure, and weighted below a
  single word vote because character n-grams on two or three words are often wrong.

The detector is injected so that this module stays pure.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

Language = Literal["fr", "en"]

SUPPORTED_LANGUAGES: tuple[Language, ...] = ("fr", "en")


class LanguageDetector(Protocol):
    """Estimates how likely a text is French or English."""

    def probabilities(self, text: str) -> Mapping[str, float]:
        """Probabilities keyed "fr" and "en"; empty when the text holds nothing to judge."""


class Reason(StrEnum):
    """Why a decision was taken, stable enough to log and count."""

    SHORT_MESSAGE = "short_message"
    """Fewer than two words that carry a language: the language in force is kept."""
    MESSAGE_LANGUAGE = "message_language"
    """The message is confidently in the decided language."""
    UNCLEAR_MESSAGE = "unclear_message"
    """Two or more words, but not confidently in the other language: the language is kept."""
    UNKNOWN = "unknown"
    """No language in force and the message cannot decide: ask the user."""
    CONVERSATION_LANGUAGE = "conversation_language"
    """The person's recent messages, taken together, are in the other language."""
    MIXED_EVIDENCE = "mixed_evidence"
    """Recent messages pull both ways: the language is kept and the person is offered the choice."""


@dataclass(frozen=True)
class LanguageDecision:
    """The reply language, or None when the user should be asked to choose.

    `switched` is true when the message moved the reply away from the language that was in force:
    the conversation's language, or the interface language when the conversation has none yet.
    """

    language: Language | None
    switched: bool
    reason: Reason


def supported_language(code: str | None) -> Language | None:
    """The supported language of an IETF tag such as "fr", "fr-CA", "en_GB"; None for others."""
    if not code:
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    if primary == "fr":
        return "fr"
    if primary == "en":
        return "en"
    return None


def choose_language(
    current: str | None,
    interface_language: str | None,
    text: str,
    detector: LanguageDetector,
) -> LanguageDecision:
    """Decide the reply language for one inbound message.

    `current` is the conversation's language ("fr", "en" or None before it has one);
    `interface_language` is the sender's Telegram language code, possibly absent or unsupported.
    """
    in_force = supported_language(current) or supported_language(interface_language)
    words = _words(text)
    if in_force is None:
        return _first_language(words, detector)
    if len(words) < _MIN_WORDS_TO_SWITCH:
        return LanguageDecision(in_force, switched=False, reason=Reason.SHORT_MESSAGE)

    score = _score(words, detector)
    leaning: Language = "fr" if score > 0 else "en"
    if abs(score) >= _SWITCH_MARGIN:
        return LanguageDecision(
            leaning, switched=leaning != in_force, reason=Reason.MESSAGE_LANGUAGE
        )
    return LanguageDecision(in_force, switched=False, reason=Reason.UNCLEAR_MESSAGE)


@dataclass(frozen=True)
class LanguageTurn:
    """The reply language for one message of a conversation, and what to remember for the next."""

    decision: LanguageDecision
    evidence: tuple[float, float]
    """Decaying weights of the French and of the English read in the person's messages so far."""
    ask: bool
    """Recent messages pull both ways: offer the choice (once; the caller remembers it did)."""


NO_EVIDENCE: tuple[float, float] = (0.0, 0.0)


def follow_language(
    current: str | None,
    interface_language: str | None,
    text: str,
    evidence: tuple[float, float],
    detector: LanguageDetector,
    *,
    asked: bool = False,
) -> LanguageTurn:
    """Decide the reply language for a message, taking the person's earlier messages into account.

    `evidence` is what the previous call returned (NO_EVIDENCE for a new conversation); `asked`
    says whether the person was already offered the choice, which is then never offered again.
    """
    single = choose_language(current, interface_language, text, detector)
    french, english = evidence
    vote = message_vote(text, detector)
    in_force = supported_language(current) or supported_language(interface_language)
    if in_force is None or vote == 0:
        # A message that says nothing of its language ("ok", "16", an emoji) leaves the evidence
        # as it was: it neither adds to it nor makes the earlier messages count less.
        return LanguageTurn(single, evidence, ask=False)
    french = round(french * _EVIDENCE_DECAY + max(vote, 0), 3)
    english = round(english * _EVIDENCE_DECAY + max(-vote, 0), 3)
    weights: dict[Language, float] = {"fr": french, "en": english}
    other: Language = "en" if in_force == "fr" else "fr"
    pulled = single.switched or weights[other] > weights[in_force]
    weaker, stronger = sorted((french, english))
    mixed = weaker >= _MIXED_EVIDENCE and weaker * 2 >= stronger
    if pulled and mixed and not asked:
        return LanguageTurn(
            LanguageDecision(in_force, switched=False, reason=Reason.MIXED_EVIDENCE),
            (french, english),
            ask=True,
        )
    if single.switched:
        return LanguageTurn(single, (french, english), ask=False)
    first = evidence == NO_EVIDENCE
    if weights[other] - weights[in_force] >= (_FIRST_EVIDENCE if first else _SWITCH_EVIDENCE):
        return LanguageTurn(
            LanguageDecision(other, switched=True, reason=Reason.CONVERSATION_LANGUAGE),
            (french, english),
            ask=False,
        )
    return LanguageTurn(single, (french, english), ask=False)


def message_vote(text: str, detector: LanguageDetector) -> int:
    """What one message says of its language: positive French, negative English, 0 for nothing.

    A single word counts only when it is itself a word of one language ("slt", "yeah"): neither
    the statistical detector, nor accents, nor the parts of a compound are asked, since they would
    give a language to a name ("Montréal", "Côte-des-Neiges").
    """
    words = _words(text)
    if not words:
        return 0
    if len(words) == 1:
        return _WORD_VOTE * _lexicon_vote(words[0].text)
    return _score(words, detector)


def _first_language(words: list[_Word], detector: LanguageDetector) -> LanguageDecision:
    """With no language in force there is nothing to keep, so one clear signal is enough."""
    score = _score(words, detector) if words else 0
    if abs(score) >= _DECIDE_MARGIN:
        language: Language = "fr" if score > 0 else "en"
        return LanguageDecision(language, switched=False, reason=Reason.MESSAGE_LANGUAGE)
    return LanguageDecision(None, switched=False, reason=Reason.UNKNOWN)


# Votes towards French are positive, towards English negative.
_WORD_VOTE = 2
_DIACRITICS_VOTE = 2
_DETECTOR_VOTE = 1
# Two agreeing signals (two words, or a word and the detector or the accents) are needed to
# leave the language in force: one signal alone is wrong too often on short chat messages.
_SWITCH_MARGIN = 3
# With nothing to keep, one word or accent signal decides; the detector alone does not, since
# on a single word it is wrong about one time in four.
_DECIDE_MARGIN = 2
_MIN_WORDS_TO_SWITCH = 2
# The detector counts only when nearly sure; below this its errors on chat text are common.
_DETECTOR_CONFIDENCE = 0.9
# Across messages: each one's weight fades by this factor per later message that tells a language,
# so roughly the last four or five of them count. A one-word French chat message ("slt", "oui",
# "jsp") weighs 2: two of them in a row, against nothing in the language in force, make 3.6 and
# switch; one alone never does.
_EVIDENCE_DECAY = 0.8
_SWITCH_EVIDENCE = 3.5
# The interface language is wrong for about one person in five: before anything is known of the
# person, one clear word of the other language is enough.
_FIRST_EVIDENCE = 2.0
# Both languages read lately (a clear word of each, at least), neither more than twice the other,
# and the latest pulling away from the language in force: the person mixes, so offer the choice
# rather than flip-flop.
_MIXED_EVIDENCE = 1.5
# Bound the work on very long messages; a few hundred words settle the language.
_MAX_WORDS = 200
_MAX_CHARACTERS = 4000

# Right and left single quotes, modifier apostrophe, grave and acute accents typed as apostrophes.
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc`\u00b4", "'"))
# Runs of word characters (see _spaced) joined by inner apostrophes or hyphens: "c'est", "peut-être".
_TOKEN = re.compile(r"[^\s'-]+(?:['-]+[^\s'-]+)*")
_LONG_RUN = re.compile(r"([^\W\d_])\1{2,}")
# "haha", "ahah", "hihi", "xdd", "lolol"; needing two h keeps "hi", "he" and "oh" out.
_LAUGHTER = re.compile(r"(?=.*h.*h)[aeioh]{4,}|x+d+|(?:lo)+l+")
_FRENCH_ELISION = re.compile(r"(?:[cdjlmnst]|qu)'[^\W\d_]")
_ENGLISH_CONTRACTION = re.compile(r"[^\W\d_]+'(?:s|t|re|ll|ve|m|d)")
_FRENCH_DIACRITICS = frozenset("àâæçéèêëîïôœùûüÿ")

# Interjections, laughter and acknowledgements written the same way in both languages.
_NEUTRAL = frozenset(
    (
        "ok", "okay", "oki", "okey", "okk", "kk", "k", "lol", "xd", "wow", "oh", "ah", "eh", "hmm",
        "hm", "mmh", "mh", "omg", "wtf", "yo", "hey",
    )
)

# Very frequent words that belong to one language only (within French and English), with the
# chat spellings young people use across France, Belgium, Switzerland, Quebec and West and Central
# Africa. Words of Wolof and Lingala count for French and those of Nigerian Pidgin, Twi and Kenyan
# Swahili for English: mixed into a message, they tell which of the two the writer reads. Words shared
# by both languages ("on", "a", "me", "plus", "genre", "cool", "bus") are left out on purpose.
_FRENCH = frozenset(
    (
        "le", "la", "les", "un", "une", "de", "des", "du", "au", "aux", "ce", "cet", "cette", "ces",
        "mon", "mes", "ton", "tes", "ses", "notre", "nos", "votre", "vos", "leur", "leurs", "je",
        "tu", "il", "ils", "elle", "elles", "nous", "vous", "moi", "toi", "lui", "eux", "ça", "ca",
        "cela", "ceci", "qui", "que", "quoi", "quel", "quelle", "quels", "quelles", "où", "en",
        "se", "si", "ne", "pas", "rien", "jamais", "très", "tres", "trop", "bien", "mal", "peu",
        "beaucoup", "bcp", "assez", "aussi", "encore", "toujours", "déjà", "deja", "souvent",
        "parfois", "vraiment", "franchement", "comme", "quand", "mais", "et", "ou", "donc", "alors",
        "parce", "pourquoi", "comment", "avec", "sans", "pour", "par", "dans", "sur", "sous",
        "chez", "entre", "vers", "depuis", "pendant", "après", "apres", "avant", "est", "suis",
        "es", "sont", "sommes", "êtes", "était", "etait", "avons", "avez", "ont", "avait", "fait",
        "faire", "fais", "va", "vais", "vas", "vont", "aller", "peux", "peut", "veux", "veut",
        "sais", "sait", "faut", "dois", "doit", "prend", "prends", "aime", "trouve", "pense",
        "crois", "dit", "vois", "viens", "vient", "habite", "parle", "comprends", "oui", "ouais",
        "ouai", "non", "nan", "merci", "bonjour", "bonsoir", "salut", "coucou", "stp", "svp", "slt",
        "bjr", "jsp", "jpp", "jsuis", "chui", "chuis", "chu", "jai", "cest", "ptdr", "mdr", "tkt",
        "wesh", "wsh", "askip", "bah", "bof", "dacc", "dac", "mec", "meuf", "gars", "bref", "voilà",
        "voila", "ici", "là", "tout", "tous", "toute", "toutes", "autre", "même", "gens", "truc",
        "trucs", "fois", "ans", "aujourd'hui", "y'a", "tsé", "pis", "faque", "pk", "pq", "pcq",
        "pck", "koi", "kel", "kelle", "sa", "cv", "jpp", "tt", "ds", "pr", "mm", "bcp", "jvais",
        "jveux", "jcrois", "jcomprends", "chai", "ptn", "frr", "frère", "frere", "wallah", "ouf",
        "nul", "nulle", "chelou", "relou", "icitte", "pantoute", "tiguidou", "ben", "bin", "tantôt",
        "tantot", "septante", "nonante", "huitante", "natel", "gbaka", "deh", "dêh", "yako",
        "mbote", "matondo", "nayebi", "boni", "nanga", "waaw", "deedeet", "jërëjëf",
        "jerejef", "dafa", "dama", "lool", "adieu", "allo", "allô", "tikala", "malamu",
        "mingi", "ezali", "liggeey", "amul", "jamm", "ndank",
    )
)
_ENGLISH = frozenset(
    (
        "the", "and", "but", "if", "of", "to", "in", "at", "for", "with", "from", "by", "about",
        "into", "than", "then", "so", "too", "very", "really", "just", "also", "only", "not",
        "yeah", "yep", "yup", "nah", "i", "im", "u", "ur", "you", "your", "youre", "he", "she",
        "it", "its", "we", "they", "them", "him", "her", "his", "our", "their", "this", "that",
        "these", "those", "there", "here", "what", "which", "who", "whom", "whose", "why", "how",
        "where", "when", "is", "are", "am", "was", "were", "be", "been", "being", "do", "does",
        "did", "doing", "have", "has", "had", "will", "would", "could", "should", "can", "cant",
        "wont", "didnt", "doesnt", "isnt", "arent", "wasnt", "get", "got", "going", "gonna",
        "wanna", "gotta", "know", "think", "want", "need", "like", "make", "take", "see", "say",
        "said", "tell", "feel", "nothing", "something", "anything", "everything", "everyone",
        "someone", "always", "sometimes", "often", "because", "cuz", "please", "pls", "plz",
        "thanks", "thank", "thx", "ty", "hello", "hi", "idk", "idc", "tbh", "ngl", "imo", "btw",
        "rn", "smh", "lmao", "lmfao", "omw", "wyd", "hbu", "ikr", "innit", "aint", "bruh", "cheers",
        "good", "bad", "great", "well", "many", "much", "more", "most", "some", "any", "all",
        "other", "every", "people", "stuff", "thing", "things", "ur", "wat", "wot", "dat", "lemme",
        "yall", "y'all", "tho", "coz", "cos", "nvm", "np", "tbf", "fam", "bruv", "yh", "wassup",
        "whats", "hiya", "abeg", "wetin", "dey", "una", "wahala", "oya", "sef", "abi", "chale",
        "medaase", "ehn", "yes", "sure", "alright", "sup", "howya", "craic", "lads", "bet", "cuz",
        "sasa", "niaje", "mambo", "poa", "sawa", "asante", "ndio", "hapana", "sijui", "manze",
        "buda", "kwaheri", "akwaaba", "aane", "daabi", "paa",
    )
)


@dataclass(frozen=True)
class _Word:
    text: str
    """Case-folded, apostrophes normalised."""
    is_name: bool
    """Capitalised inside a sentence, like "Montréal" or "d'Italie": says nothing of the language."""


def _words(text: str) -> list[_Word]:
    """The words of a message that can carry a language (neutral interjections left out)."""
    normalised = unicodedata.normalize("NFC", text[:_MAX_CHARACTERS]).translate(_APOSTROPHES)
    words: list[_Word] = []
    for match in _TOKEN.finditer(_spaced(normalised)):
        token = match.group()
        if not any(char.isalpha() for char in token):
            continue
        folded = _LONG_RUN.sub(r"\1", token.casefold())
        if folded in _NEUTRAL or _LAUGHTER.fullmatch(folded):
            continue
        words.append(_Word(token.casefold(), _is_name(normalised, match.start(), token)))
        if len(words) == _MAX_WORDS:
            break
    return words


def _spaced(text: str) -> str:
    """The text with everything but letters, combining marks, apostrophes and hyphens blanked.

    Same length as the text, so positions still match. Digits, "²" or "½" are not letters, and
    marks that NFC could not compose stay inside their word instead of splitting it.
    """
    return "".join(
        char if char in "'-" or unicodedata.category(char)[0] in "LM" else " " for char in text
    )


def _is_name(text: str, start: int, token: str) -> bool:
    head = token.rsplit("'", 1)[-1]
    titled = head[:1].isupper() and any(char.islower() for char in head[1:])
    if not titled:
        return False
    if "'" in token:
        return True
    before = text[:start].rstrip()
    # Capitals that open a sentence are grammar, not names.
    return bool(before) and before[-1] not in ".!?…"


def _score(words: list[_Word], detector: LanguageDetector) -> int:
    """Positive for French, negative for English; names take no part."""
    plain_words = [word.text for word in words if not word.is_name]
    score = _WORD_VOTE * sum(_word_vote(word) for word in plain_words)
    if any(_FRENCH_DIACRITICS.intersection(word) for word in plain_words):
        score += _DIACRITICS_VOTE
    if plain_words:
        score += _DETECTOR_VOTE * _detector_vote(detector.probabilities(" ".join(plain_words)))
    return score


def _word_vote(word: str) -> int:
    """+1 for a French word, -1 for an English one, 0 for a word that does not tell."""
    vote = _lexicon_vote(word)
    if vote or "-" not in word:
        return vote
    # Compounds such as "peut-être" or "est-ce" tell through their parts.
    total = sum(_lexicon_vote(part) for part in word.split("-"))
    return (total > 0) - (total < 0)


def _lexicon_vote(word: str) -> int:
    # Elongated chat spellings ("ouiii", "pleeease", "trooop") are looked up shortened too.
    for form in (word, _LONG_RUN.sub(r"\1", word), _LONG_RUN.sub(r"\1\1", word)):
        if form in _FRENCH:
            return 1
        if form in _ENGLISH:
            return -1
    if _FRENCH_ELISION.match(word):
        return 1
    if _ENGLISH_CONTRACTION.fullmatch(word):
        return -1
    return 0


def _detector_vote(probabilities: Mapping[str, float]) -> int:
    french = probabilities.get("fr", 0.0)
    english = probabilities.get("en", 0.0)
    total = french + english
    if not (math.isfinite(total) and french >= 0 and english >= 0 and total > 0):
        return 0
    share = french / total
    if share >= _DETECTOR_CONFIDENCE:
        return 1
    if share <= 1 - _DETECTOR_CONFIDENCE:
        return -1
    return 0
