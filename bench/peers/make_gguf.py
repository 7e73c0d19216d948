#!/usr/bin/env python3
"""make_gguf.py: a GGUF for llama.cpp from the GPT-2 checkpoint our gpt2 rows ran (weights=
a Hugging Face folder: config.json + model.safetensors), by llama.cpp's own converter.

The converter is convert_hf_to_gguf.py from the llama-cpp-python sdist (vendor/llama.cpp/),
run unchanged on the same safetensors; it needs torch, numpy, transformers and gguf (PyPI).
It also wants the checkpoint's tokenizer, which our checkpoints (save_pretrained of random
weights, tests/data/gpt2_tiny) do not have and a benchmark never uses (rows feed token ids):
a checkpoint without tokenizer files gets a byte-level BPE vocabulary of its vocab_size
(the 256 GPT-2 byte symbols, then pairs of them with their merges), written beside links to
its files, and the converter's check of the tokenizer's hash answers "gpt-2". Token ids and
every tensor are the checkpoint's; only the id-to-text table is made up.

  make_gguf.py --converter PATH/convert_hf_to_gguf.py --outtype f32|f16|bf16 CKPT OUT.gguf
"""

import argparse
import json
import os
import runpy
import sys
import tempfile

TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                   "special_tokens_map.json")


def fail(msg):
    print(f"make_gguf: {msg}", file=sys.stderr)
    sys.exit(2)


def bytes_to_unicode():
    """GPT-2's printable stand-ins for the 256 byte values (as its tokenizer maps them)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def write_byte_vocab(folder, vocab_size):
    """vocab.json and merges.txt of vocab_size tokens: the 256 byte symbols, then pairs."""
    if vocab_size < 256 or vocab_size > 256 + 256 * 256:
        fail(f"vocab_size {vocab_size}: a byte-level vocabulary needs 256 to 65792 tokens")
    sym = bytes_to_unicode()
    vocab = {s: i for i, s in enumerate(sym)}
    merges = []
    for i in range(vocab_size - 256):
        a, b = sym[i // 256], sym[i % 256]
        vocab[a + b] = 256 + i
        merges.append(f"{a} {b}")
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as fh:
        json.dump(vocab, fh, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as fh:
        fh.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as fh:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024,
                   "bos_token": sym[0], "eos_token": sym[0], "unk_token": sym[0]}, fh)


def stage(ckpt, tmp):
    """A folder the converter reads: links to the checkpoint's files, plus a byte vocabulary
    when it has no tokenizer. Returns (folder, made_vocab)."""
    for f in ("config.json", "model.safetensors"):
        if not os.path.isfile(os.path.join(ckpt, f)):
            fail(f"{ckpt}: no {f} (a Hugging Face GPT-2 checkpoint folder has config.json and model.safetensors)")
    try:
        cfg = json.load(open(os.path.join(ckpt, "config.json"), encoding="utf-8"))
        vocab_size = int(cfg["vocab_size"])
    except (ValueError, KeyError, TypeError) as e:
        fail(f"{ckpt}/config.json: no vocab_size ({e})")
    for f in os.listdir(ckpt):
        if f != "config.json":
            os.symlink(os.path.abspath(os.path.join(ckpt, f)), os.path.join(tmp, f))
    # The converter reads the context length as n_ctx, which configs saved by recent
    # transformers leave out: it is n_positions.
    if "n_ctx" not in cfg and "n_positions" in cfg:
        cfg["n_ctx"] = cfg["n_positions"]
    with open(os.path.join(tmp, "config.json"), "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=2)
    if any(os.path.isfile(os.path.join(ckpt, f)) for f in TOKENIZER_FILES[:3]):
        return tmp, False
    write_byte_vocab(tmp, vocab_size)
    return tmp, True


def main():
    ap = argparse.ArgumentParser(description="Convert a GPT-2 safetensors checkpoint to GGUF with "
                                             "llama.cpp's convert_hf_to_gguf.py.")
    ap.add_argument("checkpoint", help="Hugging Face folder (config.json, model.safetensors) or its model.safetensors")
    ap.add_argument("out", help="the .gguf to write")
    ap.add_argument("--converter", required=True,
                    help="convert_hf_to_gguf.py of the llama-cpp-python sdist (vendor/llama.cpp/)")
    ap.add_argument("--outtype", default="f32", choices=("f32", "f16", "bf16"))
    a = ap.parse_args()
    ckpt = a.checkpoint if os.path.isdir(a.checkpoint) else os.path.dirname(a.checkpoint) or "."
    if not os.path.isfile(a.converter):
        fail(f"--converter {a.converter}: no such file (it is in the llama-cpp-python sdist: "
             "pip download --no-deps --no-binary :all: llama-cpp-python, then vendor/llama.cpp/)")
    conv_dir = os.path.dirname(os.path.abspath(a.converter))
    sys.path.insert(0, conv_dir)  # its conversion/ package
    try:
        import conversion.base as cb  # noqa: F401  (the converter's own module)
    except ImportError as e:
        fail(f"{a.converter}: its modules do not import ({e}): it needs torch, numpy, transformers, gguf")
    with tempfile.TemporaryDirectory(prefix="make_gguf-") as tmp:
        folder, made_vocab = stage(ckpt, tmp)
        if made_vocab:
            orig = cb.TextModel.get_vocab_base_pre

            def vocab_pre(self, tokenizer):
                try:
                    return orig(self, tokenizer)
                except NotImplementedError:  # the made-up vocabulary: GPT-2's pre-tokenizer
                    return "gpt-2"
            cb.TextModel.get_vocab_base_pre = vocab_pre
        sys.argv = [a.converter, folder, "--outfile", os.path.abspath(a.out), "--outtype", a.outtype]
        try:
            runpy.run_path(a.converter, run_name="__main__")
        except SystemExit as e:
            if e.code not in (0, None):
                fail(f"{a.converter} exited {e.code} converting {ckpt}")
    if not os.path.isfile(a.out):
        fail(f"{a.converter} wrote no {a.out}")
    print(f"make_gguf: {a.out} ({a.outtype}{', byte-level vocabulary made up' if made_vocab else ''})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
