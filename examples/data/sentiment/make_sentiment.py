"""Generate the small sentiment data set bundled with the examples (deterministic; run to re-create it).

    python examples/data/sentiment/make_sentiment.py
"""

import json
import os
import random

SUBJECTS = ["The movie", "This film", "The acting", "The plot", "The soundtrack", "The ending", "The story",
            "The cast", "The script", "The cinematography", "This sequel", "The dialogue", "The pacing",
            "The direction", "The lead performance", "The special effects", "The humour", "The final act"]
POSITIVE = ["was wonderful", "was brilliant", "felt fresh and moving", "was a delight from start to finish",
            "kept me gripped", "was beautifully done", "deserves every award", "made me smile the whole time",
            "was genuinely touching", "exceeded all my expectations", "was clever and heartfelt",
            "is the best I have seen this year", "was charming", "left me inspired", "was a joy to watch"]
NEGATIVE = ["was dreadful", "was a complete mess", "felt dull and lifeless", "was a waste of time",
            "bored me to tears", "was badly done", "made no sense at all", "was painfully slow",
            "was forgettable", "fell flat", "was clumsy and predictable", "is the worst I have seen this year",
            "was irritating", "left me cold", "was a chore to sit through"]
OPENERS = ["", "Honestly, ", "To be fair, ", "In my opinion, ", "Sadly, ", "Frankly, ", "I have to say that "]
CLOSERS = ["", " I would watch it again.", " I will not recommend it.", " Everyone in the cinema agreed.",
           " My friends felt the same.", " What an evening."]


def sentence(rng: random.Random, label: int) -> str:
    opener = rng.choice(OPENERS)
    subject = rng.choice(SUBJECTS)
    subject = subject if not opener else subject[0].lower() + subject[1:]
    phrase = rng.choice(POSITIVE if label else NEGATIVE)
    closer = rng.choice(CLOSERS[:2] if label else CLOSERS[::2]) if rng.random() < 0.5 else rng.choice(CLOSERS[3:])
    return f"{opener}{subject} {phrase}.{closer}".replace("  ", " ")


def main() -> None:
    rng = random.Random(1234)
    rows, seen = [], set()
    while len(rows) < 500:
        label = rng.randrange(2)
        text = sentence(rng, label)
        if text not in seen:
            seen.add(text)
            rows.append({"text": text, "label": label})
    here = os.path.dirname(os.path.abspath(__file__))
    for name, part in (("train", rows[:400]), ("validation", rows[400:])):
        with open(os.path.join(here, f"{name}.jsonl"), "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in part)


if __name__ == "__main__":
    main()
