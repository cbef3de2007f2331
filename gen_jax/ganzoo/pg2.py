"""PG2 (Ma, Jia, Sun, Schiele, Tuytelaars & Van Gool 2017, "Pose Guided Person Image Generation"): a person
image I_A and a target pose P_B are turned into the person in pose B, in two stages.

Inputs (paper Sec. 3.1): the pose P_B as one heat map per keypoint (`heat_maps`: a Gaussian of width
model.heat_sigma pixels around each keypoint, in [0, 1], peaking at the keypoint), concatenated to I_A.

* Stage I, pose integration: G1 (a U-Net, `gen_jax.nn.image2image.UNetGenerator`, no dropout) maps
  (I_A, P_B) to a coarse result Î_B1, trained alone with the pose-mask loss (Eq. 2)
      L_G1 = ||(G1(I_A, P_B) - I_B) ⊙ (1 + M_B)||_1                                   (`pose_mask_l1`)
  where M_B is the pose mask: 1 on the body region derived from the target pose (the paper connects the
  body parts of the pose and dilates them morphologically; here `pose_mask`: every pixel within
  model.mask_radius of a limb segment or of the head keypoint), so body pixels count twice.
* Stage II, image refinement: G2 (a second U-Net) reads (I_A, Î_B1) and produces a DIFFERENCE MAP that is
  added to G1's output: Î_B2 = Î_B1 + G2(I_A, Î_B1) (Sec. 3.2). A discriminator D judges (condition,
  image) pairs, (I_A, I_B) real and (I_A, Î_B2) fake (here a PatchGAN, `PatchDiscriminator`, on the six
  concatenated channels; its receptive field model.discriminator.receptive_field); the losses (Eq. 3-4):
      L_D  = -log D(I_A, I_B) - log(1 - D(I_A, Î_B2))                        (`gen_jax.gan.losses`, patch mean)
      L_G2 = -log D(I_A, Î_B2) + model.l1_weight * ||(Î_B2 - I_B) ⊙ (1 + M_B)||_1

Training follows the paper's two stages in one run: steps < model.stage1_steps update G1 only; later steps
update D, then G2 (on the updated D); G1 stays fixed in stage II (its output a constant for G2), unless
model.train_g1_in_stage2 = True, which also updates G1 with the gradient of L_G2 through Î_B1. The ||.||_1
are means over the pixels and channels of an example (as `gen_jax.translation.losses.l1_distance`).

Data: `posed_figures` (generated stick figures in two poses, the exact target known); the features are
``condition``, ``target``, ``target_keypoints`` (and, for the evaluator, ``target_silhouette``, ``palette``,
``background``).

Measurement (the paper's, Sec. 4: SSIM and mask-SSIM): `eval_step` gives per test pair the SSIM of Î_B1 and
of Î_B2 against the known target (`gen_jax.metrics.image.ssim`, 11x11 Gaussian window), the mask-SSIM (both
images multiplied by the target's true silhouette first) and, as the reference of doing nothing, the SSIM of
the condition image itself. The `pose_transfer` evaluator adds the pose accuracy of the generated figure,
measured from its colours (`figure_pose_errors`): the IoU of its foreground (pixels that differ from the
person's known background by more than 40 levels) with the true silhouette, and the part-centroid error:
for each of the person's four part colours (head, torso, arms, legs), the distance in pixels between the
centroid of the pixels of that colour (within 60 levels per channel) in the generated and in the target
image, averaged over the parts, with the share of parts the generated figure misses entirely.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import Experiment, register
from gen_jax.data import posed_figures as pf
from gen_jax.data import preprocess as pp
from gen_jax.gan import losses as gan_losses
from gen_jax.metrics.image import ssim
from gen_jax.nn import image2image as i2i
from gen_jax.translation import losses as tr_losses
from gen_jax.translation.steps import make_translation_optimizer, to01


def pixel_grid(height: int, width: int):
    """float32 [H, W, 2]: (row, column) of every pixel centre, (i + 0.5, j + 0.5)."""
    r, c = jnp.meshgrid(jnp.arange(height) + 0.5, jnp.arange(width) + 0.5, indexing="ij")
    return jnp.stack([r, c], -1).astype(jnp.float32)


def heat_maps(keypoints, height: int, width: int, sigma: float = 1.5):
    """PG2's pose input: [B, K, 2] keypoints (row, column in pixels) -> [B, H, W, K] maps
    exp(-||p - k||^2 / (2 sigma^2)) over the pixel centres p, one per keypoint (1 at the keypoint)."""
    keypoints = jnp.asarray(keypoints, jnp.float32)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"heat_maps: keypoints must be [batch, K, 2] (row, column), got {keypoints.shape}")
    if sigma <= 0:
        raise ValueError(f"heat_maps: sigma must be > 0, got {sigma}")
    d2 = jnp.sum((pixel_grid(height, width)[None, :, :, None, :] - keypoints[:, None, None]) ** 2, -1)
    return jnp.exp(-d2 / (2.0 * sigma ** 2))


def _segment_distance(p, a, b):
    """Distance of points p [H, W, 2] to the segments a -> b ([B, L, 2] each): [B, L, H, W]."""
    ab = (b - a)[:, :, None, None]
    ap = p[None, None] - a[:, :, None, None]
    t = jnp.clip(jnp.sum(ap * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(ap - t[..., None] * ab, axis=-1)


def pose_mask(keypoints, height: int, width: int, radius: float = 2.5, limbs=pf.LIMBS, head: int = 0):
    """PG2's pose mask M_B [B, H, W] in {0, 1}: pixels within `radius` of a limb segment (pairs of keypoint
    indices `limbs`) or of the keypoint `head` (the body region of the pose, dilated)."""
    keypoints = jnp.asarray(keypoints, jnp.float32)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"pose_mask: keypoints must be [batch, K, 2] (row, column), got {keypoints.shape}")
    idx = np.asarray(limbs, np.int32)
    if idx.max() >= keypoints.shape[1]:
        raise ValueError(f"pose_mask: a limb uses keypoint {idx.max()}, but there are {keypoints.shape[1]}")
    p = pixel_grid(height, width)
    d = jnp.min(_segment_distance(p, keypoints[:, idx[:, 0]], keypoints[:, idx[:, 1]]), axis=1)
    d = jnp.minimum(d, jnp.linalg.norm(p[None] - keypoints[:, head, None, None], axis=-1))
    return (d <= radius).astype(jnp.float32)


def pose_mask_l1(output, target, mask):
    """PG2's pose-mask loss (Ma et al. 2017, Eq. 2) per example: mean over pixels and channels of
    |output - target| * (1 + M); output, target [B, H, W, C], mask [B, H, W] (or [B, H, W, 1])."""
    if output.shape != target.shape:
        raise ValueError(f"pose_mask_l1: output {output.shape} and target {target.shape} differ in shape")
    if mask.ndim == 3:
        mask = mask[..., None]
    if mask.shape[:3] != output.shape[:3] or mask.shape[-1] != 1:
        raise ValueError(f"pose_mask_l1: mask {mask.shape} does not match images {output.shape}")
    return jnp.mean((jnp.abs(output - target) * (1.0 + mask)).reshape(output.shape[0], -1), axis=-1)


@register("pg2")
class PG2(Experiment):
    """PG2 on a dataset with ``condition``, ``target`` and ``target_keypoints`` (see the module docstring).
    config.model: stage1_steps, train_g1_in_stage2, l1_weight, heat_sigma, mask_radius, generator (features,
    num_downs, norm), discriminator (receptive_field, features, norm)."""

    def __init__(self, config, info):
        super().__init__(config, info)
        if info is None:
            raise ValueError("pg2 needs config.dataset with features condition, target, target_keypoints "
                             "(e.g. posed_figures)")
        for k in ("condition", "target", "target_keypoints"):
            if k not in info.features:
                raise ValueError(f"pg2: dataset {info.name!r} has no feature {k!r} ({', '.join(info.features)})")
        self.levels = int(info.features["target"].num_levels)
        self.shape = tuple(info.features["target"].shape)
        self.num_keypoints = int(info.features["target_keypoints"].shape[0])
        m = config.model
        self.stage1_steps = int(m.get("stage1_steps", 0))
        if self.stage1_steps < 0:
            raise ValueError(f"model.stage1_steps must be >= 0, got {self.stage1_steps}")
        self.train_g1_in_stage2 = bool(m.get("train_g1_in_stage2", False))
        self.l1_weight = float(m.get("l1_weight", 10.0))
        self.sigma = float(m.get("heat_sigma", 1.5))
        self.radius = float(m.get("mask_radius", 2.5))
        g = m.get("generator", {})
        unet = lambda: i2i.UNetGenerator(out_channels=self.shape[-1], features=int(g.get("features", 32)),
                                         num_downs=int(g.get("num_downs", 4)), dropout_rate=0.0,
                                         norm=g.get("norm", "instance"), max_features=int(g.get("max_features", 256)))
        self.g1, self.g2 = unet(), unet()
        d = m.get("discriminator", {})
        self.discriminator = i2i.PatchDiscriminator(
            features=int(d.get("features", 32)), num_layers=i2i.num_layers_for_receptive_field(
                int(d.get("receptive_field", 16))), max_features=int(d.get("max_features", 256)),
            norm=d.get("norm", "instance"))
        self._visualize = jax.jit(self._grids)

    # -- networks ----------------------------------------------------------------------------------------
    def prepare(self, batch):
        """(I_A, I_B in [-1, 1], heat maps of P_B, pose mask M_B)."""
        h, w = self.shape[:2]
        kp = batch["target_keypoints"]
        return (pp.center_pm1(batch["condition"], self.levels), pp.center_pm1(batch["target"], self.levels),
                heat_maps(kp, h, w, self.sigma), pose_mask(kp, h, w, self.radius))

    def stage1(self, params, cond, heat):
        """Î_B1 = G1(I_A, P_B) in [-1, 1]."""
        return self.g1.apply({"params": params["g1"]}, jnp.concatenate([cond, heat], -1))

    def difference(self, params, cond, coarse):
        """G2's difference map D(I_A, Î_B1) in [-1, 1]."""
        return self.g2.apply({"params": params["g2"]}, jnp.concatenate([cond, coarse], -1))

    def generate(self, params, cond, heat):
        """(Î_B1, Î_B2 = Î_B1 + G2(I_A, Î_B1))."""
        coarse = self.stage1(params, cond, heat)
        return coarse, coarse + self.difference(params, cond, coarse)

    def discriminate(self, params, cond, image):
        return self.discriminator.apply({"params": params["discriminator"]}, jnp.concatenate([cond, image], -1))

    def init_state(self, rng, batch):
        k1, k2, kd = jax.random.split(rng, 3)
        h, w, c = self.shape
        img = jnp.zeros((1, h, w, c))
        params = {"g1": self.g1.init(k1, jnp.zeros((1, h, w, c + self.num_keypoints)))["params"],
                  "g2": self.g2.init(k2, jnp.zeros((1, h, w, 2 * c)))["params"],
                  "discriminator": self.discriminator.init(kd, jnp.zeros((1, h, w, 2 * c)))["params"]}
        del img
        opt = make_translation_optimizer(self.config.optim)
        d_opt = make_translation_optimizer(self.config.get("d_optim") or self.config.optim)
        return self.create_state(params, rng, tx={"g1": opt, "g2": opt, "discriminator": d_opt})

    # -- the two stages --------------------------------------------------------------------------------------
    def g1_loss(self, g1_params, params, cond, target, heat, mask):
        out = self.stage1(dict(params, g1=g1_params), cond, heat)
        loss = jnp.mean(pose_mask_l1(out, target, mask))
        return loss, loss

    def d_loss(self, d_params, params, cond, target, fake):
        p = dict(params, discriminator=d_params)
        real_l, fake_l = self.discriminate(p, cond, target), self.discriminate(p, cond, fake)
        loss = jnp.mean(tr_losses.patch_mean(gan_losses.discriminator_minimax_loss, real_l, fake_l))
        return loss, dict(d_loss=loss, d_real=jnp.mean(jax.nn.sigmoid(real_l)),
                          d_fake=jnp.mean(jax.nn.sigmoid(fake_l)))

    def g2_loss(self, gen_params, params, cond, target, heat, mask):
        p = dict(params, **gen_params)
        coarse = self.stage1(p, cond, heat)
        if "g1" not in gen_params:
            coarse = jax.lax.stop_gradient(coarse)
        refined = coarse + self.difference(p, cond, coarse)
        adv = jnp.mean(tr_losses.patch_mean(gan_losses.generator_nonsaturating_loss, self.discriminate(p, cond, refined)))
        l1 = jnp.mean(pose_mask_l1(refined, target, mask))
        return adv + self.l1_weight * l1, dict(g2_adv=adv, g2_l1=l1, g1_l1=jnp.mean(pose_mask_l1(coarse, target, mask)))

    def _stage1_step(self, state, cond, target, heat, mask):
        grads, loss = jax.grad(self.g1_loss, has_aux=True)(state.params["g1"], state.params, cond, target, heat, mask)
        state = state.apply_gradients(grads, player="g1")
        z = jnp.zeros(())
        return state, dict(stage=jnp.ones(()), g1_l1=loss, d_loss=z, d_real=z, d_fake=z, g2_adv=z, g2_l1=z)

    def _stage2_step(self, state, cond, target, heat, mask):
        _, fake = self.generate(state.params, cond, heat)
        grads, m = jax.grad(self.d_loss, has_aux=True)(state.params["discriminator"], state.params, cond, target,
                                                       jax.lax.stop_gradient(fake))
        state = state.apply_gradients(grads, player="discriminator")
        players = ("g1", "g2") if self.train_g1_in_stage2 else ("g2",)
        grads, m2 = jax.grad(self.g2_loss, has_aux=True)({k: state.params[k] for k in players}, state.params,
                                                         cond, target, heat, mask)
        for k in players:
            state = state.apply_gradients(grads[k], player=k)
        return state, dict(m, **m2, stage=2.0 * jnp.ones(()))

    def train_step(self, state, batch, rng):
        del rng   # deterministic networks (no dropout, no latent)
        args = self.prepare(batch)
        if self.stage1_steps == 0:
            return self._stage2_step(state, *args)
        return jax.lax.cond(state.step < self.stage1_steps, self._stage1_step, self._stage2_step, state, *args)

    # -- evaluation ------------------------------------------------------------------------------------------
    def transfer(self, state, batch):
        """(Î_B1, Î_B2) as images in [0, 1] for a batch with condition and target_keypoints."""
        h, w = self.shape[:2]
        cond = pp.center_pm1(batch["condition"], self.levels)
        coarse, refined = self.generate(state.eval_params(), cond, heat_maps(batch["target_keypoints"], h, w,
                                                                             self.sigma))
        return to01(coarse), to01(refined)

    def reconstruct(self, state, batch, rng):
        """{'output': Î_B2, 'target': I_B} in [0, 1] (the `reconstruction` evaluator)."""
        del rng
        return {"output": self.transfer(state, batch)[1], "target": pp.scale01(batch["target"], self.levels)}

    def eval_step(self, state, batch, rng):
        """Per test pair: SSIM of stage I and of stage I+II against the target, their mask-SSIM (with the true
        silhouette when the dataset has one, else the pose mask), the SSIM of the condition image itself,
        and the pose-mask L1 of both stages (in [0, 1] units)."""
        del rng
        h, w = self.shape[:2]
        coarse, refined = self.transfer(state, batch)
        target = pp.scale01(batch["target"], self.levels)
        cond = pp.scale01(batch["condition"], self.levels)
        if "target_silhouette" in batch:
            sil = jnp.asarray(batch["target_silhouette"], jnp.float32)
        else:
            sil = pose_mask(batch["target_keypoints"], h, w, self.radius)
        pm = pose_mask(batch["target_keypoints"], h, w, self.radius)
        ms = lambda a: ssim(a * sil[..., None], target * sil[..., None])
        return dict(ssim_stage1=ssim(coarse, target), ssim_stage2=ssim(refined, target),
                    ssim_condition=ssim(cond, target), mask_ssim_stage1=ms(coarse), mask_ssim_stage2=ms(refined),
                    pose_l1_stage1=pose_mask_l1(coarse, target, pm), pose_l1_stage2=pose_mask_l1(refined, target, pm))

    def _grids(self, state, batch):
        coarse, refined = self.transfer(state, batch)
        h, w = self.shape[:2]
        heat = jnp.max(heat_maps(batch["target_keypoints"], h, w, self.sigma), -1, keepdims=True)
        rows = [pp.scale01(batch["condition"], self.levels), jnp.tile(heat, (1, 1, 1, self.shape[-1])), coarse,
                jnp.clip(refined, 0.0, 1.0), pp.scale01(batch["target"], self.levels)]
        return {"pose_transfer": jnp.stack(rows)}   # [5 rows, 8, H, W, C]: the grid keeps the rows

    def visualize(self, state, rng):
        """The pose-transfer grid of 8 fixed test pairs; rows: condition I_A, target pose (max of its heat
        maps), stage I Î_B1, stage I+II Î_B2, the true target I_B."""
        del rng
        b = self.example_batch(8)
        return self._visualize(state, {k: b[k] for k in ("condition", "target", "target_keypoints")})


def figure_pose_errors(images, target, silhouette, palette, background, fg_tol: float = 40.0,
                       colour_tol: float = 60.0):
    """Pose accuracy of generated figures, from their colours (numpy; images in 0..255 units).

    images, target [N, H, W, 3]; silhouette [N, H, W] (the target's true figure); palette [N, 4, 3] (the
    person's part colours); background [N, 3]. Returns per example: 'mask_iou' (IoU of the generated
    foreground, max_c |image - background| > fg_tol, with the silhouette), 'part_error' (mean over the parts
    found in both images of the distance in pixels between the centroids of the pixels within colour_tol per
    channel of the part's colour, NaN when none is), 'parts_missing' (share of the target's parts that the
    generated image has no pixel of)."""
    images, target = np.asarray(images, np.float64), np.asarray(target, np.float64)
    n, h, w, _ = images.shape
    bg = np.asarray(background, np.float64)[:, None, None]
    fg = np.abs(images - bg).max(-1) > fg_tol
    sil = np.asarray(silhouette) > 0
    inter, union = (fg & sil).sum((1, 2)), (fg | sil).sum((1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    grid = np.stack(np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij"), -1)
    errors, missing = np.full(n, np.nan), np.zeros(n)
    for i in range(n):
        errs, present, lost = [], 0, 0
        for col in np.asarray(palette, np.float64)[i]:
            t = np.abs(target[i] - col).max(-1) <= colour_tol
            if not t.any():
                continue
            present += 1
            g = np.abs(images[i] - col).max(-1) <= colour_tol
            if not g.any():
                lost += 1
                continue
            errs.append(np.linalg.norm(grid[g].mean(0) - grid[t].mean(0)))
        errors[i] = np.mean(errs) if errs else np.nan
        missing[i] = lost / present if present else 0.0
    return {"mask_iou": iou, "part_error": errors, "parts_missing": missing}


@register_evaluator("pose_transfer")
class PoseTransfer(Evaluator):
    """PG2's measurement on a split (see the module docstring). Settings: max_examples (0: the whole split),
    batch_size. Metrics: ssim_stage1, ssim_stage2, ssim_condition, mask_ssim_stage1/2, and for stage 1, stage
    1+2 and the condition image: mask_iou_*, part_error_* (pixels), parts_missing_*."""

    def known_settings(self):
        return ("max_examples", "batch_size")

    def run(self, state, step):
        from gen_jax import data as data_lib

        exp = self.trainer.experiment
        a = data_lib.load_arrays(self.dataset, self.split, data_dir=self.config.get("data_dir"))
        n = int(self.settings.get("max_examples", 0) or 0) or len(a["target"])
        bs = int(self.settings.get("batch_size", 0) or self.config.eval_batch_size)
        keys = ("condition", "target", "target_keypoints", "target_silhouette")
        fn = jax.jit(lambda s, b: (exp.transfer(s, b), exp.eval_step(s, b, None)))
        outs = {"stage1": [], "stage2": []}
        scores = {}
        for start in range(0, n, bs):
            b = {k: jnp.asarray(a[k][start:min(n, start + bs)]) for k in keys}
            (c, r), m = jax.device_get(fn(state, b))
            outs["stage1"].append(np.asarray(c))
            outs["stage2"].append(np.clip(np.asarray(r), 0.0, 1.0))
            for k, v in m.items():
                scores.setdefault(k, []).append(np.asarray(v))
        out = {k: float(np.mean(np.concatenate(v))) for k, v in scores.items()}
        images = {"stage1": np.concatenate(outs["stage1"]) * 255.0, "stage2": np.concatenate(outs["stage2"]) * 255.0,
                  "condition": a["condition"][:n]}
        for name, img in images.items():
            e = figure_pose_errors(img, a["target"][:n], a["target_silhouette"][:n], a["palette"][:n],
                                   a["background"][:n])
            out[f"mask_iou_{name}"] = float(np.mean(e["mask_iou"]))
            out[f"part_error_{name}"] = float(np.nanmean(e["part_error"]))
            out[f"parts_missing_{name}"] = float(np.mean(e["parts_missing"]))
        return out.items()
