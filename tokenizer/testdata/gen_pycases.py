#!/usr/bin/env python3
"""Generates pycases.json: differential cases for the Go tokenizer.

An independent re-statement of docs/model.md#tokenizer in Python (written for this
project, not copied), run with CPython's str methods, html.unescape and the
`regex` module, which are the parts whose edge cases the Go port has to
match: Unicode whitespace, str.lower (final sigma, U+0130), IGNORECASE in
the pre-tokeniser, html.unescape's numeric rules. ftfy is replaced by NFC
(what it does to text it otherwise leaves alone), so the Go side compares
with FixText switched off.

Usage: python3 gen_pycases.py VOCAB.txt.gz > pycases.json
Output: {"python": ..., "regex": ..., "unicode": ..., "cases": [{"text", "ids"}]}
"""
import gzip
import html
import html.entities
import json
import random
import sys
import unicodedata

import regex


def byte_alphabet():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, chars)}, [chr(c) for c in chars]


def load(path):
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    merges = [tuple(l.split()) for l in lines[1 : 49152 - 256 - 2 + 1]]
    bmap, order = byte_alphabet()
    vocab = order + [c + "</w>" for c in order] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return bmap, {t: i for i, t in enumerate(vocab)}, {m: i for i, m in enumerate(merges)}


PAT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
SPECIAL = {"<|startoftext|>", "<|endoftext|>"}


def merge_word(word, ranks):
    syms = list(word[:-1]) + [word[-1] + "</w>"]
    while len(syms) > 1:
        cands = [(ranks[p], p) for p in zip(syms, syms[1:]) if p in ranks]
        if not cands:
            break
        _, (a, b) = min(cands)
        out, i = [], 0
        while i < len(syms):
            if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(syms[i])
                i += 1
        syms = out
    return syms


def encode(text, bmap, enc, ranks):
    text = unicodedata.normalize("NFC", text)
    text = html.unescape(html.unescape(text)).strip()
    text = regex.sub(r"\s+", " ", text).strip().lower()
    ids = []
    for tok in PAT.findall(text):
        if tok in SPECIAL:
            ids.append(enc[tok])
            continue
        word = "".join(bmap[b] for b in tok.encode("utf-8"))
        ids.extend(enc[s] for s in merge_word(word, ranks))
    return ids


FIXED = [
    "<|startoftext|>", "<|endoftext|>", "a<|endoftext|>b", "!<|endoftext|>", "<|ENDOFTEXT|>",
    "<|ſtartoftext|>", "it'ſ", "IT'S", "we'RE they'Ve i'M you'LL he'D", "''s", "'x 'r 're",
    "a\u0345b", ".\u0345.", "\u0345", "\u0399\u0345",
    "a\x1cb", "\x1c a \x1f", "a\x1c\x1db", "a\x85b", "a\xa0b", "a\u2028b\u3000c", "a\u200bb", "\ufeffa",
    "\u0130stanbul", "\u0130", "ΟΔΟΣ", "ΟΔΟΣ.", "Σ", "aΣ", "aΣb", "aΣ'", "aΣ'b", "a'Σ", "A\u0301Σ", "Σa",
    "ᾼΣ", "ǅΣ", "ⓐΣ", "ꭜΣ", "aΣ\u00ad", "aΣ\u00adb",
    "&amp;amp;", "&#38;amp;", "&#0;", "&#1;x", "&#127;", "&#128;", "&#129;", "&#x9f;", "&#xD800;",
    "&#1114111;", "&#1114112;", "&#99999999999999999999999;", "&#xFFFE;", "&#xFDD0;", "&#13;",
    "&ampx", "&notit;", "&notin;", "&amp—", "&ampé", "&#;", "&#x;", "&;", "&", "a & b", "&lt&gt",
    "&CounterClockwiseContourIntegral;", "&NotNestedGreaterGreater;", "&nbsp;x", "&#x20;&#x20;",
    "&Aacute;&aacute;", "&#X41;&#65&#x41", "&amp;#65;", "&&amp;",
    "e\u0301", "cafe\u0301", "\u1e9b\u0323", "한국어", "\u1100\u1161\u11a8",
    "👨\u200d👩\u200d👧", "🇫🇷", "x²³", "½ ⅓", "Ⅻ ⅻ", "١٢٣", "𝟘𝟙", "٣.١٤",
    "don’t", "“quoted”", "ﬁsh", "ＡＢＣ", "ß ẞ", "ǈ ǉ ǋ", "ﬃ",
    "tab\there\nnew\r\nline", "  leading and trailing  ", "\t\n", "",
    "a" * 300, "ab" * 200, "x" + "y" * 70 + "z", "!" * 100, "123456789" * 3,
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "antidisestablishmentarianism" * 3,
]

POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" \t\n.,;:!?'\"-_/()[]{}<>|&#@$%^*+=~`\\")
    + ["'s", "'t", "'re", "'ll", "<|", "|>", "<|endoftext|>", "&amp;", "&#39;", "&lt", "&#x41;", "&nbsp;"]
    + list("éèêëàâäôöûüçñßæøåÉÈÀÇÑÆØÅ") + list("ΑΒΓΔΣσςαβγδ") + list("АБВабвжЖ")
    + list("中文字日本語한국") + ["🙂", "👍", "🐈", "\u200d", "\ufe0f"]
    + ["\u0301", "\u0308", "\u0345", "\u00ad", "\u0130", "\u017f", "\u212a"]
    + ["\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000", "\u2028"]
    + list("²½Ⅻ١𝟘") + ["’", "“", "…", "—", "€"]
)


def random_cases(n, seed):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        k = rnd.randint(1, 24)
        out.append("".join(rnd.choice(POOL) for _ in range(k)))
    return out


def main():
    bmap, enc, ranks = load(sys.argv[1])
    # Every 7th HTML5 entity name, with and without what follows it.
    names = sorted(html.entities.html5)[::7]
    texts = FIXED + ["&" + k for k in names] + ["&" + k + "x" for k in names] + random_cases(1500, 20240601)
    head = {"python": sys.version.split()[0], "regex": regex.__version__, "unicode": unicodedata.unidata_version}
    w = sys.stdout.write
    w(json.dumps(head)[:-1] + ', "cases": [\n')
    for i, t in enumerate(texts):
        c = json.dumps({"text": t, "ids": encode(t, bmap, enc, ranks)}, ensure_ascii=True)
        w(c + (",\n" if i + 1 < len(texts) else "\n"))
    w("]}\n")


if __name__ == "__main__":
    main()
