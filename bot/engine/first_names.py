"""First names that mark a person in free text, for scrubbing (bot/engine/redaction.py).

Written for this project from the most given first names of the last twenty years in France (INSEE
"Fichier des prénoms"), Quebec (Retraite Québec, "Banque de prénoms"), Belgium (Statbel), England
and Wales (ONS "Baby names"), the United States (SSA) and common names of West and Central Africa
and the Maghreb among French-speaking youth. Accents and case do not matter (they are folded).
"""

from __future__ import annotations


def _listed(block: str) -> frozenset[str]:
    return frozenset(block.split())


# Names that are nothing else in French or English: removed wherever they appear.
FIRST_NAMES = _listed("""
adam adama adrien ahmed aicha aissatou alexandre alexis alice alicia aliyah amadou amandine amelia
amelie amina aminata amine amir anaelle anais andrea anthony antoine arthur ashley aurelie awa axel
aya ayoub baptiste bastien benjamin bilal brandon bryan camille capucine cedric celia charles
charlie charlotte chloe clara clement coralie corentin damien daniel david dylan elias elijah elise
eliott eloise emilie emily emma enzo ethan eva evan fatima fatou fatoumata felix florian gabriel
gabrielle gaspard hamza hannah harry hugo ibrahim ibrahima ilyes ines isaac isabella isabelle issa
jacob jade jason jayden jeremie jeremy jessica jonathan joseph joshua jules julia julien justine
kadiatou karim kevin khadija killian kylian laura lea leo leon liam lina lisa loic lola louis louise
luca lucas lucie madison mael maelle mamadou manon margaux marie marion mason mathilde mathis
matheo matthew maxime megane melissa michael mohamed mohammed morgane moussa nathan nicolas noah
noemie nolan nour oceane olivia omar oscar oumar pauline quentin raphael rayan romain sacha safiya
salome samuel samir sara sarah sebastien sofiane sophia sophie souleymane thomas theo tom valentin
victor william yacine yanis yasmine yassine youssef zoe william ava mia lily jack oliver george
charlotte sienna archie freddie alfie isla poppy ruby emily ella jayden tyler logan aiden chloe
jessica megan lauren courtney amelie grace jeanne alexandra victoria
anne paul luc lou noe nael lena mila agathe timothee mathieu matthieu guillaume francois
frederic stephane vincent patrick sylvie nathalie celine sandrine julie marc eric alain
philippe christophe benoit arnaud ludovic apolline gabin timeo lenny kais ayden alya lyna kenza
sirine ilyan imran ismael younes walid mehdi rayane nassim djibril ousmane seydou boubacar
abdoulaye mariam mariama binta emile edouard zack nathaniel leonie rosalie beatrice livia maeva
juliette romane clemence elsa marius antonin augustin hector lyam sohan soline lucien
""")

# Names that are also ordinary words (rose, pierre, grace, will...): only with a capital letter
# inside a sentence, or after "my name is", "moi c'est", "Mme"...
AMBIGUOUS_FIRST_NAMES = _listed("""
rose pierre marine olive may will mark grace hope bill jack summer april june faith joy amber dawn
victoire claire france florence jean max ben guy sam chance nina paris lily ruby jade louise martin
morgan bella sky rain eve laurent constance ambre blanche milan olivier eden
""")
