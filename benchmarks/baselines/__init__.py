"""Benchmark baselines: for each family, a minimal hand-written plain-PyTorch eager fp32 training
loop of the same architecture, which ``multigan bench`` times beside multigan's trainer.

They import nothing from multigan: they stand for what a researcher writes by hand. Every
module has ``UNIT``, ``make_step(config, batch_size, device, step="train")`` returning
``(run_one_iteration, units_per_iteration)`` on synthetic data held on the device, and
``parameter_counts(config)`` returning (G, D) parameter counts; ``config`` is the family's
config as a plain dict (``dataclasses.asdict``). SeqGAN's steps are ``"pg"`` and ``"d"``;
the others have one, ``"train"``. Each module's docstring says what differs from multigan.
"""

from . import dcgan, melgan, seqgan, wavegan

#: family name -> baseline module
BASELINES = {"dcgan": dcgan, "wavegan": wavegan, "melgan": melgan, "seqgan": seqgan}
