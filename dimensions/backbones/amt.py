"""AMT-S frame interpolator (motion_smoothness's VBench backbone), our own implementation.

AMT (Li et al., CVPR 2023, "All-Pairs Multi-Field Transforms"), small variant, with VBench's
configuration (corr_radius 3, corr_lvls 4, num_flows 3). Module names equal the keys of
`amt-s.pth`'s `state_dict`, so the file loads strictly. Each sample of a batch is processed
independently (instance norm, per-sample mean, per-sample correlation), so a whole video's frame
pairs go through in one batch with the numbers of VBench's one-pair-at-a-time loop.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.weights import WeightSpec, require_weight

AMT_S_SPEC = WeightSpec(
    key="amt_s",
    file="amt-s.pth",
    backend="vbench",
    vbench_subdir="amt_model",
    hf_repo="",
    url="https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
    licence="CC-BY-NC-SA-4.0",
    what="AMT-S frame interpolator, motion_smoothness",
)
AMT_DIVISOR = 16  # VBench pads to a multiple of 16 / scale, scale = 1 (see motion_smoothness.py)


# -- helpers -------------------------------------------------------------------------------------
def resize(x: torch.Tensor, scale_factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: sample `image` at x + flow (pixels), border padding, align_corners=True."""
    batch, _, height, width = flow.shape
    xx = torch.linspace(-1.0, 1.0, width).view(1, 1, 1, width).expand(batch, -1, height, -1)
    yy = torch.linspace(-1.0, 1.0, height).view(1, 1, height, 1).expand(batch, -1, -1, width)
    grid = torch.cat([xx, yy], 1).to(image)
    flow_ = torch.cat([flow[:, 0:1] / ((width - 1.0) / 2.0), flow[:, 1:2] / ((height - 1.0) / 2.0)], 1)
    grid_ = (grid + flow_).permute(0, 2, 3, 1)
    return F.grid_sample(image, grid_, mode="bilinear", padding_mode="border", align_corners=True)


def coords_grid(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    return torch.stack([xs, ys], dim=0).float()[None].repeat(batch, 1, 1, 1)


def bilinear_sampler(image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    height, width = image.shape[-2:]
    xgrid, ygrid = coords.split([1, 1], dim=-1)
    grid = torch.cat([2 * xgrid / (width - 1) - 1, 2 * ygrid / (height - 1) - 1], dim=-1)
    return F.grid_sample(image, grid, align_corners=True)


def convrelu(cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, bias=True), nn.PReLU(cout))


# -- feature encoder (RAFT-style small encoder, instance norm) -----------------------------------
class BottleneckBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes // 4, kernel_size=1, padding=0)
        self.conv2 = nn.Conv2d(planes // 4, planes // 4, kernel_size=3, padding=1, stride=stride)
        self.conv3 = nn.Conv2d(planes // 4, planes, kernel_size=1, padding=0)
        self.relu = nn.ReLU(inplace=True)
        self.norm1 = nn.InstanceNorm2d(planes // 4)
        self.norm2 = nn.InstanceNorm2d(planes // 4)
        self.norm3 = nn.InstanceNorm2d(planes)
        self.downsample = None
        if stride != 1:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride), nn.InstanceNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        y = self.relu(self.norm3(self.conv3(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class SmallEncoder(nn.Module):
    def __init__(self, output_dim: int = 84):
        super().__init__()
        self.norm1 = nn.InstanceNorm2d(32)
        self.conv1 = nn.Conv2d(3, 32, kernel_size=7, stride=2, padding=3)
        self.relu1 = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BottleneckBlock(32, 32, 1), BottleneckBlock(32, 32, 1))
        self.layer2 = nn.Sequential(BottleneckBlock(32, 64, 2), BottleneckBlock(64, 64, 1))
        self.layer3 = nn.Sequential(BottleneckBlock(64, 96, 2), BottleneckBlock(96, 96, 1))
        self.conv2 = nn.Conv2d(96, output_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.norm1(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


# -- bidirectional all-pairs correlation ------------------------------------------------------------
class BidirCorrBlock:
    def __init__(self, fmap0: torch.Tensor, fmap1: torch.Tensor, num_levels: int, radius: int):
        self.num_levels, self.radius = num_levels, radius
        batch, dim, height, width = fmap0.shape
        corr = torch.matmul(fmap0.view(batch, dim, -1).transpose(1, 2), fmap1.view(batch, dim, -1))
        corr = corr.view(batch, height, width, 1, height, width) / torch.sqrt(torch.tensor(dim).float())
        corr_t = corr.clone().permute(0, 4, 5, 3, 1, 2)
        corr = corr.reshape(batch * height * width, 1, height, width)
        corr_t = corr_t.reshape(batch * height * width, 1, height, width)
        self.pyramid, self.pyramid_t = [corr], [corr_t]
        for _ in range(num_levels - 1):
            corr, corr_t = F.avg_pool2d(corr, 2, stride=2), F.avg_pool2d(corr_t, 2, stride=2)
            self.pyramid.append(corr)
            self.pyramid_t.append(corr_t)

    def __call__(self, coords0: torch.Tensor, coords1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.radius
        coords0, coords1 = coords0.permute(0, 2, 3, 1), coords1.permute(0, 2, 3, 1)
        batch, height, width, _ = coords0.shape
        d = torch.linspace(-r, r, 2 * r + 1, device=coords0.device)
        delta = torch.stack(torch.meshgrid(d, d, indexing="ij"), dim=-1).view(1, 2 * r + 1, 2 * r + 1, 2)
        out, out_t = [], []
        for level in range(self.num_levels):
            centre0 = coords0.reshape(batch * height * width, 1, 1, 2) / 2**level
            centre1 = coords1.reshape(batch * height * width, 1, 1, 2) / 2**level
            out.append(bilinear_sampler(self.pyramid[level], centre0 + delta).view(batch, height, width, -1))
            out_t.append(bilinear_sampler(self.pyramid_t[level], centre1 + delta).view(batch, height, width, -1))
        return (
            torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous().float(),
            torch.cat(out_t, dim=-1).permute(0, 3, 1, 2).contiguous().float(),
        )


# -- IFRNet-style pyramid encoder and decoders ----------------------------------------------------
class ResBlock(nn.Module):
    def __init__(self, channels: int, side: int):
        super().__init__()
        self.side_channels = side
        self.conv1 = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.PReLU(channels))
        self.conv2 = nn.Sequential(nn.Conv2d(side, side, 3, 1, 1), nn.PReLU(side))
        self.conv3 = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.PReLU(channels))
        self.conv4 = nn.Sequential(nn.Conv2d(side, side, 3, 1, 1), nn.PReLU(side))
        self.conv5 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.prelu = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.side_channels
        out = self.conv1(x)
        out = self.conv3(torch.cat([out[:, :-s], self.conv2(out[:, -s:])], 1))
        out = self.conv5(torch.cat([out[:, :-s], self.conv4(out[:, -s:])], 1))
        return self.prelu(x + out)


class Encoder(nn.Module):
    def __init__(self, channels: list[int]):
        super().__init__()
        self.channels = channels
        previous = 3
        for index, ch in enumerate(channels, 1):
            self.register_module(f"pyramid{index}", nn.Sequential(convrelu(previous, ch, 3, 2, 1), convrelu(ch, ch)))
            previous = ch

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for index in range(len(self.channels)):
            x = getattr(self, f"pyramid{index + 1}")(x)
            features.append(x)
        return features


class InitDecoder(nn.Module):
    def __init__(self, cin: int, cout: int, skip: int):
        super().__init__()
        self.convblock = nn.Sequential(
            convrelu(cin * 2 + 1, cin * 2),
            ResBlock(cin * 2, skip),
            nn.ConvTranspose2d(cin * 2, cout + 4, 4, 2, 1, bias=True),
        )

    def forward(self, f0, f1, embt):
        embt = embt.repeat(1, 1, *f0.shape[2:])
        out = self.convblock(torch.cat([f0, f1, embt], 1))
        flow0, flow1 = torch.chunk(out[:, :4], 2, 1)
        return flow0, flow1, out[:, 4:]


class IntermediateDecoder(nn.Module):
    def __init__(self, cin: int, cout: int, skip: int):
        super().__init__()
        self.convblock = nn.Sequential(
            convrelu(cin * 3 + 4, cin * 3),
            ResBlock(cin * 3, skip),
            nn.ConvTranspose2d(cin * 3, cout + 4, 4, 2, 1, bias=True),
        )

    def forward(self, ft_, f0, f1, flow0_in, flow1_in):
        out = self.convblock(torch.cat([ft_, warp(f0, flow0_in), warp(f1, flow1_in), flow0_in, flow1_in], 1))
        flow0, flow1 = torch.chunk(out[:, :4], 2, 1)
        flow0 = flow0 + 2.0 * resize(flow0_in, scale_factor=2.0)
        flow1 = flow1 + 2.0 * resize(flow1_in, scale_factor=2.0)
        return flow0, flow1, out[:, 4:]


class MultiFlowDecoder(nn.Module):
    def __init__(self, cin: int, skip: int, num_flows: int):
        super().__init__()
        self.num_flows = num_flows
        self.convblock = nn.Sequential(
            convrelu(cin * 3 + 4, cin * 3),
            ResBlock(cin * 3, skip),
            nn.ConvTranspose2d(cin * 3, 8 * num_flows, 4, 2, 1, bias=True),
        )

    def forward(self, ft_, f0, f1, flow0, flow1):
        n = self.num_flows
        out = self.convblock(torch.cat([ft_, warp(f0, flow0), warp(f1, flow1), flow0, flow1], 1))
        delta0, delta1, mask, img_res = torch.split(out, [2 * n, 2 * n, n, 3 * n], 1)
        flow0 = delta0 + 2.0 * resize(flow0, scale_factor=2.0).repeat(1, n, 1, 1)
        flow1 = delta1 + 2.0 * resize(flow1, scale_factor=2.0).repeat(1, n, 1, 1)
        return flow0, flow1, torch.sigmoid(mask), img_res


class SmallUpdateBlock(nn.Module):
    def __init__(
        self,
        cdim: int,
        hidden: int,
        flow_dim: int,
        corr_dim: int,
        fc_dim: int,
        corr_levels: int,
        radius: int,
        scale_factor: int | None = None,
    ):
        super().__init__()
        corr_planes = corr_levels * (2 * radius + 1) ** 2
        self.scale_factor = scale_factor
        self.convc1 = nn.Conv2d(2 * corr_planes, corr_dim, 1, padding=0)
        self.convf1 = nn.Conv2d(4, flow_dim * 2, 7, padding=3)
        self.convf2 = nn.Conv2d(flow_dim * 2, flow_dim, 3, padding=1)
        self.conv = nn.Conv2d(corr_dim + flow_dim, fc_dim, 3, padding=1)

        def head(cout: int, cin: int = hidden) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, hidden, 3, padding=1),
                nn.LeakyReLU(0.1, inplace=True),
                nn.Conv2d(hidden, cout, 3, padding=1),
            )

        self.gru = head(hidden, fc_dim + 4 + cdim)
        self.feat_head = head(cdim)
        self.flow_head = head(4)
        self.lrelu = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, net, flow, corr):
        if self.scale_factor is not None:
            net = resize(net, 1 / self.scale_factor)
        cor = self.lrelu(self.convc1(corr))
        flo = self.lrelu(self.convf2(self.lrelu(self.convf1(flow))))
        inp = self.lrelu(self.conv(torch.cat([cor, flo], dim=1)))
        out = self.gru(torch.cat([inp, flow, net], dim=1))
        delta_net, delta_flow = self.feat_head(out), self.flow_head(out)
        if self.scale_factor is not None:
            delta_net = resize(delta_net, scale_factor=self.scale_factor)
            delta_flow = self.scale_factor * resize(delta_flow, scale_factor=self.scale_factor)
        return delta_net, delta_flow


def multi_flow_combine(comb_block, img0, img1, flow0, flow1, mask, img_res, mean):
    """Warp both frames by each of the num_flows fields, blend, and refine with comb_block."""
    b, c, h, w = flow0.shape
    n = c // 2
    flow0 = flow0.reshape(b, n, 2, h, w).reshape(-1, 2, h, w)
    flow1 = flow1.reshape(b, n, 2, h, w).reshape(-1, 2, h, w)
    mask = mask.reshape(b, n, 1, h, w).reshape(-1, 1, h, w)
    img_res = img_res.reshape(b, n, 3, h, w).reshape(-1, 3, h, w)
    img0 = torch.stack([img0] * n, 1).reshape(-1, 3, h, w)
    img1 = torch.stack([img1] * n, 1).reshape(-1, 3, h, w)
    mean = torch.stack([mean] * n, 1).reshape(-1, 1, 1, 1)
    warps = mask * warp(img0, flow0) + (1 - mask) * warp(img1, flow1) + mean + img_res
    warps = warps.reshape(b, n, 3, h, w)
    return warps.mean(1) + comb_block(warps.view(b, -1, h, w))


# -- the network ---------------------------------------------------------------------------------
class AMTS(nn.Module):
    """AMT-S: predicts the frame at time `embt` between img0 and img1 (values in [0, 1])."""

    def __init__(
        self,
        corr_radius: int = 3,
        corr_lvls: int = 4,
        num_flows: int = 3,
        channels: tuple[int, ...] = (20, 32, 44, 56),
        skip_channels: int = 20,
    ):
        super().__init__()
        self.radius, self.corr_levels, self.num_flows = corr_radius, corr_lvls, num_flows
        self.feat_encoder = SmallEncoder(output_dim=84)
        self.encoder = Encoder(list(channels))
        self.decoder4 = InitDecoder(channels[3], channels[2], skip_channels)
        self.decoder3 = IntermediateDecoder(channels[2], channels[1], skip_channels)
        self.decoder2 = IntermediateDecoder(channels[1], channels[0], skip_channels)
        self.decoder1 = MultiFlowDecoder(channels[0], skip_channels, num_flows)
        self.update4 = self._update_block(44)
        self.update3 = self._update_block(32, 2)
        self.update2 = self._update_block(20, 4)
        self.comb_block = nn.Sequential(
            nn.Conv2d(3 * num_flows, 6 * num_flows, 3, 1, 1),
            nn.PReLU(6 * num_flows),
            nn.Conv2d(6 * num_flows, 3, 3, 1, 1),
        )

    def _update_block(self, cdim: int, scale_factor: int | None = None) -> SmallUpdateBlock:
        return SmallUpdateBlock(
            cdim,
            hidden=76,
            flow_dim=20,
            corr_dim=64,
            fc_dim=68,
            corr_levels=self.corr_levels,
            radius=self.radius,
            scale_factor=scale_factor,
        )

    @staticmethod
    def _corr_lookup(corr_fn, coord, flow0, flow1, embt, downsample: int = 1):
        # linear motion: t→0 scaled to 1→0 and t→1 to 0→1
        if downsample != 1:
            flow0 = resize(flow0, scale_factor=1 / downsample) / downsample
            flow1 = resize(flow1, scale_factor=1 / downsample) / downsample
        corr0, corr1 = corr_fn(coord + flow1 * (1.0 / embt), coord + flow0 * (1.0 / (1.0 - embt)))
        return torch.cat([corr0, corr1], dim=1), torch.cat([flow0, flow1], dim=1)

    def _refine(self, update, corr_fn, coord, flow0, flow1, ft, embt, downsample):
        corr, flow = self._corr_lookup(corr_fn, coord, flow0, flow1, embt, downsample)
        delta_ft, delta_flow = update(ft, flow, corr)
        delta0, delta1 = torch.chunk(delta_flow, 2, 1)
        return flow0 + delta0, flow1 + delta1, ft + delta_ft

    def forward(
        self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor, scale_factor: float = 1.0
    ) -> torch.Tensor:
        mean_ = torch.cat([img0, img1], 2).mean(1, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)
        img0, img1 = img0 - mean_, img1 - mean_
        img0_ = resize(img0, scale_factor) if scale_factor != 1.0 else img0
        img1_ = resize(img1, scale_factor) if scale_factor != 1.0 else img1
        b, _, h, w = img0_.shape
        coord = coords_grid(b, h // 8, w // 8, img0.device)

        fmaps = self.feat_encoder(torch.cat([img0_, img1_], dim=0))
        corr_fn = BidirCorrBlock(fmaps[:b], fmaps[b:], num_levels=self.corr_levels, radius=self.radius)
        f0_1, f0_2, f0_3, f0_4 = self.encoder(img0_)
        f1_1, f1_2, f1_3, f1_4 = self.encoder(img1_)

        flow0, flow1, ft = self.decoder4(f0_4, f1_4, embt)
        flow0, flow1, ft = self._refine(self.update4, corr_fn, coord, flow0, flow1, ft, embt, 1)
        flow0, flow1, ft = self.decoder3(ft, f0_3, f1_3, flow0, flow1)
        flow0, flow1, ft = self._refine(self.update3, corr_fn, coord, flow0, flow1, ft, embt, 2)
        flow0, flow1, ft = self.decoder2(ft, f0_2, f1_2, flow0, flow1)
        flow0, flow1, ft = self._refine(self.update2, corr_fn, coord, flow0, flow1, ft, embt, 4)
        flow0, flow1, mask, img_res = self.decoder1(ft, f0_1, f1_1, flow0, flow1)

        if scale_factor != 1.0:
            flow0 = resize(flow0, scale_factor=1.0 / scale_factor) * (1.0 / scale_factor)
            flow1 = resize(flow1, scale_factor=1.0 / scale_factor) * (1.0 / scale_factor)
            mask = resize(mask, scale_factor=1.0 / scale_factor)
            img_res = resize(img_res, scale_factor=1.0 / scale_factor)
        pred = multi_flow_combine(self.comb_block, img0, img1, flow0, flow1, mask, img_res, mean_)
        return torch.clamp(pred, 0, 1)


def load_amt_file(path: Path) -> AMTS:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint["state_dict"] if "state_dict" in checkpoint else checkpoint
    model = AMTS()
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_amt(context: ScoringContext) -> tuple[AMTS, Path]:
    path = require_weight(AMT_S_SPEC, context.weights_dir)
    model = context.backbones.get(("amt-s", str(path), context.device), lambda: load_amt_file(path).to(context.device))
    return model, path
