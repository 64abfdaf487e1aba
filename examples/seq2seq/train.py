#!/usr/bin/python3
"""Trains the seq2seq-with-attention chat model on corpus.tsv and exports it
as ONNX, like the seed walkthrough's conversation model.

Outputs (committed, so the demo needs no Python):
  model/model.onnx     monolithic: STRING tokens [-1] in -> STRING tokens [-1] out
                       (vocabulary lookups in-graph with ai.onnx.ml LabelEncoder)
  model/serving.yaml   its contract
  model/vocab.txt      the vocabulary, one token per line (id = line number)
  pre/model.onnx       pipeline stage 1: raw sentence -> normalised tokens
  post/model.onnx      pipeline stage 3: tokens -> tokens without specials
  reference.json       prompts and the tokens PyTorch produces for them

Run: /usr/bin/python3 examples/seq2seq/train.py  (2 CPU cores, about a minute)
"""
import json
import os
import random
import re
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
SPECIALS = ["<pad>", "<unk>", "<s>", "<\\s>"]  # "<\s>" ends a reply, as in the seed
PAD, UNK, BOS, EOS = range(4)
MAX_LEN = 12   # longest reply the unrolled greedy decoder can produce (incl. <\s>)
EMB, HID = 64, 128
SEED = 7


def tokenize(text):
    """The same normalisation the pipeline's pre stage does in ONNX:
    lower case, split on whitespace and . , ? !"""
    return [t for t in re.split(r"[\s?!,.]+", text.lower()) if t]


def load_corpus():
    pairs = []
    with open(os.path.join(HERE, "corpus.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            prompt, reply = line.split("\t")
            pairs.append((tokenize(prompt), tokenize(reply)))
    return pairs


class Encoder(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, EMB)
        self.rnn = nn.GRU(EMB, HID, batch_first=True)

    def forward(self, ids):  # ids [B, T]
        return self.rnn(self.emb(ids))  # out [B, T, H], h [1, B, H]


class Decoder(nn.Module):
    """GRU decoder with Luong (dot) attention over the encoder states."""

    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, EMB)
        self.cell = nn.GRUCell(EMB + HID, HID)
        self.out = nn.Linear(2 * HID, vocab)

    def step(self, token, h, ctx, enc_out, enc_mask):
        # token [B], h [B, H], ctx [B, H] (previous attention context)
        h = self.cell(torch.cat([self.emb(token), ctx], dim=1), h)
        scores = torch.bmm(enc_out, h.unsqueeze(2)).squeeze(2)  # [B, T]
        scores = scores.masked_fill(~enc_mask, -1e9)
        attn = torch.softmax(scores, dim=1)
        ctx = torch.bmm(attn.unsqueeze(1), enc_out).squeeze(1)  # [B, H]
        return self.out(torch.cat([h, ctx], dim=1)), h, ctx


class Seq2Seq(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.enc = Encoder(vocab)
        self.dec = Decoder(vocab)

    def loss(self, src, src_mask, tgt):
        enc_out, h = self.enc(src)
        h = h[0]
        ctx = torch.zeros_like(h)
        token = torch.full((src.shape[0],), BOS, dtype=torch.long)
        total = 0.0
        for t in range(tgt.shape[1]):
            logits, h, ctx = self.dec.step(token, h, ctx, enc_out, src_mask)
            total = total + nn.functional.cross_entropy(logits, tgt[:, t], ignore_index=PAD)
            token = tgt[:, t]  # teacher forcing
        return total / tgt.shape[1]


class GreedyChat(nn.Module):
    """What is exported: token ids [T] -> reply ids up to and including <\\s>."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, ids):
        enc_out, h = self.m.enc(ids.unsqueeze(0))
        h = h[0]
        ctx = torch.zeros_like(h)
        mask = torch.ones(enc_out.shape[:2], dtype=torch.bool)
        token = torch.full((1,), BOS, dtype=torch.long)
        outs = []
        for _ in range(MAX_LEN):  # unrolled: no data-dependent control flow
            logits, h, ctx = self.m.dec.step(token, h, ctx, enc_out, mask)
            token = torch.argmax(logits, dim=1)
            outs.append(token)
        seq = torch.cat(outs + [torch.full((1,), EOS, dtype=torch.long)])
        first_eos = torch.argmax((seq == EOS).to(torch.int64))  # first occurrence
        return seq[: first_eos + 1]


def pad(seqs, length):
    return [s + [PAD] * (length - len(s)) for s in seqs]


def train(pairs, stoi):
    torch.manual_seed(SEED)
    random.seed(SEED)
    model = Seq2Seq(len(stoi))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    enc = lambda toks: [stoi.get(t, UNK) for t in toks]
    data = [(enc(p), enc(r) + [EOS]) for p, r in pairs]
    order = list(range(len(data)))
    for epoch in range(1, 401):
        random.shuffle(order)
        model.train()
        total = 0.0
        for b in range(0, len(order), 32):
            batch = [data[i] for i in order[b:b + 32]]
            src = torch.tensor(pad([s for s, _ in batch], max(len(s) for s, _ in batch)))
            tgt = torch.tensor(pad([t for _, t in batch], max(len(t) for _, t in batch)))
            loss = model.loss(src, src != PAD, tgt)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item()
        if epoch % 25 == 0:
            acc = accuracy(model, data)
            print(f"epoch {epoch}: loss {total:.3f}, exact replies {acc:.1%}", flush=True)
            if acc == 1.0 and epoch >= 150:
                break
    return model


def accuracy(model, data):
    chat = GreedyChat(model).eval()
    ok = 0
    with torch.no_grad():
        for src, tgt in data:
            ok += chat(torch.tensor(src)).tolist() == tgt
    return ok / len(data)


def export_model(model, itos, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    chat = GreedyChat(model).eval()
    core_path = os.path.join(out_dir, "core.onnx.tmp")
    torch.onnx.export(chat, (torch.tensor([4, 5, 6]),), core_path, opset_version=17,
                      input_names=["ids"], output_names=["reply_ids"],
                      dynamic_axes={"ids": {0: "tokens"}, "reply_ids": {0: "reply_tokens"}})
    core = onnx.load(core_path)
    os.remove(core_path)
    g = core.graph
    # Strings in and out: LabelEncoder lookups around the neural graph.
    to_ids = helper.make_node("LabelEncoder", ["input"], ["ids"], domain="ai.onnx.ml", name="vocab_lookup",
                              keys_strings=itos, values_int64s=list(range(len(itos))), default_int64=UNK)
    to_str = helper.make_node("LabelEncoder", ["reply_ids"], ["output"], domain="ai.onnx.ml", name="vocab_reverse",
                              keys_int64s=list(range(len(itos))), values_strings=itos, default_string="<unk>")
    graph = helper.make_graph(
        [to_ids] + list(g.node) + [to_str], "seq2seq_chat",
        [helper.make_tensor_value_info("input", TensorProto.STRING, ["tokens"])],
        [helper.make_tensor_value_info("output", TensorProto.STRING, ["reply_tokens"])],
        initializer=list(g.initializer))
    m = helper.make_model(graph, producer_name="mlambda-examples",
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out_dir, "model.onnx"))
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(itos) + "\n")


def export_pre(out_dir):
    """Raw sentence [1] -> lower-case word tokens [-1]: StringNormalizer,
    StringSplit on whitespace and on . , ? ! (opset 20), then keep tokens
    matching a word pattern (RegexFullMatch + Compress)."""
    os.makedirs(out_dir, exist_ok=True)
    nodes = [helper.make_node("StringNormalizer", ["text"], ["lower"], case_change_action="LOWER"),
             helper.make_node("Constant", [], ["flat"], value=helper.make_tensor("flat", TensorProto.INT64, [1], [-1]))]
    cur = "lower"
    for i, delim in enumerate(["", ".", ",", "?", "!"]):  # "" splits on runs of whitespace
        kw = {"delimiter": delim} if delim else {}
        nodes.append(helper.make_node("StringSplit", [cur], [f"split{i}", f"len{i}"], **kw))
        nodes.append(helper.make_node("Reshape", [f"split{i}", "flat"], [f"tok{i}"]))
        cur = f"tok{i}"
    nodes += [helper.make_node("RegexFullMatch", [cur], ["is_word"], pattern="[a-z0-9']+"),
              helper.make_node("Compress", [cur, "is_word"], ["input"], axis=0)]
    graph = helper.make_graph(nodes, "preprocess",
                              [helper.make_tensor_value_info("text", TensorProto.STRING, [-1])],
                              [helper.make_tensor_value_info("input", TensorProto.STRING, [-1])])
    m = helper.make_model(graph, producer_name="mlambda-examples", opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    onnx.save(m, os.path.join(out_dir, "model.onnx"))


def export_post(out_dir):
    """Reply tokens -> the same tokens without <pad> <unk> <s> <\\s>."""
    os.makedirs(out_dir, exist_ok=True)
    nodes = [helper.make_node("RegexFullMatch", ["output"], ["is_special"], pattern="<.*>"),
             helper.make_node("Not", ["is_special"], ["keep"]),
             helper.make_node("Compress", ["output", "keep"], ["reply"], axis=0)]
    graph = helper.make_graph(nodes, "postprocess",
                              [helper.make_tensor_value_info("output", TensorProto.STRING, [-1])],
                              [helper.make_tensor_value_info("reply", TensorProto.STRING, [-1])])
    m = helper.make_model(graph, producer_name="mlambda-examples", opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    onnx.save(m, os.path.join(out_dir, "model.onnx"))


def main():
    torch.set_num_threads(2)
    pairs = load_corpus()
    words = sorted({t for p, r in pairs for t in p + r})
    itos = SPECIALS + words
    stoi = {t: i for i, t in enumerate(itos)}
    print(f"{len(pairs)} exchanges, vocabulary {len(itos)}")
    model = train(pairs, stoi)
    export_model(model, itos, os.path.join(HERE, "model"))
    export_pre(os.path.join(HERE, "pre"))
    export_post(os.path.join(HERE, "post"))
    # Reference replies from PyTorch, for mlambda's equality test.
    chat = GreedyChat(model).eval()
    prompts = ["hello", "how are you", "how does honey taste", "what is your name", "tell me a joke",
               "do you like cats", "what is onnx", "bye", "hello how are you", "unknownword xyzzy",
               "what is the meaning of life", "i am tired"]
    ref = []
    with torch.no_grad():
        for p in prompts:
            ids = [stoi.get(t, UNK) for t in tokenize(p)]
            out = chat(torch.tensor(ids)).tolist()
            ref.append({"prompt": p, "tokens": tokenize(p), "reply": [itos[i] for i in out]})
    with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"max_len": MAX_LEN, "cases": ref}, f, indent=1)
    for r in ref:
        print(f"  {r['prompt']!r} -> {' '.join(r['reply'])}")


if __name__ == "__main__":
    sys.exit(main())
