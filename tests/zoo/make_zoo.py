#!/usr/bin/python3
"""Builds the "real model zoo" into tests/zoo/models/ (generated, gitignored)
and writes tests/zoo/models/manifest.json for compare.mjs.

Models are PyTorch / torchvision exports with random weights (weights cannot
be downloaded here; random init is enough to check the engine computes what
onnxruntime computes). BatchNorm running statistics are randomised too so the
folded/unfolded BN paths see non-trivial values. Each model uses one of
opsets 13/15/17 and a dynamic batch axis.

  make_zoo.py [--force] [--only NAME]

Existing model files are kept unless --force, so the CTest stays fast after
the first run (torch import + export of every model takes ~1 minute)."""
import json
import os
import sys
import warnings

import onnx
import torch
from torch import nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "models")
# Bump when a model definition changes so stale files get rebuilt.
ZOO_VERSION = 8

torch.manual_seed(0)
torch.set_num_threads(1)


def randomise_bn(module):
    g = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 0.5 + 0.75)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.75)
                m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return module


def loud_head(module):
    """torchvision initialises classifier Linear layers with std 0.01 and zero
    bias, so random-weight logits are ~1e-3 and sit under the 1e-4 atol whatever
    the input: re-initialise them the default way so the outputs carry signal."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
            m.weight.data.mul_(4.0)
    return module


ENTRIES = []


def model(name, opset, inputs, outputs=("y",), tol=None, dyn_extra=None, cases=None, note="", out_batch_axis=0,
          ort_opt="all"):
    """Registers a builder. inputs: list of (name, dtype, shape) with "batch"
    for the dynamic axis (and other strings for other dynamic axes, fixed to
    the given example size via dyn_extra={"seq": 7}); int inputs take max.
    cases: the dim sizes to compare at; default batch 1 and 3, with any other
    dynamic dim at its export size and then at a different one."""
    if cases is None:
        cases = [dict(batch=1, **(dyn_extra or {})),
                 dict(batch=3, **{k: max(1, v - 3) for k, v in (dyn_extra or {}).items()})]
    def deco(fn):
        ENTRIES.append(dict(name=name, opset=opset, inputs=inputs, outputs=list(outputs), tol=tol,
                            dyn_extra=dyn_extra or {}, cases=cases, out_batch_axis=out_batch_axis, ort_opt=ort_opt, note=note, build=fn))
        return fn
    return deco


TORCH_DT = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
            "int64": torch.int64, "int32": torch.int32, "bool": torch.bool}


def example_inputs(entry, batch=2):
    xs = []
    for spec in entry["inputs"]:
        shape = [batch if d == "batch" else entry["dyn_extra"].get(d, d) if isinstance(d, str) else d
                 for d in spec["shape"]]
        dt = TORCH_DT[spec["dtype"]]
        if dt in (torch.int64, torch.int32):
            xs.append(torch.randint(0, spec.get("max", 10), shape, dtype=dt))
        elif dt == torch.bool:
            xs.append(torch.rand(shape) < 0.5)
        else:
            xs.append((torch.rand(shape) * 2 - 1).to(dt))
    return tuple(xs)


def inp(name, dtype, shape, **kw):
    d = dict(name=name, dtype=dtype, shape=shape)
    d.update(kw)
    return d


IMG = lambda c=3, hw=64: [inp("x", "float32", ["batch", c, hw, hw])]

# --------------------------------------------------------------------- torchvision


def tv():
    import torchvision.models as m
    return m


@model("resnet18", 13, IMG())
def _():
    return loud_head(randomise_bn(tv().resnet18(num_classes=10)))


@model("mobilenet_v2", 15, IMG())
def _():
    return loud_head(randomise_bn(tv().mobilenet_v2(num_classes=10)))


@model("squeezenet1_1", 17, IMG())
def _():
    return tv().squeezenet1_1(num_classes=10)


@model("shufflenet_v2", 13, IMG())
def _():
    return loud_head(randomise_bn(tv().shufflenet_v2_x0_5(num_classes=10)))


@model("densenet121", 17, IMG(hw=48))
def _():
    return loud_head(randomise_bn(tv().densenet121(num_classes=10)))


@model("efficientnet_b0", 17, IMG())
def _():
    return loud_head(randomise_bn(tv().efficientnet_b0(num_classes=10)))


@model("mnasnet0_5", 15, IMG())
def _():
    return loud_head(randomise_bn(tv().mnasnet0_5(num_classes=10)))


@model("mobilenet_v3_small", 17, IMG())
def _():
    return loud_head(randomise_bn(tv().mobilenet_v3_small(num_classes=10)))

# --------------------------------------------------------------------- recurrent


class RNNClassifier(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.rnn = cell(16, 24, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(48, 5)

    def forward(self, tokens):
        h, _ = self.rnn(self.emb(tokens))
        return self.fc(h[:, -1, :]), h


@model("lstm_text", 13, [inp("tokens", "int64", ["batch", "seq"], max=50)], outputs=("logits", "hidden"),
       dyn_extra={"seq": 9})
def _():
    return RNNClassifier(nn.LSTM)


@model("gru_text", 15, [inp("tokens", "int64", ["batch", "seq"], max=50)], outputs=("logits", "hidden"),
       dyn_extra={"seq": 9})
def _():
    return RNNClassifier(nn.GRU)


class RNNCellLoop(nn.Module):
    """Explicit cell unrolling (LSTMCell / RNN with tanh): exports as MatMul/Sigmoid/Tanh chains."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(8, 12)
        self.rnn = nn.RNN(8, 12, batch_first=True, nonlinearity="relu")

    def forward(self, x):
        h = torch.zeros(x.shape[0], 12)
        c = torch.zeros(x.shape[0], 12)
        for t in range(x.shape[1]):
            h, c = self.cell(x[:, t], (h, c))
        r, _ = self.rnn(x)
        return h + c, r


@model("rnn_cells", 17, [inp("x", "float32", ["batch", 6, 8])], outputs=("hc", "r"))
def _():
    return RNNCellLoop()

# --------------------------------------------------------------------- transformers


class GPTBlock(nn.Module):
    def __init__(self, d=32, h=4):
        super().__init__()
        self.h, self.d = h, d
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(self.d, dim=2)
        q = q.view(b, t, self.h, d // self.h).transpose(1, 2)
        k = k.view(b, t, self.h, d // self.h).transpose(1, 2)
        v = v.view(b, t, self.h, d // self.h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / (d // self.h) ** 0.5
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = att.masked_fill(mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(64, 32)
        self.pos = nn.Embedding(16, 32)
        self.blocks = nn.Sequential(GPTBlock(), GPTBlock())
        self.ln = nn.LayerNorm(32)
        self.head = nn.Linear(32, 64, bias=False)

    def forward(self, tokens):
        t = tokens.shape[1]
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
        x = self.tok(tokens) + self.pos(pos)
        x = self.ln(self.blocks(x))
        logits = self.head(x)
        # where() path too: zero the logits of token 0 and take next-token argmax
        logits = torch.where(tokens.unsqueeze(-1) == 0, torch.zeros_like(logits), logits)
        return logits, logits[:, -1, :].argmax(-1)


@model("gpt2_block", 17, [inp("tokens", "int64", ["batch", "seq"], max=64)], outputs=("logits", "next"),
       dyn_extra={"seq": 10})
def _():
    return GPT()


@model("gpt2_block_op14", 14, [inp("tokens", "int64", ["batch", "seq"], max=64)], outputs=("logits", "next"),
       dyn_extra={"seq": 10})
def _():
    torch.manual_seed(5)
    return GPT()


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 32)
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, activation="gelu")
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.pool = nn.Linear(32, 32)
        self.cls = nn.Linear(32, 3)

    def forward(self, tokens, mask):
        x = self.enc(self.emb(tokens), src_key_padding_mask=mask)
        return self.cls(torch.tanh(self.pool(x[:, 0])))


@model("bert_encoder", 17, [inp("tokens", "int64", ["batch", 12], max=100), inp("mask", "bool", ["batch", 12],
       frac=0.3)], outputs=("logits",))
def _():
    return Bert()


class BertNoMask(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 2, 48, dropout=0.0, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x):
        return self.enc(x)


@model("transformer_prenorm", 13, [inp("x", "float32", [7, "batch", 32])], out_batch_axis=1)
def _():
    return BertNoMask()


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 32, 8, 8)
        self.cls = nn.Parameter(torch.randn(1, 1, 32))
        self.pos = nn.Parameter(torch.randn(1, 17, 32) * 0.1)
        self.mha = nn.MultiheadAttention(32, 4, batch_first=True)
        self.ln = nn.LayerNorm(32)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        p = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(p.shape[0], -1, -1), p], 1) + self.pos
        h = self.ln(x)
        a, w = self.mha(h, h, h)
        x = x + a
        return self.head(x.mean(1)), w


@model("vit_tiny", 17, [inp("x", "float32", ["batch", 3, 32, 32])], outputs=("logits", "attn"))
def _():
    return ViT()

# --------------------------------------------------------------------- conv / resize


class UNet(nn.Module):
    def __init__(self, mode, align):
        super().__init__()
        self.d1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.d2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.d3 = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
        self.up1 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.up2 = nn.ConvTranspose2d(32, 8, 3, stride=2, padding=1, output_padding=1)
        kw = {} if mode == "nearest" else {"align_corners": align}
        self.ups = nn.Upsample(scale_factor=2, mode=mode, **kw)
        self.out = nn.Conv2d(16 + 8, 2, 1)

    def forward(self, x):
        a = self.d1(x)
        b = self.d2(a)
        c = self.d3(b)
        u = torch.cat([self.up1(c), b], 1)
        u = self.up2(u)
        v = self.ups(b)
        return self.out(torch.cat([u + a, v], 1))


@model("unet_nearest", 13, IMG(hw=32))
def _():
    return randomise_bn(UNet("nearest", None))


@model("unet_bilinear_ac", 15, IMG(hw=32))
def _():
    return randomise_bn(UNet("bilinear", True))


@model("unet_bilinear", 17, IMG(hw=32))
def _():
    return randomise_bn(UNet("bilinear", False))


class ResizeZoo(nn.Module):
    def forward(self, x):
        a = F.interpolate(x, size=(13, 11), mode="nearest")
        b = F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False)
        c = F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True)
        d = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        e = F.adaptive_avg_pool2d(x, (3, 5))
        f = F.pixel_shuffle(torch.cat([x, x * 2, x - 1, -x], 1), 2)
        return a, b, c, d, e, f


@model("resize_zoo", 13, [inp("x", "float32", ["batch", 2, 6, 10])], outputs=("a", "b", "c", "d", "e", "f"))
def _():
    return ResizeZoo()


@model("resize_zoo_op17", 17, [inp("x", "float32", ["batch", 2, 6, 10])], outputs=("a", "b", "c", "d", "e", "f"))
def _():
    return ResizeZoo()


class Audio(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 16, 9, stride=2, padding=4), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(3, 2),
            nn.Conv1d(16, 16, 5, dilation=2, padding=4, groups=4), nn.LeakyReLU(0.1),
            nn.Conv1d(16, 32, 3, padding=1), nn.ELU(), nn.AvgPool1d(2, ceil_mode=True),
            nn.ConvTranspose1d(32, 8, 4, stride=2), nn.Hardtanh(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 4))

    def forward(self, x):
        return self.net(x)


@model("audio_conv1d", 15, [inp("wave", "float32", ["batch", 1, 400])])
def _():
    return randomise_bn(Audio())


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.gn = nn.GroupNorm(4, 8)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.inorm2 = nn.InstanceNorm1d(6)
        self.ln = nn.LayerNorm([8, 5])
        self.ln2 = nn.LayerNorm(5)

    def forward(self, x, s):
        y = self.inorm(self.gn(self.conv(x)))
        z = self.ln(y[:, :, :, :5].mean(2))
        return y, z + self.ln2(z), self.inorm2(s), F.normalize(s, dim=-1)


@model("norms_op15", 15, [inp("x", "float32", ["batch", 4, 6, 5]), inp("s", "float32", ["batch", 6, 10])],
       outputs=("y", "z", "s1", "s2"))
def _():
    return Norms()


@model("norms_op17", 17, [inp("x", "float32", ["batch", 4, 6, 5]), inp("s", "float32", ["batch", 6, 10])],
       outputs=("y", "z", "s1", "s2"))
def _():
    torch.manual_seed(3)
    return Norms()

# --------------------------------------------------------------------- misc ops


class EinsumModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 5, 6))
        self.u = nn.Parameter(torch.randn(6, 3))

    def forward(self, x, y):
        a = torch.einsum("bij,jkl->bikl", x, self.w)           # contraction to 4-D
        b = torch.einsum("bikl,lm->bikm", a, self.u)
        c = torch.einsum("bij,bkj->bik", x, y)                 # batched matmul with transposed operand
        d = torch.einsum("bii->bi", torch.einsum("bij,bkj->bik", x, x))  # diagonal
        e = torch.einsum("bij->b", x)                          # full reduce
        f = torch.einsum("bi,bj->bij", x[:, 0], y[:, 1])       # outer
        return b, c, d, e, f


@model("einsum", 13, [inp("x", "float32", ["batch", 3, 4]), inp("y", "float32", ["batch", 5, 4])],
       outputs=("b", "c", "d", "e", "f"))
def _():
    return EinsumModel()


class IndexOps(nn.Module):
    def forward(self, x, idx):
        vals, ind = torch.topk(x, 3, dim=-1)
        small, sind = torch.topk(x, 2, dim=1, largest=False)
        g = torch.gather(x, 1, idx)
        cs = torch.cumsum(x, dim=1)
        csr = torch.flip(torch.cumsum(torch.flip(x, [2]), 2), [2])
        am = torch.argmax(x, dim=2, keepdim=True)
        an = torch.argmin(x, dim=1)
        y = x.clone()
        y[:, 0, 1:3] = -5.0            # ScatterND / Slice+index_put
        y[:, :, 0] = vals[:, :, 0]
        z = x.index_select(2, torch.tensor([0, 3, 3, 1]))
        sorted_v, sorted_i = torch.sort(x[:, 0], dim=-1, descending=True)
        sc = torch.zeros_like(x).scatter(2, ind, vals)
        sca = torch.zeros_like(x).scatter_add(1, idx, x[:, :2, :] if False else torch.ones_like(idx,
                                              dtype=torch.float32))
        m = x.masked_fill(x > 0.5, 0.0).sum(-1)
        nz = (x > 0).sum(dim=(1, 2))
        return vals, ind, small, sind, g, cs, csr, am, an, y, z, sorted_v, sorted_i, sc, sca, m, nz


@model("index_ops", 13, [inp("x", "float32", ["batch", 4, 6]), inp("idx", "int64", ["batch", 2, 6], max=4)],
       outputs=("vals", "ind", "small", "sind", "g", "cs", "csr", "am", "an", "y", "z", "sv", "si", "sc", "sca",
                "m", "nz"))
def _():
    return IndexOps()


@model("index_ops_op17", 17, [inp("x", "float32", ["batch", 4, 6]), inp("idx", "int64", ["batch", 2, 6], max=4)],
       outputs=("vals", "ind", "small", "sind", "g", "cs", "csr", "am", "an", "y", "z", "sv", "si", "sc", "sca",
                "m", "nz"))
def _():
    return IndexOps()


class Half(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.fc(x.float())
        return (y.half() * 2).float() + 1, y.half(), x.float().sum(-1).half()


@model("float16_io", 15, [inp("x", "float16", ["batch", 8])], outputs=("y", "yh", "s"), tol=(2e-3, 2e-3),
       note="float16 outputs: values up to ~4 carry a ulp of 2^-9, tolerance loosened to 2e-3")
def _():
    return Half()


class Double(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3),
                                 nn.LogSoftmax(-1))

    def forward(self, x):
        return self.net(x), x.abs().pow(3).sqrt().exp().mean(-1).to(torch.float32)


@model("double_mlp", 15, [inp("x", "float64", ["batch", 6])], outputs=("y", "f"))
def _():
    return Double().double()


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.prelu = nn.PReLU(3)
        self.conv = nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")
        self.dw = nn.Conv2d(3, 6, 3, stride=2, groups=3)

    def forward(self, x):
        outs = [F.hardswish(x), F.hardsigmoid(x), F.relu6(x * 4), F.silu(x), F.mish(x), F.gelu(x), F.selu(x),
                F.celu(x), F.softsign(x), self.prelu(x), F.logsigmoid(x), torch.erf(x), x.clamp(-0.3, 0.4),
                F.softmin(x, 1), F.glu(torch.cat([x, x], 1), 1), torch.sign(x) * x.abs().sqrt(), torch.rsqrt(x.abs() + 1),
                x.floor() + x.ceil() + x.round(), torch.remainder(x * 5, 3), torch.fmod(x * 5, 3)]
        y = torch.stack(outs, 1)
        p = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        q = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        r = F.avg_pool2d(x, 2, ceil_mode=True)
        pad = F.pad(x, (1, 2, 0, 1), mode="replicate") + 0
        pad2 = F.pad(x, (2, 1, 1, 0), value=0.5)
        return y, p, q, r, pad, pad2, self.dw(self.conv(x)), F.lp_pool2d(x, 2, 2)


@model("activations_pads", 15, [inp("x", "float32", ["batch", 3, 7, 9])],
       outputs=("act", "maxp", "avgp", "avgceil", "padrep", "padc", "dw", "lp"))
def _():
    return Activations()


class ShapeGym(nn.Module):
    """Dynamic-shape plumbing the exporter emits: Shape/Gather/Concat/Reshape, Expand, Range, Where,
    reductions, Split/chunk, Tile, broadcasting comparisons and integer arithmetic."""

    def forward(self, x):
        b, c, n = x.shape
        a, bb, cc = x.chunk(3, dim=2)
        y = torch.cat([cc, a * bb], 2).reshape(b, -1)
        r = torch.arange(n, dtype=torch.float32).expand(b, c, n)
        w = torch.where(x > 0, r, -r)
        red = [x.sum(1), x.mean(2, keepdim=True).squeeze(2), x.amax(1), x.amin(2), x.prod(1),
               x.norm(dim=2), x.abs().log1p().logsumexp(1), x.var(1), x.std(2)]
        t = x[:, :1].repeat(1, 2, 2)
        i = (x * 10).to(torch.int64)
        ii = (i // 3) + (i % 3) * 2 - torch.div(i, 4, rounding_mode="trunc")
        flat = x.flatten(1)[:, ::2]
        neg = x[:, -2:, 1:-1:2]
        return (y, w, torch.cat(red, 1), t, ii, flat, neg, x.permute(2, 0, 1).contiguous(),
                (x > 0.2).any(1), (x > -0.9).all(2), x.cummax(1)[0] if False else x.unsqueeze(1).expand(b, 2, c, n))


@model("shape_gym", 15, [inp("x", "float32", ["batch", 4, 6])],
       outputs=("y", "w", "red", "t", "ii", "flat", "neg", "perm", "any", "all", "exp"))
def _():
    return ShapeGym()


class Matmuls(nn.Module):
    def __init__(self):
        super().__init__()
        self.bil = nn.Linear(4, 3)
        self.fc = nn.Linear(5, 7, bias=False)

    def forward(self, x, y):
        a = x @ x.transpose(1, 2)                              # batched square
        b = torch.matmul(x, torch.ones(5, 2))                  # 3-D x 2-D
        c = torch.baddbmm(a, x, x.transpose(1, 2), beta=0.5, alpha=2.0)
        d = self.bil(y[:, 0]) * x[:, 0, :3]
        e = self.fc(x).relu()
        f = torch.matmul(x[:, 0], torch.ones(5))               # 2-D x 1-D
        return a, b, c, d, e, f


@model("matmuls", 13, [inp("x", "float32", ["batch", 3, 5]), inp("y", "float32", ["batch", 2, 4])],
       outputs=("a", "b", "c", "d", "e", "f"))
def _():
    return Matmuls()


class Conv3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv3d(2, 4, 3, padding=1, stride=(1, 2, 2))
        self.bn = nn.BatchNorm3d(4)
        self.t = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, groups=2, dilation=2)

    def forward(self, x):
        y = F.max_pool3d(torch.relu(self.bn(self.c(x))), 2)
        z = self.t(y.mean(2))
        return y, z, F.adaptive_max_pool2d(z[:, :, :4, :4], 2)


@model("conv3d_tgroups", 17, [inp("x", "float32", ["batch", 2, 4, 8, 8])], outputs=("y", "z", "m"))
def _():
    m = Conv3d()
    m.bn.running_mean.uniform_(-0.1, 0.1)
    m.bn.running_var.uniform_(0.8, 1.2)
    return m

class ResizeFractional(nn.Module):
    """Non-integer scale factors, as e.g. FPN/segmentation heads use: the exporter writes the float
    scales, so the engine must reproduce PyTorch's integer-length coordinate maths from them."""

    def forward(self, x):
        return (F.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=True),
                F.interpolate(x, scale_factor=0.6, mode="nearest"),
                F.interpolate(x, scale_factor=2.3, mode="nearest"),
                F.interpolate(x, scale_factor=1.7, mode="bicubic", align_corners=True),
                F.interpolate(x, scale_factor=0.45, mode="bilinear", align_corners=False),
                F.interpolate(x, size=(1, 3), mode="bicubic", align_corners=False),
                F.interpolate(x, size=(1, 4), mode="bilinear", align_corners=False),
                # output length 1 from a scale: pytorch_half_pixel must still use the scale (torch does)
                F.interpolate(x, scale_factor=0.3, mode="bilinear", align_corners=False))


@model("resize_fractional", 13, [inp("x", "float32", ["batch", 2, 5, 6])],
       outputs=("a", "b", "c", "d", "e", "f", "g", "h"))
def _():
    return ResizeFractional()


class PoolEdges(nn.Module):
    """ceil_mode windows that would start in the right padding (PyTorch drops them), avg-pool divisors
    with and without count_include_pad at the clipped edges, and dilated max-pool."""

    def forward(self, x):
        return (F.max_pool2d(x, 2, 2, 1, ceil_mode=True),
                F.avg_pool2d(x, 2, 2, 1, ceil_mode=True, count_include_pad=True),
                F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                F.max_pool2d(x, 3, 3, 1, dilation=2, ceil_mode=True),
                F.avg_pool1d(x.flatten(2), 4, 3, 2, ceil_mode=True),
                F.max_pool2d(x, (3, 2), (2, 3), (1, 0), ceil_mode=False))


@model("pool_edges", 13, [inp("x", "float32", ["batch", 2, 5, 7])], outputs=("a", "b", "c", "d", "e", "f"))
def _():
    return PoolEdges()




class TorchSemantics(nn.Module):
    """PyTorch-specific behaviours the exporter has to spell in ONNX: nearest downsampling, circular padding,
    reflect-padded conv, area (adaptive) downsampling, integer floor division, round-half-even."""

    def __init__(self):
        super().__init__()
        self.circ = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")
        self.refl = nn.Conv1d(2, 2, 5, padding=2, padding_mode="reflect")

    def forward(self, x):
        # (nearest-exact has no exporter in torch 1.13)
        return (F.interpolate(x, scale_factor=1.6, mode="nearest"),
                F.interpolate(x, size=(3, 4), mode="nearest"),
                self.circ(x),
                self.refl(x.flatten(2)),
                F.interpolate(x, size=(5, 7), mode="area"),
                torch.round(x * 4.0) / 4.0,
                torch.floor_divide((x * 10).to(torch.int64), 3))


@model("torch_semantics", 13, [inp("x", "float32", ["batch", 2, 5, 7])], outputs=("a", "b", "c", "d", "e", "f", "g"))
def _():
    return TorchSemantics()


# --------------------------------------------------------------------- wave 2: rarer export paths


class ScriptedLoop(nn.Module):
    """torch.jit.script export: Loop with a data-dependent trip count, If, and loop-carried state."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x, n):
        h = x
        for i in range(int(n)):
            h = torch.tanh(self.fc(h)) + h * 0.5
            if bool(h.sum() > 0):
                h = h - 0.1
            else:
                h = h * 1.1
        return h


@model("scripted_loop_if", 15, [inp("x", "float32", ["batch", 6]), inp("n", "int64", [], max=1)],
       note="n = 0 from the LCG with max 1: the loop runs 0 times; scripted_loop3 covers a real trip count")
def _():
    return torch.jit.script(ScriptedLoop())


class ScriptedLoop3(ScriptedLoop):
    def forward(self, x):
        h = x
        for i in range(x.shape[0] + 2):
            h = torch.tanh(self.fc(h)) + h * 0.5
            if bool(h.sum() > 0):
                h = h - 0.1
            else:
                h = h * 1.1
        return h


@model("scripted_loop3", 15, [inp("x", "float32", ["batch", 6])])
def _():
    return torch.jit.script(ScriptedLoop3())


class FakeQuant(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = torch.fake_quantize_per_tensor_affine(x, 0.02, 128, 0, 255)
        w = torch.fake_quantize_per_channel_affine(self.conv.weight, torch.full((8,), 0.01),
                                                   torch.zeros(8, dtype=torch.int32), 0, -128, 127)
        y = torch.relu(F.conv2d(x, w, self.conv.bias, padding=1))
        y = torch.fake_quantize_per_tensor_affine(y, 0.05, 0, 0, 255)
        return self.fc(y.mean((2, 3))), y


@model("fake_quant_qdq", 13, IMG(hw=12), outputs=("y", "act"), ort_opt="disabled",
       note="onnxruntime's 'all' level fuses DQ-Conv-Relu-Q into an int8 QLinearConv whose requantised output is "
            "off by one step where the exact float value is near a rounding boundary (checked against a float64 "
            "reference: mlambda's value is the exact one), so onnxruntime runs this model with graph optimisation disabled")
def _():
    return FakeQuant()


class GridSample(nn.Module):
    def forward(self, x, g):
        a = F.grid_sample(x, g, mode="bilinear", padding_mode="zeros", align_corners=False)
        b = F.grid_sample(x, g * 1.3, mode="nearest", padding_mode="border", align_corners=True)
        c = F.grid_sample(x, g * 1.2, mode="bilinear", padding_mode="reflection", align_corners=False)
        d = F.grid_sample(x, g.flip(-1) * 0.8, mode="bicubic", padding_mode="zeros", align_corners=True)
        return a, b, c, d


@model("grid_sample", 16, [inp("x", "float32", ["batch", 2, 6, 8]), inp("g", "float32", ["batch", 4, 5, 2])],
       outputs=("a", "b", "c", "d"))
def _():
    return GridSample()


class Stft(nn.Module):
    def forward(self, x):
        # torch 1.13 cannot export torch.stft: frame with unfold and project on a DFT basis instead
        frames = x.unfold(1, 32, 8) * torch.hann_window(32)
        n = torch.arange(32, dtype=torch.float32)
        ang = 2 * 3.141592653589793 * n.unsqueeze(1) * torch.arange(17, dtype=torch.float32) / 32
        re, im = frames @ torch.cos(ang), frames @ torch.sin(ang)
        return (re * re + im * im).clamp_min(1e-6).log()


@model("stft_logspec", 17, [inp("wave", "float32", ["batch", 200])])
def _():
    return Stft()


class Bags(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(30, 8, mode="mean")
        self.bag2 = nn.EmbeddingBag(30, 8, mode="sum")
        self.emb = nn.Embedding(30, 8, padding_idx=0)

    def forward(self, tokens):
        return self.bag(tokens), self.bag2(tokens), self.emb(tokens).max(1)[0]


@model("embedding_bag", 15, [inp("tokens", "int64", ["batch", 5], max=30)], outputs=("mean", "sum", "maxemb"))
def _():
    return Bags()


class Dynamic(nn.Module):
    """Data-dependent output sizes: NonZero, masked_select, unique, boolean indexing."""

    def forward(self, x):
        nz = torch.nonzero(x > 0.3)
        ms = torch.masked_select(x, x < -0.5)
        u = torch.unique((x * 3).round())
        rows = x[x[:, 0] > 0]
        return nz, ms, u, rows


@model("dynamic_shapes", 13, [inp("x", "float32", ["batch", 5])], outputs=("nz", "ms", "u", "rows"), out_batch_axis=None)
def _():
    return Dynamic()


class Misc2(nn.Module):
    def __init__(self):
        super().__init__()
        self.lrn = nn.LocalResponseNorm(3)
        self.pool = nn.MaxPool2d(2, return_indices=True)

    def forward(self, x):
        a = self.lrn(x)
        p, idx = self.pool(x)
        b = p
        c = F.hardshrink(x, 0.3) + F.softshrink(x, 0.2) + torch.where(x > 0.1, x, torch.full_like(x, -2.0))
        d = torch.roll(x, shifts=(1, -2), dims=(2, 3))
        e = torch.tril(x[:, 0]) - torch.triu(x[:, 1], 1)
        f = F.pad(x, (1, -1, -1, 2))                     # negative pad: cropping
        g = F.pad(x, (2, 2, 1, 1), mode="reflect")
        h = F.interpolate(x[:, 0], scale_factor=1.7, mode="linear", align_corners=False)
        i = F.interpolate(x.unsqueeze(2).expand(-1, -1, 3, -1, -1), scale_factor=(2, 1.5, 0.5), mode="trilinear")
        j = torch.cumsum(x.flatten(1), 1)
        k = F.softmax(x, dim=1) * F.log_softmax(x, dim=2)
        return a, b, idx, c, d, e, f, g, h, i, j, k


@model("misc_ops", 14, [inp("x", "float32", ["batch", 4, 6, 8])],
       outputs=("lrn", "maxp", "idx", "shrink", "roll", "tri", "crop", "reflect", "linear1d", "trilinear", "cumsum",
                "softmaxes"))
def _():
    return Misc2()


class IntOps(nn.Module):
    def forward(self, a, b, m):
        c = a * b - (a // (b.abs() + 1)) + torch.remainder(a, 7)
        d = torch.logical_or(torch.logical_and(m, a > 2), torch.logical_xor(~m, b < 0))
        e = torch.maximum(a, b) + torch.minimum(a, b * 2) + a.abs() + a.clamp(-3, 3)
        f = (a.float() / 3).to(torch.int32) + b.to(torch.int32)
        g = torch.where(m, a, b).sum(1) + a.max(1)[0] + a.argmax(1)
        return c, d, e, f, g, (a == b) | (a > b), a.to(torch.bool), m.to(torch.float32).mean(1)


@model("int_bool_ops", 15, [inp("a", "int64", ["batch", 6], max=9), inp("b", "int32", ["batch", 6], max=5),
                            inp("m", "bool", ["batch", 6])],
       outputs=("c", "d", "e", "f", "g", "cmp", "tobool", "mean"))
def _():
    class Wrap(IntOps):
        def forward(self, a, b, m):
            return super().forward(a, (b - 2).to(torch.int64), m)
    return Wrap()


class SeqList(nn.Module):
    """Scripted list building: SequenceEmpty / SequenceInsert / ConcatFromSequence / SplitToSequence."""

    def forward(self, x):
        parts = torch.split(x, 2, dim=1)
        outs: list[torch.Tensor] = []
        for p in parts:
            outs.append(p.sum(1, keepdim=True) * 2)
        return torch.cat(outs, 1)


@model("scripted_sequence", 15, [inp("x", "float32", ["batch", 7])])
def _():
    return torch.jit.script(SeqList())


class Attention(nn.Module):
    """Cross attention with an additive float mask, key padding and need_weights averaging (MHA slow path)."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 2, kdim=12, vdim=10)

    def forward(self, q, k, v):
        mask = torch.zeros(q.shape[0], k.shape[0])
        mask[:, -1] = float("-inf")
        out, w = self.mha(q, k, v, attn_mask=mask)
        return out, w


@model("cross_attention", 13, [inp("q", "float32", [5, "batch", 16]), inp("k", "float32", [7, "batch", 12]),
                               inp("v", "float32", [7, "batch", 10])], outputs=("out", "w"), out_batch_axis=None)
def _():
    return Attention()

# --------------------------------------------------------------------- old opsets / other exporter options
# The public model zoos are full of opset 7-11 files: older op versions (Upsample, Resize-10/11, Slice/Pad/
# Squeeze/Split/Clip with attributes instead of inputs) and exporter options (initializers listed as graph
# inputs, no constant folding leaving Shape/Gather/Concat chains to run at run time).


def variant(base, name, opset=None, **export_kw):
    e = dict(next(x for x in ENTRIES if x["name"] == base))
    e.update(name=name, opset=opset or e["opset"], export_kw=export_kw)
    ENTRIES.append(e)


variant("resnet18", "resnet18_op9", 9)


@model("resnet18_224", 17, IMG(hw=224), cases=[dict(batch=1), dict(batch=2)])
def _():
    torch.manual_seed(11)
    return loud_head(randomise_bn(tv().resnet18(num_classes=1000)))


@model("mobilenet_v2_224", 13, IMG(hw=224), cases=[dict(batch=1), dict(batch=2)])
def _():
    torch.manual_seed(12)
    return loud_head(randomise_bn(tv().mobilenet_v2(num_classes=1000)))


@model("googlenet_odd", 15, IMG(hw=75), cases=[dict(batch=1), dict(batch=2)],
       note="odd input size: ceil_mode pools and inception branches with uneven spatial maps")
def _():
    torch.manual_seed(13)
    return loud_head(randomise_bn(tv().googlenet(num_classes=10, aux_logits=False, init_weights=True)))


@model("regnet_x", 13, IMG(hw=64), tol=(1e-3, 1e-3),
       note="logits are ~7.5 in magnitude and float32 noise through the deep grouped-conv stack is ~1e-4 "
            "absolute (median) in both engines, so a logit near 0 needs atol 1e-3 (seen at batch 17)")
def _():
    return loud_head(randomise_bn(tv().regnet_x_400mf(num_classes=10)))


@model("convnext_tiny", 17, IMG(hw=64), tol=(1e-4, 2e-3))
def _():
    return loud_head(tv().convnext_tiny(num_classes=10))


@model("vit_b_tv", 17, IMG(hw=64), cases=[dict(batch=1), dict(batch=2)])
def _():
    m = tv()
    return loud_head(m.VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=4, hidden_dim=64,
                                         mlp_dim=128, num_classes=10))


@model("swin_t_tv", 17, IMG(hw=64), cases=[dict(batch=1), dict(batch=2)], tol=(1e-4, 2e-3))
def _():
    return loud_head(tv().swin_t(num_classes=10))


@model("deeplab_mnv3", 17, IMG(hw=64), outputs=("out",), cases=[dict(batch=1), dict(batch=2)])
def _():
    from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large
    m = deeplabv3_mobilenet_v3_large(num_classes=4, weights=None, weights_backbone=None, aux_loss=False)

    class Out(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x)["out"]
    return randomise_bn(Out())
variant("mobilenet_v2", "mobilenet_v2_op10", 10)
variant("squeezenet1_1", "squeezenet1_1_op11_initinputs", 11, keep_initializers_as_inputs=True)
variant("unet_nearest", "unet_nearest_op9", 9)
variant("unet_bilinear", "unet_bilinear_op10", 10)
variant("unet_bilinear_ac", "unet_bilinear_ac_op11", 11)
variant("resize_zoo", "resize_zoo_op11", 11)
variant("lstm_text", "lstm_text_op9", 9)
variant("gru_text", "gru_text_op11", 11)
variant("transformer_prenorm", "transformer_prenorm_op11", 11)
variant("gpt2_block", "gpt2_block_nofold", 17, do_constant_folding=False)
variant("index_ops", "index_ops_op11", 11)
variant("shape_gym", "shape_gym_op11_nofold", 11, do_constant_folding=False)
variant("audio_conv1d", "audio_conv1d_op10", 10)
variant("norms_op15", "norms_op11", 11)
variant("activations_pads", "activations_pads_op12", 12)
variant("einsum", "einsum_op12", 12)
variant("matmuls", "matmuls_op9", 9)
variant("efficientnet_b0", "efficientnet_b0_nofold", 13, do_constant_folding=False)


def dynamic_hw(base, name, opset, sizes):
    """The model with dynamic height/width too, run at other sizes than the export's: Resize/Upsample
    scales, ConvTranspose and Pad then get their shapes at run time (Shape->Gather->Concat chains)."""
    e = dict(next(x for x in ENTRIES if x["name"] == base))
    spec = dict(e["inputs"][0], shape=e["inputs"][0]["shape"][:2] + ["h", "w"])
    e.update(name=name, opset=opset, inputs=[spec] + e["inputs"][1:], dyn_extra=dict(h=sizes[0][0], w=sizes[0][1]),
             cases=[dict(batch=1, h=sizes[0][0], w=sizes[0][1])] + [dict(batch=2, h=h, w=w) for h, w in sizes[1:]])
    ENTRIES.append(e)


dynamic_hw("unet_bilinear", "unet_bilinear_dynhw", 17, [(32, 32), (24, 40)])
dynamic_hw("unet_nearest", "unet_nearest_dynhw_op11", 11, [(32, 32), (16, 28)])
dynamic_hw("resnet18", "resnet18_dynhw", 13, [(64, 64), (45, 77)])
dynamic_hw("activations_pads", "activations_pads_dynhw", 15, [(7, 9), (12, 5)])


def wide_inputs(base, name, scale):
    """The same model fed inputs in [-scale, scale): saturation, overflow and large-logit paths."""
    e = dict(next(x for x in ENTRIES if x["name"] == base))
    e.update(name=name, inputs=[dict(s, scale=scale) if s["dtype"].startswith("float") and s["dtype"] != "float16"
                                else s for s in e["inputs"]])
    ENTRIES.append(e)


wide_inputs("activations_pads", "activations_pads_x40", 40.0)
wide_inputs("norms_op17", "norms_x1000", 1000.0)
wide_inputs("shape_gym", "shape_gym_x30", 30.0)
wide_inputs("transformer_prenorm", "transformer_prenorm_x50", 50.0)
wide_inputs("rnn_cells", "rnn_cells_x20", 20.0)
wide_inputs("double_mlp", "double_mlp_x300", 300.0)
wide_inputs("misc_ops", "misc_ops_x25", 25.0)

# --------------------------------------------------------------------- export


def calibrate_bn(module, entry):
    """Sets BatchNorm running statistics from the activations of random inputs,
    as training would. With default (0, 1) or arbitrary statistics the signal of
    a deep random network decays to nothing and its output stops depending on
    the input, which would make the comparison toothless."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    module.train()
    with torch.no_grad():
        for _ in range(2):
            module(*example_inputs(entry, batch=4))
    module.eval()


def export(entry, path):
    module = entry["build"]().eval()
    calibrate_bn(module, entry)
    ex = example_inputs(entry)
    in_names = [s["name"] for s in entry["inputs"]]
    dyn = {}
    for s in entry["inputs"]:
        axes = {i: d for i, d in enumerate(s["shape"]) if isinstance(d, str)}
        if axes:
            dyn[s["name"]] = axes
    for o in entry["outputs"]:
        dyn[o] = {entry["out_batch_axis"]: "batch"} if entry["out_batch_axis"] is not None else {}
    # grad stays enabled: under no_grad PyTorch 1.13 takes the fused "fast path" of
    # TransformerEncoderLayer / MultiheadAttention, which has no ONNX export
    if True:
        kw = dict(do_constant_folding=True)
        kw.update(entry.get("export_kw") or {})
        torch.onnx.export(module, ex, path, opset_version=entry["opset"], input_names=in_names,
                          output_names=entry["outputs"], dynamic_axes=dyn, **kw)


def main():
    force = "--force" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    os.makedirs(OUT, exist_ok=True)
    manifest, failed, skipped = [], [], []
    for e in ENTRIES:
        if only and e["name"] != only:
            continue
        fname = f"{e['name']}.v{ZOO_VERSION}.onnx"
        path = os.path.join(OUT, fname)
        if force or not os.path.exists(path):
            try:
                export(e, path + ".tmp")
                os.replace(path + ".tmp", path)
                print(f"exported {e['name']} (opset {e['opset']})", file=sys.stderr)
            except ModuleNotFoundError as ex:  # torchvision missing: say so loudly, do not fail
                skipped.append(e["name"])
                print(f"SKIPPED {e['name']}: {ex} (scripts/install-deps.sh installs python3-torchvision)",
                      file=sys.stderr)
                continue
            except Exception as ex:  # an export the exporter cannot do is a zoo gap, not an engine bug
                failed.append(e["name"])
                print(f"EXPORT FAILED {e['name']}: {type(ex).__name__}: {str(ex)[:300]}", file=sys.stderr)
                continue
        manifest.append(dict(name=e["name"], file=fname, opset=e["opset"], inputs=e["inputs"], cases=e["cases"],
                             atol=(e["tol"] or (1e-4, 1e-3))[0], rtol=(e["tol"] or (1e-4, 1e-3))[1],
                             note=e["note"], ort_opt=e["ort_opt"]))
    import zoo_graphs
    for name, build, o in zoo_graphs.GRAPHS:
        if only and name != only:
            continue
        fname = f"{name}.v{ZOO_VERSION}.onnx"
        path = os.path.join(OUT, fname)
        try:
            m, inputs, extra = build()
            if force or not os.path.exists(path):
                if extra.get("external"):
                    # the location is relative to the model's folder; written under its final name
                    onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                              location=fname + ".data", size_threshold=0)
                else:
                    onnx.save(m, path + ".tmp")
                    os.replace(path + ".tmp", path)
                print(f"built {name}", file=sys.stderr)
        except Exception as ex:
            failed.append(name)
            print(f"BUILD FAILED {name}: {type(ex).__name__}: {str(ex)[:300]}", file=sys.stderr)
            continue
        tol = extra.get("tol") or (1e-4, 1e-3)
        manifest.append(dict(name=name, file=fname, opset=m.opset_import[0].version, inputs=inputs,
                             cases=extra.get("cases", [dict(batch=1), dict(batch=3)]), atol=tol[0], rtol=tol[1],
                             note=extra.get("note", ""), ort_opt=extra.get("ort_opt", "all")))
    if not only:
        # drop files of older zoo versions and of models no longer in the zoo
        keep = {m["file"] for m in manifest} | {m["file"] + ".data" for m in manifest} | {"manifest.json"}
        for f in os.listdir(OUT):
            if f not in keep and (f.endswith(".onnx") or f.endswith(".onnx.data")):
                os.remove(os.path.join(OUT, f))
        with open(os.path.join(OUT, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
    print(f"zoo: {len(manifest)} models, {len(failed)} export failures {failed}" +
          (f", {len(skipped)} skipped for a missing module" if skipped else ""), file=sys.stderr)
    # a model that no longer exports (e.g. another torch version) must not silently drop out of the zoo
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
