#!/usr/bin/env python3
"""Assemble the gemma family: raw.jsonl (model outputs) + labels.py (hand labels)
-> dev.jsonl / test.jsonl, then validate and print counts.

The labels (taken, expected, reason, tags) are written by hand in labels.py,
one entry per raw output, after reading each output. This script does no
judging: it only joins, splits (random.Random(12)), validates and counts.
`cut_rationale` proposes the reasoning part of an output (the text other than
the final action line/field); labels.py overrides it wherever a human cut
differs.
"""
import json
import os
import random
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))


def _json_str_field(text, key):
    """Value of "key": "..." (tolerant: unterminated strings end at line end)."""
    m = re.search(r'"%s"\s*:\s*"' % key, text)
    if not m:
        return None
    out, esc = [], False
    for c in text[m.end():]:
        if esc:
            out.append(c)
            esc = False
        elif c == "\\":
            esc = True
        elif c == '"' or c == "\n":
            break
        else:
            out.append(c)
    return "".join(out)


def _strip_labels(t):
    t = t.strip()
    t = re.sub(r"^(Answer:\s*)", "", t)
    t = re.sub(r"^(Reasoning:\s*)", "", t)
    return t.strip()


def cut_rationale(rec):
    out = rec["output"]
    fmt = rec["format"]
    if fmt == "action_line":
        lines = out.split("\n")
        idx = [i for i, l in enumerate(lines) if re.match(r"\s*ACTION\s*=", l)]
        if idx:
            lines = lines[:idx[-1]]
        return _strip_labels("\n".join(lines))
    if fmt == "react":
        lines = out.split("\n")
        idx = [i for i, l in enumerate(lines) if re.match(r"\s*Action\s*:", l)]
        if idx:
            lines = lines[:idx[-1]]
        t = _strip_labels("\n".join(lines))
        return re.sub(r"^Thought:\s*", "", t).strip()
    if fmt == "xml":
        m = re.search(r"<rationale>(.*?)</rationale>", out, re.S)
        if m:
            return m.group(1).strip()
        t = re.sub(r"<action>.*?</action>", "", out, flags=re.S)
        t = t.replace("<rationale>", "")
        return _strip_labels(t)
    if fmt in ("json", "toolcall"):
        key = "rationale" if fmt == "json" else "thought"
        v = _json_str_field(out, key)
        if v is not None:
            return v.strip()
        return _strip_labels(out)
    raise ValueError(fmt)


def load_raw():
    with open(os.path.join(HERE, "raw.jsonl"), encoding="utf-8") as fh:
        return [json.loads(l) for l in fh]


def load_labels():
    sys.path.insert(0, HERE)
    import labels
    return labels.L


def main():
    raw = load_raw()
    L = load_labels()
    missing = [r["idx"] for r in raw if r["idx"] not in L]
    if missing:
        sys.exit("unlabelled outputs: %s" % missing[:20])
    items = []
    for r in raw:
        lab = L[r["idx"]]
        taken, expected, reason, tags = lab[:4]
        rationale = lab[4] if len(lab) > 4 and lab[4] is not None else cut_rationale(r)
        tags = [r["format"], r["mode"]] + (["few-shot-prompt"] if r["few_shot"] else []) + list(tags)
        if expected is not None and taken is not None:
            tags.append("consistent" if taken == expected else "contradiction")
        seen = set()
        tags = [t for t in tags if not (t in seen or seen.add(t))]
        items.append({
            "family": "gemma", "domain": r["kind"], "voice": "gemma-270m",
            "actions": r["actions"], "descriptions": r["descriptions"],
            "rationale": rationale, "output": r["output"],
            "taken": taken, "expected": expected, "reason": reason, "tags": tags,
            "_src": r["idx"], "_fmt": r["format"], "_kind": r["kind"],
        })
    rng = random.Random(12)
    rng.shuffle(items)
    half = len(items) // 2
    splits = {"dev": items[:half], "test": items[half:]}
    for split, its in splits.items():
        letter = "d" if split == "dev" else "t"
        path = os.path.join(HERE, "%s.jsonl" % split)
        with open(path, "w", encoding="utf-8") as fh:
            for i, it in enumerate(its, 1):
                obj = {"id": "gemma-%s-%04d" % (letter, i), "family": "gemma", "split": split}
                obj.update({k: v for k, v in it.items() if not k.startswith("_")})
                fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    validate(splits)


def validate(splits):
    ids = set()
    for split in ("dev", "test"):
        path = os.path.join(HERE, "%s.jsonl" % split)
        rows = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                assert line.strip(), "blank line %s:%d" % (path, n)
                rows.append(json.loads(line))
        for o in rows:
            assert o["id"] not in ids, o["id"]
            ids.add(o["id"])
            assert o["split"] == split and o["family"] == "gemma" and o["voice"] == "gemma-270m"
            assert o["domain"] in ("bandit", "tools")
            assert isinstance(o["output"], str) and isinstance(o["rationale"], str)
            for k in ("expected", "taken"):
                assert o[k] is None or o[k] in o["actions"], (o["id"], k, o[k])
            assert isinstance(o["reason"], str) and o["reason"]
            assert len(set(o["actions"])) == len(o["actions"])
            assert set(o["descriptions"]) <= set(o["actions"])
        fmts = Counter(o["tags"][0] for o in rows)
        kinds = Counter(o["domain"] for o in rows)
        n = len(rows)
        en = sum(o["expected"] is None for o in rows)
        tn = sum(o["taken"] is None for o in rows)
        contra = sum(o["expected"] is not None and o["taken"] != o["expected"] for o in rows)
        contra_both = sum(o["expected"] is not None and o["taken"] is not None
                          and o["taken"] != o["expected"] for o in rows)
        print("%s: %d items  formats=%s  kinds=%s" % (split, n, dict(sorted(fmts.items())), dict(kinds)))
        print("   expected null %d (%.0f%%)  taken null %d (%.0f%%)  expected set %d" %
              (en, 100.0 * en / n, tn, 100.0 * tn / n, n - en))
        print("   contradiction (expected set, taken != expected) %d (%.1f%%); of which taken is another action %d"
              % (contra, 100.0 * contra / n, contra_both))
    print("validated: %d ids unique" % len(ids))


if __name__ == "__main__":
    main()
