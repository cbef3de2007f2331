"""Age-cGAN (Antipov et al. 2017) on `thickness_digits`: the ordinal stroke thickness (4 levels) stands in for
age, the digit (class and style) for the identity; faces are not available offline.

A conditional DCGAN of the GAN family on the level only, the encoder E trained on generated images
(z_0 = E(x)), then per test image the identity-preserving optimisation: 100 Adam(0.05) steps on
z* = argmin ||FR(x) - FR(G(z, y_0))||^2, FR = the 128 features of a digit classifier (seed 1) trained on the
real images. Measurement (`attribute_edit` evaluator, 400 test images), before (z_0) and after (z*) the
optimisation: identity (a DIFFERENT classifier, seed 0, keeps the class of the reconstruction and of every
level edit; its feature distance), the measured thickness of the edits in the target level's bin.

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_agecgan_thickness.py \
        --workdir=/tmp/gen_jax/ganzoo_agecgan_thickness
Result (500 steps, --config.evals.edit.num_examples=200): identity objective 372.7 -> 30.8; the scorer keeps
the class of reconstructions 0.130 -> 0.940 and of level edits 0.151 -> 0.869; measured thickness in the target
bin 0.278 -> 0.261 (chance 0.25: the generator ignores the level at this budget).
"""
import importlib.util
import os


def get_config():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ganzoo_icgan_thickness.py")
    spec = importlib.util.spec_from_file_location("ganzoo_icgan_thickness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config("agecgan")
