"""The four networks exactly as d2l's chapter 5 (Dive-into-DL-PyTorch) builds them, with cnnscope's
two scaling knobs: width ratio (every channel count c -> max(1, c // ratio), except the 1 input
channel and the 10 classes) and input side (the first linear layer takes the real flattened size).

This is cnnscope's PyTorch oracle: fixtures, the weights round trip and the accuracy/speed
comparisons all build their models here, so state_dict keys match cnnscope's weight names.
"""
import torch
from torch import nn
import torch.nn.functional as F

CLASSES = 10
NATIVE_SIDE = {"alexnet": 224, "vgg11": 224, "nin": 224, "googlenet": 96}


class FlattenLayer(nn.Module):
    def forward(self, x):
        return x.view(x.shape[0], -1)


class GlobalAvgPool2d(nn.Module):
    def forward(self, x):
        return F.avg_pool2d(x, kernel_size=x.size()[2:])


def _flat(module, side):
    with torch.no_grad():
        return module(torch.zeros(1, 1, side, side)).numel()


class AlexNet(nn.Module):
    def __init__(self, ratio=1, side=224, second_hidden=True):
        super().__init__()
        w = lambda c: max(1, c // ratio)
        self.conv = nn.Sequential(
            nn.Conv2d(1, w(96), 11, 4), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(w(96), w(256), 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(w(256), w(384), 3, 1, 1), nn.ReLU(),
            nn.Conv2d(w(384), w(384), 3, 1, 1), nn.ReLU(),
            nn.Conv2d(w(384), w(256), 3, 1, 1), nn.ReLU(),
            nn.MaxPool2d(3, 2))
        fc = [nn.Linear(_flat(self.conv, side), w(4096)), nn.ReLU(), nn.Dropout(0.5)]
        if second_hidden:
            fc += [nn.Linear(w(4096), w(4096)), nn.ReLU(), nn.Dropout(0.5)]
        fc += [nn.Linear(w(4096), CLASSES)]
        self.fc = nn.Sequential(*fc)

    def forward(self, img):
        feature = self.conv(img)
        return self.fc(feature.view(img.shape[0], -1))


def vgg_block(num_convs, in_channels, out_channels):
    blk = []
    for i in range(num_convs):
        blk.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, kernel_size=3, padding=1))
        blk.append(nn.ReLU())
    blk.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*blk)


def vgg11(ratio=1, side=224):
    w = lambda c: max(1, c // ratio)
    conv_arch = ((1, 1, w(64)), (1, w(64), w(128)), (2, w(128), w(256)), (2, w(256), w(512)), (2, w(512), w(512)))
    net = nn.Sequential()
    for i, (num_convs, cin, cout) in enumerate(conv_arch):
        net.add_module("vgg_block_" + str(i + 1), vgg_block(num_convs, cin, cout))
    features, hidden = _flat(net, side), w(4096)
    net.add_module("fc", nn.Sequential(
        FlattenLayer(),
        nn.Linear(features, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, CLASSES)))
    return net


def nin_block(in_channels, out_channels, kernel_size, stride, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(ratio=1, side=224):
    w = lambda c: max(1, c // ratio)
    return nn.Sequential(
        nin_block(1, w(96), 11, 4, 0), nn.MaxPool2d(3, 2),
        nin_block(w(96), w(256), 5, 1, 2), nn.MaxPool2d(3, 2),
        nin_block(w(256), w(384), 3, 1, 1), nn.MaxPool2d(3, 2),
        nn.Dropout(0.5),
        nin_block(w(384), CLASSES, 3, 1, 1),
        GlobalAvgPool2d(),
        FlattenLayer())


class Inception(nn.Module):
    def __init__(self, in_c, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_c, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_c, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_c, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_c, c4, kernel_size=1)
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def googlenet(ratio=1, side=96):
    w = lambda c: max(1, c // ratio)
    b1 = nn.Sequential(nn.Conv2d(1, w(64), 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
    b2 = nn.Sequential(nn.Conv2d(w(64), w(64), 1), nn.ReLU(), nn.Conv2d(w(64), w(192), 3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(3, 2, 1))
    c = w(192)

    def stage(specs, tail):
        nonlocal c
        layers = []
        for c1, c2, c3, c4 in specs:
            block = Inception(c, w(c1), (w(c2[0]), w(c2[1])), (w(c3[0]), w(c3[1])), w(c4))
            c = block.out_channels
            layers.append(block)
        return nn.Sequential(*layers, tail)

    b3 = stage([(64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)], nn.MaxPool2d(3, 2, 1))
    b4 = stage([(192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
                (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)], nn.MaxPool2d(3, 2, 1))
    b5 = stage([(256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)], GlobalAvgPool2d())
    return nn.Sequential(b1, b2, b3, b4, b5, FlattenLayer(), nn.Linear(c, CLASSES))


def build(net, ratio=1, side=None, second_hidden=True):
    side = side or NATIVE_SIDE[net]
    if net == "alexnet":
        return AlexNet(ratio, side, second_hidden)
    return {"vgg11": vgg11, "nin": nin, "googlenet": googlenet}[net](ratio, side)


def init_weights(model, scheme, generator=None):
    """'default' leaves PyTorch's own init (U(±1/sqrt(fan_in)) for weights and biases);
    'xavier' is d2l v2's Xavier-uniform weights with zero biases."""
    if scheme == "xavier":
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                nn.init.zeros_(m.bias)


def parameters(tensors):
    """A cnnscope weights file's tensors; from a checkpoint, without its optimiser buffers
    (`optimizer.first.*`, `optimizer.second.*`)."""
    return {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
