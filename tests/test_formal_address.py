"""French for adults says "vous": partner staff, council officers and safeguarding staff are never
addressed with "tu", which the bot keeps for the young people (13-24) it talks to.

Adults read the console's whole catalog, the digests, the staff alerts, and the bot's messages about
campaign files and their publishing and scheduling (in the console and in `youthvoice campaign`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.cli import main
from bot.engine.loader import SurveyError, load_survey
from bot.i18n import GettextCatalog
from digests.wording import WORDS
from tests.support.deployment import campaign_text, write_deployment

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"tr": None, "N_": None, "both": None, "gettext": (2,)}
# The bot's modules whose texts are read by adults only (checker problems, refusals, staff alerts).
ADULT_MODULES = {"bot/alerts.py", "bot/campaign_schedule.py", "bot/campaigns.py", "bot/engine/loader.py",
                 "bot/engine/yaml_lines.py"}

# Pronouns and determiners of the informal second person, as whole words ("tout", "statut",
# "texte", "tester" do not match); "t'" before a vowel ("t'écrira"); "-tu"/"-toi" after a verb.
_PRONOUN = re.compile(r"(?<![\w])(?:tu|toi|te|ton|ta|tes|tien|tienne|tiens|tiennes)(?![\w])"
                      r"|(?<![\w])t['’](?=\w)", re.IGNORECASE)
# Informal imperatives an instruction uses, where a clause starts ("… : ajoute une ligne", "ou
# rends-les"). Those of -er verbs read like statements too ("Ouvre le 1 déc.", "et envoie les
# invitations"): they count only after a colon, a comma or "ou"/"puis", where a label cannot be.
_ALWAYS_ORDERS = ("attends", "choisis", "dis", "écris", "fais", "lis", "mets", "prends", "raccourcis",
                  "relis", "remplis", "rends", "réponds", "traduis", "va", "vois")
_ORDERS_AFTER_A_BREAK = ("ajoute", "appuie", "change", "clique", "colle", "compare", "contacte", "corrige",
                         "décale", "donne", "enregistre", "envoie", "essaie", "essaye", "ferme", "garde",
                         "indique", "laisse", "ouvre", "passe", "publie", "regarde", "relance", "remplace",
                         "renvoie", "retire", "supprime", "tape", "utilise", "vérifie")
_IMPERATIVE = re.compile(
    r"(?:^|[:;.!?(—]\s*|,\s*|\b(?:ou|et|puis|alors)\s+)(?:" + "|".join(_ALWAYS_ORDERS) + r")(?![\w])"
    r"|(?:[:;(—]\s*|,\s*|\b(?:ou|puis)\s+)(?:" + "|".join(_ORDERS_AFTER_A_BREAK) + r")(?![\w])",
    re.IGNORECASE)
# A verb with a pronoun after it is an order ("rends-les", "ferme-le"); "écrivez-la" is polite.
_HYPHENATED = re.compile(r"(?<![\w-])(\w+)-(?:le|la|les|lui|leur|moi|en|y)(?![\w-])", re.IGNORECASE)


def informal(text: str) -> list[str]:
    """The informal second person found in a French text (empty when it says "vous" or no one)."""
    found = [m.group(0).strip(" :;.,(") for m in _PRONOUN.finditer(text)]
    found += [m.group(0).strip(" :;.,!?(—") for m in _IMPERATIVE.finditer(text)]
    found += [m.group(0) for m in _HYPHENATED.finditer(text)
              if not m.group(1).lower().endswith(("ez", "ons"))]
    return found


@pytest.mark.parametrize("text", [
    "Cette campagne ne vise aucune ville : ajoute une ligne comme `cities: [lyon]`.",
    "dit qu'on peut passer les questions : dis lesquelles sont obligatoires, ou rends-les facultatives",
    "le décalage ne tombe pas juste ; décale-la comme ses voisines",
    "Changer ton âge, ta ville",
    "On t'écrira quand il y en aura un nouveau.",
    "Que veux-tu changer ?",
    "tu peux répondre ici",
    "donne un autre id à la tienne",
    "Choisis au moins une réponse, puis Valider.",
    "la date est passée : choisis une date plus tardive",
])
def test_the_informal_second_person_is_found(text: str) -> None:
    assert informal(text)


@pytest.mark.parametrize("text", [
    "Ajoutez une ligne comme `cities: [lyon]` pour dire à quels jeunes elle s'adresse.",
    "Tout le texte reste en statut brouillon : la campagne ferme après avoir ouvert.",
    "écrivez-la comme 2026-12-01 09:00, ou laissez-la vide",
    "Le ou la jeune a reçu les numéros d'aide de sa ville : toute ville, tests, tester, Notre-Dame-de-Grâce.",
    "Vérifiez un fichier de campagne, puis publiez-le.",
    "Ouvre le 1 déc. 2026, 09:00 (heure de Paris).",
    "Publiée. Le bot la propose dans la minute et envoie les invitations, jamais la nuit.",
])
def test_polite_and_impersonal_french_passes(text: str) -> None:
    assert informal(text) == []


def _adult_message_ids() -> set[str]:
    """The bot's texts written in the modules adults read, and in no module young people read."""
    found = list(extract_from_dir(str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS))
    modules: dict[str, set[str]] = {}
    for filename, _, message, _, _ in found:
        text = message if isinstance(message, str) else message[0]
        modules.setdefault(text, set()).add(f"bot/{filename}")
    return {text for text, where in modules.items() if where <= ADULT_MODULES}


def test_the_adult_modules_have_texts_to_check() -> None:
    ids = _adult_message_ids()
    # Refusals to publish and to schedule, the checker's problems, the staff alert.
    assert "The campaign {campaign} belongs to another partner ({owner}): give yours another id." in ids
    assert "The opening time {date} is already past in {cities}: choose a later time, or leave it empty to " \
           "open now." in ids
    assert "a tab: indent with spaces (two per level), never tabs" in ids
    assert "YouthVoice safeguarding alert {ref}" in ids


def test_the_bots_messages_for_adults_say_vous() -> None:
    with (ROOT / "bot" / "locale" / "fr" / "LC_MESSAGES" / "youthvoice.po").open("rb") as handle:
        catalog = read_po(handle)
    compiled = GettextCatalog()
    wrong = {}
    for message_id in sorted(_adult_message_ids()):
        entry = catalog.get(message_id)
        assert entry is not None, message_id
        for text in (str(entry.string), compiled.gettext("fr", message_id)):
            if informal(text):
                wrong[message_id] = (text, informal(text))
    assert not wrong, wrong


def test_the_console_says_vous() -> None:
    with (ROOT / "web" / "locale" / "fr" / "LC_MESSAGES" / "console.po").open("rb") as handle:
        catalog = read_po(handle)
    wrong = {}
    for entry in catalog:
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for form in forms:
            if entry.id and informal(str(form)):
                wrong[str(entry.id)] = (form, informal(str(form)))
    assert not wrong, wrong


def test_the_digests_say_vous() -> None:
    wrong = {key: french for key, (french, _) in WORDS.items() if informal(french)}
    assert not wrong, wrong


def test_a_refused_campaign_file_is_explained_with_vous() -> None:
    """The checker's problems as a French partner reads them, rendered from a file with mistakes."""
    with pytest.raises(SurveyError) as refused:
        load_survey("schema: 1\nid: ma-campagne\n\ttitle: x\n", "campagne.yml")
    said = [problem.message_in(GettextCatalog(), "fr") for problem in refused.value.problems]
    assert any("décalez" in text for text in said), said
    assert all(not informal(text) for text in said), said


def test_a_refused_publish_is_explained_with_vous(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_deployment(tmp_path, seeds=False)
    path = tmp_path / "sans-ville.yml"
    path.write_text(campaign_text(cities=""), encoding="utf-8")
    assert main(["--config", str(config), "--database", f"sqlite:///{tmp_path / 'yv.db'}", "campaign",
                 "publish", str(path), "--partner", "maison-des-jeunes", "--language", "fr"]) == 1
    said = capsys.readouterr().err
    assert "ajoutez une ligne comme `cities: [lyon]`" in said
    assert not informal(said), said


def test_the_young_people_are_still_tutoyes() -> None:
    catalog = GettextCatalog()
    assert informal(catalog.gettext("fr", "How old are you?"))
    assert informal(catalog.gettext(
        "fr", "A message from a trained person, about what you told us:\n\n{text}\n\nYou can answer here."))
