"""Test model architectures for Kiln, written in plain PyTorch (torchvision does not import here).

Every builder takes no required argument and returns a randomly initialised (seeded) model in eval
mode. The CNNs follow torchvision's layouts so that parameter counts and MACs can be compared with
published numbers (ResNet-50 v1: 25,557,032 parameters, ~4.1 GMAC at 224x224).

MODELS maps a model name to (builder, example-inputs factory); tests/models/export.py exports them.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

SEED = 0


def conv_bn(cin, cout, k=3, stride=1, groups=1, act=nn.ReLU, eps=1e-5):
    """Conv (no bias) + BatchNorm + optional activation: the building brick of every CNN here."""
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=eps)]
    if act is not None:
        layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU) else act())
    return nn.Sequential(*layers)


def make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def randomize_bn(model: nn.Module) -> nn.Module:
    """Gives BatchNorm non-trivial statistics so that folding it is actually tested."""
    g = torch.Generator().manual_seed(SEED + 1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return model


# ---------------------------------------------------------------------------------------------
# ResNet-50 v1 (torchvision layout, stride on the 3x3 conv) and v2 (pre-activation)
# ---------------------------------------------------------------------------------------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride=1):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = conv_bn(cin, width, 1)
        self.conv2 = conv_bn(width, width, 3, stride)
        self.conv3 = conv_bn(width, cout, 1, act=None)
        self.downsample = (conv_bn(cin, cout, 1, stride, act=None)
                           if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + self.downsample(x))


class PreActBottleneck(nn.Module):
    """ResNet v2 unit: BN-ReLU-conv, the shortcut projection taken from the pre-activated input."""
    expansion = 4

    def __init__(self, cin, width, stride=1):
        super().__init__()
        cout = width * self.expansion
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, bias=False)
                         if stride != 1 or cin != cout else None)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + shortcut


class ResNet(nn.Module):
    def __init__(self, block, layers=(3, 4, 6, 3), num_classes=1000, preact=False):
        super().__init__()
        self.preact = preact
        if preact:  # v2: plain conv stem, BN-ReLU after the last stage
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False),
                                      nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        stages, cin = [], 64
        for i, n in enumerate(layers):
            width = 64 * 2 ** i
            for j in range(n):
                stages.append(block(cin, width, 2 if (j == 0 and i > 0) else 1))
                cin = width * block.expansion
        self.stages = nn.Sequential(*stages)
        self.post = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True)) if preact else nn.Identity()
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.post(self.stages(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet50_v1():
    return ResNet(Bottleneck)


def resnet50_v2():
    return ResNet(PreActBottleneck, preact=True)


# ---------------------------------------------------------------------------------------------
# MobileNet-v2 (torchvision layout: 3,504,872 parameters)
# ---------------------------------------------------------------------------------------------
class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn(cin, hidden, 1, act=nn.ReLU6)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   conv_bn(hidden, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    # expand ratio, channels, repeats, first stride
    CONFIG = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers, cin = [conv_bn(3, 32, 3, 2, act=nn.ReLU6)], 32
        for t, c, n, s in self.CONFIG:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2():
    return MobileNetV2()


# ---------------------------------------------------------------------------------------------
# MobileNet-v3-small (torchvision layout: 2,542,856 parameters; hardswish, SE with hardsigmoid)
# ---------------------------------------------------------------------------------------------
class SqueezeExcite(nn.Module):
    def __init__(self, channels, squeeze, act=nn.ReLU, gate=nn.Hardsigmoid):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act, self.gate = act(), gate()

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class MBConvV3(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride):
        super().__init__()
        layers = [conv_bn(cin, exp, 1, act=act, eps=1e-3)] if exp != cin else []
        layers.append(conv_bn(exp, exp, k, stride, groups=exp, act=act, eps=1e-3))
        if se:
            layers.append(SqueezeExcite(exp, make_divisible(exp // 4)))
        layers.append(conv_bn(exp, cout, 1, act=None, eps=1e-3))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class MobileNetV3Small(nn.Module):
    RE, HS = nn.ReLU, nn.Hardswish
    # in, kernel, expanded, out, SE, activation, stride
    CONFIG = [(16, 3, 16, 16, True, RE, 2), (16, 3, 72, 24, False, RE, 2),
              (24, 3, 88, 24, False, RE, 1), (24, 5, 96, 40, True, HS, 2),
              (40, 5, 240, 40, True, HS, 1), (40, 5, 240, 40, True, HS, 1),
              (40, 5, 120, 48, True, HS, 1), (48, 5, 144, 48, True, HS, 1),
              (48, 5, 288, 96, True, HS, 2), (96, 5, 576, 96, True, HS, 1),
              (96, 5, 576, 96, True, HS, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers = [conv_bn(3, 16, 3, 2, act=nn.Hardswish, eps=1e-3)]
        layers += [MBConvV3(*cfg) for cfg in self.CONFIG]
        layers.append(conv_bn(96, 576, 1, act=nn.Hardswish, eps=1e-3))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(inplace=True),
                                        nn.Dropout(0.2), nn.Linear(1024, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v3_small():
    return MobileNetV3Small()


# ---------------------------------------------------------------------------------------------
# SqueezeNet 1.1 (1,235,496 parameters)
# ---------------------------------------------------------------------------------------------
class Fire(nn.Module):
    def __init__(self, cin, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1 = nn.Conv2d(squeeze, e1, 1)
        self.expand3 = nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1(x)), F.relu(self.expand3(x))], 1)


def squeezenet1_1(num_classes=1000):
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), pool(),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
        Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


# ---------------------------------------------------------------------------------------------
# EfficientNet-B0 (torchvision layout: 5,288,548 parameters; SiLU, SE with sigmoid)
# ---------------------------------------------------------------------------------------------
class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn(cin, hidden, 1, act=nn.SiLU, eps=1e-3)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU, eps=1e-3),
                   SqueezeExcite(hidden, max(1, cin // 4), act=nn.SiLU, gate=nn.Sigmoid),
                   conv_bn(hidden, cout, 1, act=None, eps=1e-3)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class EfficientNetB0(nn.Module):
    # expand, kernel, stride, in, out, repeats
    CONFIG = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
              (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
              (6, 3, 1, 192, 320, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers = [conv_bn(3, 32, 3, 2, act=nn.SiLU, eps=1e-3)]
        for e, k, s, cin, cout, n in self.CONFIG:
            for i in range(n):
                layers.append(MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e))
        layers.append(conv_bn(320, 1280, 1, act=nn.SiLU, eps=1e-3))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def efficientnet_b0():
    return EfficientNetB0()


# ---------------------------------------------------------------------------------------------
# DenseNet-121 (torchvision layout: 7,978,856 parameters)
# ---------------------------------------------------------------------------------------------
class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        y = self.conv1(F.relu(self.norm1(x)))
        return torch.cat([x, self.conv2(F.relu(self.norm2(y)))], 1)


def densenet121(growth=32, blocks=(6, 12, 24, 16), init=64, bn_size=4, num_classes=1000):
    layers = [nn.Conv2d(3, init, 7, 2, 3, bias=False), nn.BatchNorm2d(init), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    c = init
    for i, n in enumerate(blocks):
        for _ in range(n):
            layers.append(DenseLayer(c, growth, bn_size))
            c += growth
        if i != len(blocks) - 1:  # transition: halve channels and resolution
            layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False),
                       nn.AvgPool2d(2, 2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
               nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------
# A small Inception-style network (GoogLeNet blocks 3a, 3b, 4a at 224x224)
# ---------------------------------------------------------------------------------------------
class InceptionBlock(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pool_proj):
        super().__init__()
        self.b1 = conv_bn(cin, c1, 1)
        self.b2 = nn.Sequential(conv_bn(cin, c3r, 1), conv_bn(c3r, c3, 3))
        self.b3 = nn.Sequential(conv_bn(cin, c5r, 1), conv_bn(c5r, c5, 5))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(cin, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def inception_small(num_classes=1000):
    return nn.Sequential(
        conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1),
        conv_bn(64, 64, 1), conv_bn(64, 192, 3), nn.MaxPool2d(3, 2, 1),
        InceptionBlock(192, 64, 96, 128, 16, 32, 32),     # 3a -> 256
        InceptionBlock(256, 128, 128, 192, 32, 96, 64),   # 3b -> 480
        nn.MaxPool2d(3, 2, 1),
        InceptionBlock(480, 192, 96, 208, 16, 48, 64),    # 4a -> 512
        nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Dropout(0.4), nn.Linear(512, num_classes))


# ---------------------------------------------------------------------------------------------
# ShuffleNet-v2 x1.0 (torchvision layout: 2,278,604 parameters)
# ---------------------------------------------------------------------------------------------
def channel_shuffle(x, groups=2):
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride, mid = stride, cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None),
                                         conv_bn(cin, mid, 1))
        b2_in = cin if stride > 1 else mid
        self.branch2 = nn.Sequential(conv_bn(b2_in, mid, 1),
                                     conv_bn(mid, mid, 3, stride, groups=mid, act=None),
                                     conv_bn(mid, mid, 1))

    def forward(self, x):
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat([a, self.branch2(b)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, repeats=(4, 8, 4), channels=(24, 116, 232, 464, 1024), num_classes=1000):
        super().__init__()
        self.conv1 = conv_bn(3, channels[0], 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], channels[0]
        for n, cout in zip(repeats, channels[1:4]):
            stages += [ShuffleUnit(cin, cout, 2)] + [ShuffleUnit(cout, cout, 1) for _ in range(n - 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.conv5 = conv_bn(cin, channels[-1], 1)
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x):
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


def shufflenet_v2_x1_0():
    return ShuffleNetV2()


# ---------------------------------------------------------------------------------------------
# Transformers: a BERT-base-style encoder and a GPT-2-style decoder
# ---------------------------------------------------------------------------------------------
def gelu_erf(x):
    """Exact GELU, written out so that the export holds Erf (not a fused Gelu op)."""
    return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))


def gelu_tanh(x):
    """GPT-2's tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.out = nn.Linear(hidden, hidden)

    def split(self, x):  # [B, S, H] -> [B, heads, S, head_dim]
        b, s, _ = x.shape
        return x.reshape(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, bias):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
        b, _, s, _ = ctx.shape
        return self.out(ctx.transpose(1, 2).reshape(b, s, -1))


class BertLayer(nn.Module):
    def __init__(self, hidden, heads, intermediate):
        super().__init__()
        self.attention = SelfAttention(hidden, heads)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.fc1, self.fc2 = nn.Linear(hidden, intermediate), nn.Linear(intermediate, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, bias):
        x = self.ln1(x + self.attention(x, bias))  # post-norm, as in BERT
        return self.ln2(x + self.fc2(gelu_erf(self.fc1(x))))


class BertEncoder(nn.Module):
    """input_ids [B, S] int64, attention_mask [B, S] int64 (1 = token, 0 = padding) ->
    (last hidden state [B, S, hidden], pooled output [B, hidden])."""

    def __init__(self, layers=12, hidden=768, heads=12, intermediate=None, vocab=30522,
                 max_positions=512, type_vocab=2):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_positions, hidden)
        self.token_type = nn.Embedding(type_vocab, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(
            BertLayer(hidden, heads, intermediate or 4 * hidden) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden)

    def forward(self, input_ids, attention_mask):
        s = input_ids.shape[1]
        positions = torch.arange(s, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids))
        x = self.ln(x)
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x, torch.tanh(self.pooler(x[:, 0]))


def bert_base(layers=12):
    return BertEncoder(layers=layers)


def bert_tiny():
    """2-layer, 128-wide BERT: the same graph structure in a size the fast suite can afford."""
    return BertEncoder(layers=2, hidden=128, heads=2, vocab=1024, max_positions=128)


class GPT2Block(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.fc, self.fc_out = nn.Linear(hidden, 4 * hidden), nn.Linear(4 * hidden, hidden)

    def attention(self, x):
        b, s, h = x.shape
        q, k, v = self.qkv(x).split(h, dim=2)
        q, k, v = (t.reshape(b, s, self.heads, h // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(h // self.heads)
        causal = torch.tril(torch.ones(s, s, dtype=torch.bool, device=x.device))  # Trilu
        scores = torch.where(causal, scores, torch.tensor(-1e4, dtype=x.dtype))     # Where
        ctx = torch.matmul(torch.softmax(scores, -1), v).transpose(1, 2).reshape(b, s, h)
        return self.proj(ctx)

    def forward(self, x):
        x = x + self.attention(self.ln1(x))  # pre-norm, as in GPT-2
        return x + self.fc_out(gelu_tanh(self.fc(self.ln2(x))))


class GPT2(nn.Module):
    """input_ids [B, S] int64 -> logits [B, S, vocab]; a couple of GPT-2 blocks, small vocab."""

    def __init__(self, layers=2, hidden=768, heads=12, vocab=8192, max_positions=1024):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, hidden), nn.Embedding(max_positions, hidden)
        self.blocks = nn.ModuleList(GPT2Block(hidden, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def gpt2_block():
    return GPT2()


# ---------------------------------------------------------------------------------------------
# Recurrent models
# ---------------------------------------------------------------------------------------------
class RNNModel(nn.Module):
    """x [B, T, features] -> (per-step projection [B, T, classes], final hidden state)."""

    def __init__(self, cell, features=32, hidden=64, layers=2, bidirectional=False, classes=10):
        super().__init__()
        self.rnn = cell(features, hidden, num_layers=layers, batch_first=True,
                        bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x):
        out, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state  # LSTM gives (h, c)
        return self.head(out), h


def lstm():
    return RNNModel(nn.LSTM)


def lstm_bi():
    return RNNModel(nn.LSTM, bidirectional=True)


def gru():
    return RNNModel(nn.GRU)


def gru_bi():
    return RNNModel(nn.GRU, bidirectional=True)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
def image(size=224):
    return lambda: (torch.randn(1, 3, size, size),)


def token_inputs(seq=128, vocab=30522, mask=True):
    def make():
        ids = torch.randint(0, vocab, (1, seq), dtype=torch.int64)
        if not mask:
            return (ids,)
        attention_mask = torch.ones(1, seq, dtype=torch.int64)
        attention_mask[:, seq - seq // 4:] = 0  # some padding, so the mask matters
        return (ids, attention_mask)
    return make


def sequence(steps=16, features=32):
    return lambda: (torch.randn(1, steps, features),)


# name -> (builder, example inputs, input names, output names)
MODELS = {
    "resnet50_v1": (resnet50_v1, image(), ["input"], ["logits"]),
    "resnet50_v2": (resnet50_v2, image(), ["input"], ["logits"]),
    "mobilenet_v2": (mobilenet_v2, image(), ["input"], ["logits"]),
    "mobilenet_v3_small": (mobilenet_v3_small, image(), ["input"], ["logits"]),
    "squeezenet1_1": (squeezenet1_1, image(), ["input"], ["logits"]),
    "efficientnet_b0": (efficientnet_b0, image(), ["input"], ["logits"]),
    "densenet121": (densenet121, image(), ["input"], ["logits"]),
    "inception_small": (inception_small, image(), ["input"], ["logits"]),
    "shufflenet_v2_x1_0": (shufflenet_v2_x1_0, image(), ["input"], ["logits"]),
    "bert_base": (bert_base, token_inputs(), ["input_ids", "attention_mask"],
                  ["last_hidden_state", "pooler_output"]),
    "bert_tiny": (bert_tiny, token_inputs(vocab=1024), ["input_ids", "attention_mask"],
                  ["last_hidden_state", "pooler_output"]),
    "gpt2_block": (gpt2_block, token_inputs(seq=64, vocab=8192, mask=False), ["input_ids"],
                   ["logits"]),
    "lstm": (lstm, sequence(), ["x"], ["y", "h_n"]),
    "lstm_bi": (lstm_bi, sequence(), ["x"], ["y", "h_n"]),
    "gru": (gru, sequence(), ["x"], ["y", "h_n"]),
    "gru_bi": (gru_bi, sequence(), ["x"], ["y", "h_n"]),
}

# Short names that other scripts use (`make demo` exports "resnet50").
ALIASES = {"resnet50": "resnet50_v1", "resnet50_v1_5": "resnet50_v1", "bert": "bert_base",
           "gpt2": "gpt2_block", "mobilenet_v3": "mobilenet_v3_small"}

# Exports that take long on 2 cores (or are large on disk): the fast suite skips them.
SLOW_MODELS = {"bert_base", "densenet121"}


def build(name):
    """Returns (model in eval mode with seeded random weights, example inputs tuple)."""
    builder, make_inputs, _, _ = MODELS[ALIASES.get(name, name)]
    torch.manual_seed(SEED)
    model = randomize_bn(builder()).eval()
    torch.manual_seed(SEED)
    return model, make_inputs()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    for name in MODELS:
        print(f"{name:22s} {count_params(build(name)[0]):>12,d}")
