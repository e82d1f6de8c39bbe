"""The embedded, offline sentiment corpus: generated reviews whose label depends on word order.

Grammar (terminals in quotes; `[x]` optional; `|` choice):

    review   := [opener] body [closer]
    body     := clause                                  label = pol(clause)
              | clause "but" clause                     label = pol(second clause)      (contrast)
              | "although" clause "," clause            label = pol(second clause)      (concession)
              | clause "and" clause                     label = pol(intensified clause) (emphasis)
    clause   := subject verb [negator] [intensifier] adjective
    pol      := +1 for a positive adjective, -1 for a negative one, times -1 under a negator
    opener   := "i saw it last week ," | "honestly ," | ...        (sentiment-free filler)
    closer   := ", as expected ." | ", if you ask me ." | ...     (sentiment-free filler)

In the emphasis form exactly one of the two clauses carries an intensifier ("very", "truly", ...)
and that clause decides the label. The two clauses of a multi-clause review are drawn with opposite
polarities most of the time, so the same bag of words ("not", "good", "bad", "but") appears under both
labels: "the plot was not good but the cast was bad" is negative, "the plot was good but the cast
was not bad" is positive. A unigram bag-of-words model therefore stays well short of what a model
that reads in order can reach (the benchmark measures both). A clause is negated with probability
`NEGATION` (`data.negation`).
"""

from __future__ import annotations

import numpy as np

POSITIVE = (
    "good", "great", "wonderful", "brilliant", "enjoyable", "moving", "clever", "charming",
    "funny", "gripping", "beautiful", "memorable",
)
NEGATIVE = (
    "bad", "boring", "dull", "awful", "terrible", "clumsy", "tedious", "bland",
    "silly", "predictable", "ugly", "forgettable",
)
SUBJECTS = (
    "the film", "this movie", "the plot", "the acting", "the script", "the ending", "the cast",
    "the soundtrack", "the dialogue", "the director's work", "the second half", "the lead",
)
VERBS = ("was", "is", "felt", "seemed", "looked")
NEGATORS = ("not", "never", "hardly")
INTENSIFIERS = ("very", "truly", "really", "extremely", "incredibly")
OPENERS = ("i saw it last week ,", "honestly ,", "we watched it on sunday ,", "in short ,", "well ,")
CLOSERS = (", as expected .", ", if you ask me .", ", all things considered .", ".", ". two hours long .")

FORMS = ("single", "contrast", "concession", "emphasis")
# A clause is negated with this probability. At one half no word predicts the label by itself (a parity
# problem): training sat at chance for its whole first epoch on every seed, then jumped. Below one half an
# adjective's surface polarity leans toward the label, a foothold for the first epoch (validation 0.88-0.92
# after it, seeds 1-5), while a unigram bag of words still stays under 60% (57%).
NEGATION = 0.35


def _clause(rng: np.random.Generator, polarity: int, negated: bool, intensified: bool) -> str:
    # The surface adjective's polarity is flipped under a negator so the clause means `polarity`.
    surface = polarity if not negated else -polarity
    adjective = rng.choice(POSITIVE if surface > 0 else NEGATIVE)
    words = [rng.choice(SUBJECTS), rng.choice(VERBS)]
    if negated:
        words.append(rng.choice(NEGATORS))
    if intensified:
        words.append(rng.choice(INTENSIFIERS))
    words.append(adjective)
    return " ".join(words)


def generate_review(rng: np.random.Generator, negation: float = NEGATION) -> tuple[str, int]:
    """Draw one review; return (text, label) with label 1 = positive, 0 = negative; each clause is
    negated with probability `negation`."""
    label = 1 if rng.random() < 0.5 else -1
    form = FORMS[rng.integers(len(FORMS))]
    # The clause that does not decide the label usually disagrees with it (p=0.8).
    other = -label if rng.random() < 0.8 else label

    def neg():
        return bool(rng.random() < negation)

    if form == "single":
        body = _clause(rng, label, neg(), bool(rng.random() < 0.3))
    elif form == "contrast":
        body = f"{_clause(rng, other, neg(), False)} but {_clause(rng, label, neg(), False)}"
    elif form == "concession":
        body = f"although {_clause(rng, other, neg(), False)} , {_clause(rng, label, neg(), False)}"
    else:  # emphasis: the intensified clause decides, and it may come first or second
        strong = _clause(rng, label, neg(), True)
        weak = _clause(rng, other, neg(), False)
        body = f"{strong} and {weak}" if rng.random() < 0.5 else f"{weak} and {strong}"
    parts = []
    if rng.random() < 0.3:
        parts.append(str(rng.choice(OPENERS)))
    parts.append(body)
    parts.append(str(rng.choice(CLOSERS)) if rng.random() < 0.5 else ".")
    return " ".join(parts), int(label > 0)


def generate_corpus(num_examples: int, seed: int, negation: float = NEGATION) -> tuple[list[str], list[int]]:
    """`num_examples` reviews and labels, the same for the same seed."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(num_examples):
        text, label = generate_review(rng, negation)
        texts.append(text)
        labels.append(label)
    return texts, labels
