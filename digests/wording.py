"""The digest's own words, in French and English (numbers and dates go through Babel)."""

from __future__ import annotations

from typing import Any

WORDS: dict[str, tuple[str, str]] = {
    "subject": ("YouthVoice — ce que disent les jeunes de {city}, {period}",
                "YouthVoice — what young people in {city} said, {period}"),
    "subject_empty": ("YouthVoice — {city}, {period} : pas de nouvelles réponses",
                      "YouthVoice — {city}, {period}: no new answers"),
    "heading": ("Ce que disent les jeunes de {city}", "What young people in {city} said"),
    "period": ("Du {start} au {end}", "From {start} to {end}"),
    "for_council": ("Pour : {council}", "For: {council}"),
    "empty": ("Aucune nouvelle réponse de jeunes de {city} pendant cette période. La prochaine "
              "synthèse reprendra dès qu'il y en aura.",
              "No new answers from young people in {city} in this period. The next digest will "
              "pick up as soon as there are some."),
    "participation": ("Participation", "Participation"),
    "participants": ("{count} jeunes ont répondu ({answers} réponses).",
                     "{count} young people answered ({answers} answers)."),
    "participants_hidden": ("Moins de {k} jeunes ont répondu.", "Fewer than {k} young people answered."),
    "participants_change": ("Synthèse précédente : {count}.", "Previous digest: {count}."),
    "campaign_progress": ("{title} : {participants} participants, {completed} l'ont terminé ({rate}).",
                          "{title}: {participants} took part, {completed} finished it ({rate})."),
    "by_age_band": ("Par tranche d'âge", "By age band"),
    "by_neighbourhood": ("Par quartier", "By neighbourhood"),
    "age_band_label": ("{band} ans", "{band} years"),
    "unknown_group": ("non précisé", "not given"),
    "answered": ("{count} réponses", "{count} answers"),
    "answered_hidden": ("moins de {k} réponses", "fewer than {k} answers"),
    "multiple_note": ("Plusieurs choix possibles : les pourcentages ne s'additionnent pas.",
                      "Several choices allowed: percentages do not add up."),
    "median": ("Médiane : {value}", "Median: {value}"),
    "topics_note": ("Thèmes des réponses libres, repérés automatiquement.",
                    "Topics of the free-text answers, found automatically."),
    "no_topic": ("autre ou non classé", "other or not classified"),
    "option": ("Réponse", "Answer"),
    "group": ("Groupe", "Group"),
    "count": ("Nombre", "Count"),
    "share": ("Part", "Share"),
    "change": ("Évolution", "Change"),
    "hidden": ("< {k}", "< {k}"),
    "hidden_explained": ("« < {k} » : nombre masqué, soit parce qu'il est inférieur à {k}, soit pour "
                         "qu'on ne puisse pas le retrouver par soustraction.",
                         "\"< {k}\": a hidden count, either below {k} or hidden so that it cannot be "
                         "worked out by subtraction."),
    "quotes": ("Quelques mots des jeunes", "In their own words"),
    "quotes_none": ("Pas de citations dans cette synthèse.", "No quotes in this digest."),
    "reply_reached": ("Votre dernière réponse aux jeunes a été reçue par {count} d'entre eux.",
                      "Your last reply to young people reached {count} of them."),
    "reply_reached_small": ("Votre dernière réponse aux jeunes a été reçue par moins de {k} d'entre eux.",
                            "Your last reply to young people reached fewer than {k} of them."),
    "limits": ("Limites de ces chiffres", "What these figures can and cannot say"),
    "limit_sample": ("{count} jeunes ont répondu : ils ont choisi de répondre, ce n'est pas un "
                     "échantillon représentatif des jeunes de {city}.",
                     "{count} young people answered: they chose to take part, so this is not a "
                     "representative sample of the young people of {city}."),
    "limit_sample_small": ("Moins de {k} jeunes ont répondu : ils ont choisi de répondre, ce n'est pas "
                           "un échantillon représentatif des jeunes de {city}.",
                           "Fewer than {k} young people answered: they chose to take part, so this is "
                           "not a representative sample of the young people of {city}."),
    "limit_cells": ("Pour protéger les jeunes, aucun nombre inférieur à {k} n'est montré, ni aucun "
                    "nombre qui permettrait de le retrouver.",
                    "To protect young people, no count below {k} is shown, nor any count that would "
                    "let one be worked out."),
    "limit_topics": ("Les thèmes sont repérés par un modèle automatique et peuvent se tromper.",
                     "Topics are found by an automatic model and can be wrong."),
    "limit_profile": ("L'âge et le quartier sont ceux que les jeunes ont donnés au moment de répondre ; "
                      "ils ne sont pas vérifiés.",
                      "Age and neighbourhood are what young people said when answering; they are not "
                      "checked."),
    "change_header": ("depuis la synthèse précédente", "since the previous digest"),
    "footer": ("Synthèse envoyée par YouthVoice à {council}. Le tableau CSV joint reprend ces chiffres.",
               "Digest sent by YouthVoice to {council}. The attached CSV holds these figures."),
    "council_of": ("la ville de {city}", "the council of {city}"),
    "chart_alt": ("Graphique : {title}", "Chart: {title}"),
    "telegram_more": ("La synthèse complète est envoyée par e-mail.", "The full digest is sent by email."),
}


# The NLU's topics of free text (nlu/data/*/topics.yml), as a council reads them.
TOPICS: dict[str, tuple[str, str]] = {
    "discrimination": ("discriminations", "discrimination"),
    "education": ("école et études", "school and studies"),
    "environment": ("environnement", "environment"),
    "green_spaces": ("espaces verts", "green spaces"),
    "health": ("santé", "health"),
    "housing": ("logement", "housing"),
    "jobs": ("emploi", "jobs"),
    "leisure": ("loisirs et lieux pour les jeunes", "leisure and places for young people"),
    "participation": ("participation citoyenne", "having a say"),
    "safety": ("sécurité", "safety"),
    "transport": ("transports", "transport"),
}


def topic(language: str, name: str) -> str:
    french, english = TOPICS.get(name, (name.replace("_", " "),) * 2)
    return english if language == "en" else french


def say(language: str, key: str, **values: Any) -> str:
    french, english = WORDS[key]
    return (english if language == "en" else french).format(**values)
