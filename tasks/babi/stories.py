"""bAbI stories: the text format of Weston et al. (2015), and a generator for tasks 1 and 2.

File format: `ID text` a line; ID 1 starts a new story; a question line is
`ID question<TAB>answer<TAB>supporting fact IDs`. Every question becomes one example: the story's
sentences told before it (questions excluded), the question, the answer (one token: the comma-separated
answers of tasks 8 and 19 stay one label), and the 0-based indices of the supporting sentences.

The generator writes the same format for task 1 (single supporting fact: where is a person, after
several people moved) and task 2 (two supporting facts: where is an object, carried by a person who
moved), so the offline default is read by the same parser as the real files.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.base import UserError

TASK_NAMES = {
    1: "single-supporting-fact", 2: "two-supporting-facts", 3: "three-supporting-facts", 4: "two-arg-relations",
    5: "three-arg-relations", 6: "yes-no-questions", 7: "counting", 8: "lists-sets", 9: "simple-negation",
    10: "indefinite-knowledge", 11: "basic-coreference", 12: "conjunction", 13: "compound-coreference",
    14: "time-reasoning", 15: "basic-deduction", 16: "basic-induction", 17: "positional-reasoning",
    18: "size-reasoning", 19: "path-finding", 20: "agents-motivations",
}


@dataclass
class Example:
    story: list  # sentences, each a list of words
    question: list
    answer: str
    supporting: list
    task: int


def tokenize(text: str) -> list:
    return [w for w in re.split(r"[^\w,']+", text.lower()) if w]


def parse(lines, task: int, where: str) -> list:
    """Examples of one bAbI file's lines (see the module docstring for the format)."""
    examples, story, ids = [], [], {}
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        head, _, text = line.partition(" ")
        if not head.isdigit() or not text:
            raise UserError(f"{where}, line {number}: expected 'ID text', got {line[:40]!r}")
        if int(head) == 1:
            story, ids = [], {}
        if "\t" in text:
            parts = text.split("\t")
            if len(parts) < 2 or not parts[1].strip():
                raise UserError(f"{where}, line {number}: a question needs 'question<TAB>answer<TAB>facts'")
            facts = []
            for fact in (parts[2].split() if len(parts) > 2 else []):
                if not fact.isdigit() or int(fact) not in ids:
                    raise UserError(f"{where}, line {number}: supporting fact {fact!r} is no sentence of this story")
                facts.append(ids[int(fact)])
            examples.append(Example(list(story), tokenize(parts[0]), parts[1].strip().lower(), facts, task))
        elif text.rstrip().endswith("?"):
            raise UserError(f"{where}, line {number}: a question without its answer (expected "
                            f"'question<TAB>answer<TAB>facts')")
        else:
            ids[int(head)] = len(story)
            story.append(tokenize(text))
    return examples


def find_files(directory: str, task: int) -> tuple[str, str]:
    """(train, test) paths of task `task` in `directory` (searched recursively). A directory holding several
    sets (`en/` and `en-10k/`) is refused with their folders named: which one is meant is the user's to say."""
    found = {}
    for split in ("train", "test"):
        paths = sorted(glob.glob(os.path.join(directory, "**", f"qa{task}_*_{split}.txt"), recursive=True))
        if not paths:
            raise UserError(f"--data {directory}: no qa{task}_*_{split}.txt (the bAbI file names) in it")
        if len(paths) > 1:
            folders = ", ".join(os.path.relpath(os.path.dirname(p), directory) for p in paths)
            raise UserError(f"--data {directory}: holds {len(paths)} bAbI sets with qa{task}_*_{split}.txt ({folders}); "
                            f"point --data at one of them")
        found[split] = paths[0]
    return found["train"], found["test"]


# -- the generator -----------------------------------------------------------------------------------
PEOPLE = ("mary", "john", "daniel", "sandra")
PLACES = ("bathroom", "hallway", "garden", "office", "bedroom", "kitchen")
MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
OBJECTS = ("football", "apple", "milk")
TAKES = ("picked up", "got", "grabbed", "took")
DROPS = ("dropped", "discarded", "put down", "left")


def generate(task: int, questions: int, seed: int) -> list:
    """Lines in the bAbI format, stories of 5 questions. Task 1: two moves before each question about a
    person. Task 2: moves, pick-ups and drops; each question asks where an object is (where its holder
    is, supported by the pick-up and the holder's last move, or where it was dropped)."""
    if task not in (1, 2):
        raise UserError(f"data.task={task}: the generator makes tasks 1 and 2; give --data DIR for the others")
    rng = np.random.default_rng(seed)
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    lines: list = []
    while sum("\t" in line for line in lines) < questions:
        number, told = 0, 0
        where: dict = {}    # person -> (place, id of the move)
        held: dict = {}     # object -> (person, id of the pick-up)
        dropped: dict = {}  # object -> (place, supporting ids)

        def say(text):
            nonlocal number
            number += 1
            lines.append(f"{number} {text}")
            return number

        while told < 5:
            for _ in range(2):
                person = pick(PEOPLE)
                mine = [o for o, (p, _) in held.items() if p == person]
                free = [o for o in OBJECTS if o not in held]
                roll = rng.random()
                if task == 2 and person in where and mine and roll < 0.25:
                    thing = pick(mine)
                    fact = say(f"{person.title()} {pick(DROPS)} the {thing}.")
                    dropped[thing] = (where[person][0], f"{fact} {where[person][1]}")
                    held.pop(thing)
                elif task == 2 and person in where and free and roll < 0.5:
                    thing = pick(free)
                    held[thing] = (person, say(f"{person.title()} {pick(TAKES)} the {thing}."))
                    dropped.pop(thing, None)
                else:
                    place = pick(PLACES)
                    where[person] = (place, say(f"{person.title()} {pick(MOVES)} the {place}."))
            if task == 1:
                person = pick(list(where))
                place, fact = where[person]
                answer = (f"Where is {person.title()}?", place, str(fact))
            else:
                known = [o for o in held if held[o][0] in where] + list(dropped)
                if not known:
                    continue
                thing = pick(known)
                if thing in held:
                    person, took = held[thing]
                    answer = (f"Where is the {thing}?", where[person][0], f"{took} {where[person][1]}")
                else:
                    answer = (f"Where is the {thing}?", *dropped[thing])
            number += 1
            lines.append(f"{number} {answer[0]} \t{answer[1]}\t{answer[2]}")
            told += 1
    return lines


__all__ = ["Example", "TASK_NAMES", "find_files", "generate", "parse", "tokenize"]
