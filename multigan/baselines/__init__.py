"""Benchmark baselines: for each family, a minimal hand-written plain-PyTorch eager fp32 training
loop of the same architecture, which ``multigan bench`` times beside multigan's trainer
(:func:`multigan.bench.load_baseline` imports ``multigan.baselines.NAME``).

They import no multigan code (not even each other; ``tests/test_bench_baselines.py`` checks
their imports): they stand for what a researcher writes by hand, and they live in the package
only so that an installed wheel carries them. Every module has ``UNIT``,
``make_step(config, batch_size, device, step="train")`` returning
``(run_one_iteration, units_per_iteration)`` on synthetic data held on the device, and
``parameter_counts(config)`` returning (G, D) parameter counts; ``config`` is the family's
config as a plain dict (``dataclasses.asdict``). SeqGAN's steps are ``"pg"`` and ``"d"``;
the others have one, ``"train"``. Each module's docstring says what differs from multigan.
For ``multigan bench NAME --inference`` every module also has
``make_generate(config, batch_size, device, seconds=...)`` returning ``(generate_one_batch,
units_per_call)``: G alone in eval mode under ``torch.inference_mode``, always in fp32 (what a
user of the reference code gets), weight norm removed where G has it; units are seconds of
audio for the vocoders (``seconds`` of audio per input mel) and samples for the others.
A class-conditional family's module (``sngan``) makes synthetic real batches of ``(images,
labels)`` with random labels when ``num_classes`` is above 0, trains on fakes made for each real
batch's labels, and generates for labels cycling through the classes, as ``sample(n)`` does.

This package imports none of them: importing one (say ``dcgan``) does not load the others
(``melgan`` and ``hifigan`` need torchaudio).
"""

#: the families that have a baseline module here
NAMES = ("dcgan", "sngan", "wavegan", "melgan", "hifigan", "seqgan", "relgan")
