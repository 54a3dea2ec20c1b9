"""Write the small word-problem task the SmolLM2 recipe and test use (deterministic).

    python benchmarks/make_word_problems.py            # -> recipes/data/word-problems/{train,heldout}.jsonl

One- and two-step arithmetic stories ("Tom has 7 apples. He buys 5 more. ...") with small
numbers: hard enough that SmolLM2-135M-Instruct gets some wrong, easy enough that it gets
some right, so self-improvement rounds have something to work with. 64 train and 40
held-out problems in the ``task: {kind: file}`` format (id, prompt, answer, solution).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["Tom", "Mia", "Sam", "Lena", "Omar", "Ivy", "Noah", "Zoe", "Raj", "Ana", "Ben", "Kai"]
ITEMS = ["apples", "pencils", "stickers", "marbles", "books", "cookies", "stamps", "shells"]


def _problem(rng: random.Random) -> tuple[str, int, str]:
    """(prompt, answer, worked solution) for one random story."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    kind = rng.randrange(8)
    a, b, c = rng.randint(2, 20), rng.randint(2, 12), rng.randint(2, 9)
    if kind == 0:
        return (f"{name} has {a} {item}. {name} buys {b} more. How many {item} does {name} have now?",
                a + b, f"{a} + {b} = {a + b}")
    if kind == 1:
        a = a + b
        return (f"{name} had {a} {item} and gave {b} of them to a friend. How many {item} does {name} have left?",
                a - b, f"{a} - {b} = {a - b}")
    if kind == 2:
        a = rng.randint(2, 9)
        return (f"There are {a} boxes with {b} {item} in each box. How many {item} are there in total?",
                a * b, f"{a} x {b} = {a * b}")
    if kind == 3:
        a = rng.randint(2, 9)
        return (f"{name} shares {a * b} {item} equally among {b} friends. How many {item} does each friend get?",
                a, f"{a * b} / {b} = {a}")
    if kind == 4:
        return (f"A shop sold {a} {item} in the morning and {b} in the afternoon. How many {item} did it sell in all?",
                a + b, f"{a} + {b} = {a + b}")
    if kind == 5:
        a = rng.randint(2, 9)
        return (f"{name} reads {a} pages every day. How many pages does {name} read in {b} days?",
                a * b, f"{a} x {b} = {a * b}")
    if kind == 6:
        a = a + b
        return (f"A bus has {a} passengers. At a stop, {b} passengers get off and {c} get on. "
                f"How many passengers are on the bus now?", a - b + c, f"{a} - {b} = {a - b}, {a - b} + {c} = {a - b + c}")
    a = a + b
    return (f"{name} has {a} dollars and spends {b} dollars on a game. How many dollars does {name} have left?",
            a - b, f"{a} - {b} = {a - b}")  # fmt: skip


def main(out: Path = Path(__file__).resolve().parents[1] / "recipes" / "data" / "word-problems") -> None:
    rng = random.Random(12)
    seen: set[str] = set()
    rows = []
    while len(rows) < 104:
        prompt, answer, work = _problem(rng)
        if prompt in seen:
            continue
        seen.add(prompt)
        rows.append({"id": f"wp-{len(rows):03d}", "prompt": prompt, "answer": str(answer),
                     "solution": f"{work}. The answer is \\boxed{{{answer}}}."})  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", rows[:64]), ("heldout", rows[64:])):
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for row in part:
                f.write(json.dumps({**row, "split": name}) + "\n")
    print(f"wrote {out}/train.jsonl (64) and heldout.jsonl (40)")


if __name__ == "__main__":
    main()
