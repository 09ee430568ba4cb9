#!/usr/bin/env python3
"""Build models/test/tokenizer.json: the real OpenAI CLIP byte-level BPE tokenizer (49408 ids).

Source of truth is the vocabulary file that the PyPI package open_clip_torch ships
(open_clip/bpe_simple_vocab_16e6.txt.gz). vocab.json / merges.txt are built from it exactly as
OpenAI's SimpleTokenizer does:
  * 256 byte symbols (bytes_to_unicode order), then the same 256 with the "</w>" suffix,
  * one token per merge for the first 49152-256-2 merges of the file (line 0 is a header),
  * "<|startoftext|>" = 49406 and "<|endoftext|>" = 49407 (open_clip names them
    "<start_of_text>" / "<end_of_text>"; the ids are the same).
They are loaded with transformers' CLIPTokenizerFast and saved; only tokenizer.json is kept.

Usage: .venv/bin/python models/test/make_tokenizer.py
"""
import sys

sys.dont_write_bytecode = True
import gzip
import json
import os
import shutil
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

OUT = os.path.join(common.HERE, "tokenizer.json")


def build_vocab_and_merges(bpe_path):
    from open_clip.tokenizer import bytes_to_unicode

    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    assert all(len(m) == 2 for m in merges)
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for m in merges:
        vocab.append("".join(m))
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    assert len(vocab) == 49408, len(vocab)
    encoder = {tok: i for i, tok in enumerate(vocab)}
    assert len(encoder) == 49408, "duplicate vocabulary entries"
    return encoder, merges


def main():
    common.seed_everything(0)
    common.print_versions("make_tokenizer.py")
    import open_clip
    import transformers
    from open_clip.tokenizer import default_bpe

    bpe_path = default_bpe()
    print("bpe vocabulary:", bpe_path)
    encoder, merges = build_vocab_and_merges(bpe_path)

    tmp = tempfile.mkdtemp(prefix="glimpse-tok-")
    try:
        with open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(encoder, f, ensure_ascii=False)
        with open(os.path.join(tmp, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in merges:
                f.write(f"{a} {b}\n")
        # transformers 5 reads vocab.json + merges.txt from a folder via from_pretrained (the
        # vocab_file= constructor keyword of transformers 4 is ignored there).
        tok = transformers.CLIPTokenizerFast.from_pretrained(
            tmp,
            unk_token="<|endoftext|>",
            bos_token="<|startoftext|>",
            eos_token="<|endoftext|>",
            pad_token="<|endoftext|>",
            model_max_length=77,
        )
        assert len(tok) == 49408, len(tok)
        out_dir = os.path.join(tmp, "saved")
        tok.save_pretrained(out_dir)
        # Same content, written without pretty-printing (1.7 MB instead of 3.6 MB; the repository
        # holds three copies). tokenizers' Tokenizer.save(pretty=False) is a lossless re-serialisation.
        from tokenizers import Tokenizer

        Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json")).save(OUT, pretty=False)
    finally:
        shutil.rmtree(tmp)

    # ---- verification against open_clip --------------------------------------------------
    tok = transformers.CLIPTokenizerFast(tokenizer_file=OUT,
                                         unk_token="<|endoftext|>", bos_token="<|startoftext|>",
                                         eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(OUT)
    assert raw.get_vocab_size(with_added_tokens=True) == 49408, raw.get_vocab_size()
    assert raw.token_to_id("<|startoftext|>") == 49406
    assert raw.token_to_id("<|endoftext|>") == 49407
    checks = ["a photo of a dog", "A Photo Of A DOG!!", "kids on a beach at sunset",
              "it's a cat's toy, isn't it?", "12345 apples", "café naïve résumé"]
    for s in checks:
        hf_ids = tok(s).input_ids
        oc = open_clip.tokenize(s)[0].tolist()
        oc = oc[: oc.index(49407) + 1]
        print(f"  {s!r}: {hf_ids}")
        if hf_ids != oc:
            raise SystemExit(f"MISMATCH for {s!r}: transformers {hf_ids} vs open_clip {oc}")
        assert raw.encode(s).ids == oc
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes); transformers == open_clip on {len(checks)} checks")
    common.write_versions_file()


if __name__ == "__main__":
    main()
