"""The adversarial training loop shared by every family and modality.

The trainer asks the GAN for its losses (``discriminator_loss(batch, step)``,
``generator_loss(batch, step)`` and any pre-training ``phases``) and the modality for data, batch
checks and sample writers; it owns everything else: optimisers, precision, clipping, EMA,
checkpoints, logging and progress. Its settings are :class:`multigan.TrainSettings`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..config import config_to_dict
from ..errors import ConfigError, DataError, TrainingError, warn
from ..files import link_atomic, remove_stale, save_atomic, write_bytes_atomic, write_text_atomic
from ..gan import GAN, Losses, Phase, Step
from ..layers import has_spectral_norm
from ..precision import autocast, resolve_precision
from ..registry import get_modality
from ..runs import FORMAT, VERSION, checkpoint_dir, load_state, split_legacy_config
from ..settings import RESUME_MUST_MATCH, TrainSettings
from . import distributed
from .checkpoint import rng_state, set_rng_state
from .data import BatchStream, first_items, to_device
from .ema import recompute_norm_statistics, update_ema, warmed_up_decay
from .logging import MetricsLogger

NETWORKS = ("generator", "discriminator")
# Family config fields a resumed run may change: the schedule's length, not what is trained.
RESUMABLE_CHANGES = ("max_steps",)


class Trainer:
    """Trains ``gan`` on ``data`` and writes a run folder.

    Args:
        gan: a GAN from :func:`multigan.build`.
        data: a built-in dataset name of the GAN's modality, a local path, or a
            ``torch.utils.data.Dataset``; None for the modality's default dataset.
        **settings: any field of :class:`multigan.TrainSettings` (``out_dir``, ``max_steps``,
            ``batch_size``, ``precision``, ``kernels``, ``seed``, ``device``, ...), where each is
            documented once; an unknown name or a bad value is a :class:`ConfigError`.

    ``out_dir`` (default ``runs/NAME``) receives ``config.json``, ``metrics.jsonl``,
    ``checkpoints/`` and ``samples/``; training resumes from its last checkpoint if there is one.
    ``max_steps`` counts adversarial steps; pre-training phases run before them (for a GAN with
    phases, 0 runs the phases only). ``precision="auto"`` (the default) is bf16-mixed where bf16
    is native and fp32 elsewhere (:mod:`multigan.precision`); after construction
    :attr:`precision` holds what will run and :attr:`precision_reason` why.

    Started by ``torchrun`` with several processes, the trainer joins their process group
    (gloo on the CPU, NCCL on CUDA): every process trains on its share of each global batch,
    gradients are averaged, and only rank 0 writes files and logs (docs/distributed.md).
    SIGINT and SIGTERM stop training after the current step with a checkpoint; then
    :attr:`stopped_by` names the signal and :meth:`fit` returns.
    """

    def __init__(self, gan: GAN, data: str | Dataset | None = None, **settings: Any):
        self.gan = gan
        self.dataset_object = data if isinstance(data, Dataset) else None
        if isinstance(data, os.PathLike):
            data = os.fspath(data)
        if data is not None and self.dataset_object is None and not isinstance(data, str):
            raise ConfigError(f"data must be a dataset name, a path or a torch Dataset, got {type(data).__name__}")
        recorded = type(data).__name__ if self.dataset_object is not None else data
        if isinstance(settings.get("out_dir"), os.PathLike):
            settings["out_dir"] = os.fspath(settings["out_dir"])
        self.requested = TrainSettings.from_dict({**settings, "data": recorded})
        s = self.requested
        has_phases = any(p.steps for p in gan.phases(1))
        self.max_steps = _whole("max_steps", gan.config.max_steps if s.max_steps is None else s.max_steps,
                                least=0 if has_phases else 1)
        self.batch_size = _whole("batch_size", gan.config.batch_size if s.batch_size is None else s.batch_size)
        self.out_dir = Path(s.out_dir if s.out_dir is not None else Path("runs") / gan.name)
        self.device = distributed.device_for(s.device)
        self.precision, self.precision_reason, self._precision_warning = resolve_precision(s.precision, self.device)
        gan.use_kernels(s.kernels)
        self.seed = s.seed
        self.step = 0
        self.rank = 0  # this process's rank in the run (set when training starts)
        self.stopped_by: str | None = None  # the signal that stopped the last fit(), if any

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> TrainSettings:
        """The settings this trainer runs with: those asked for, with the family's defaults and
        ``precision="auto"`` resolved (what checkpoints record; ``config.json`` records the
        precision as asked, beside what ran)."""
        return TrainSettings.from_dict({**self.requested.to_dict(), "out_dir": str(self.out_dir),
                                        "max_steps": self.max_steps, "batch_size": self.batch_size,
                                        "precision": self.precision})

    # ------------------------------------------------------------------ the loop
    def fit(self) -> GAN:
        """Train to ``max_steps`` (resuming from the run folder's last checkpoint) and return the GAN.

        A SIGINT or SIGTERM (Ctrl-C, ``kill``, a scheduler's preemption) ends the current step,
        writes a checkpoint and returns early with :attr:`stopped_by` set; a second SIGINT
        interrupts at once (the checkpoints on disk stay whole either way)."""
        gan = self.gan
        owns_group = distributed.init(self.device)
        try:
            main = distributed.is_main()
            preview_batch = self.setup()
            bar = tqdm(total=self.total, initial=self.step, disable=not (self.requested.progress and main),
                       unit="step", dynamic_ncols=True, desc=self._phase_label(self.step))
            start_time, start_step = time.perf_counter(), self.step
            self.stopped_by = None
            with _stop_signals() as received, contextlib.closing(bar), contextlib.closing(self.logger):
                while self.step < self.total:
                    phase, logs = self.train_step()
                    bar.update(1)
                    stop = distributed.any_rank(bool(received), self.device)
                    done = self.step == self.total or stop
                    s = self.requested
                    if _due(self.step, s.log_every) or done:
                        speed = (self.step - start_step) / max(time.perf_counter() - start_time, 1e-9)
                        values = {k: v.item() for k, v in distributed.mean_over_ranks(logs).items()}
                        self.logger.log(self.step, {"phase": phase.name if phase else "adversarial",
                                                    **values, "steps_per_s": speed})
                        bar.set_postfix({k: f"{v:.3g}" for k, v in values.items() if k.endswith("loss")})
                    if self.step < self.total:
                        bar.set_description(self._phase_label(self.step), refresh=False)
                    preview, save = _due(self.step, s.sample_every) or done, _due(self.step, s.checkpoint_every) or done
                    if (preview or save) and gan.generator_ema is not None:
                        recompute_norm_statistics(gan, self.batch_size)  # on every process alike
                    if main and preview:
                        self.write_preview(preview_batch)
                    if save:
                        self.save_checkpoint()
                    if stop:
                        self.stopped_by = received[0] if received else "a signal on another process"
                        break
            # BatchNorm statistics that each process gathered from its own share: rank 0's
            distributed.broadcast_from_main(self._unsynced_buffers)
        finally:
            if owns_group:
                distributed.shut_down()
        gan.eval()
        return gan

    def setup(self, repeat_batches: int | None = None) -> Any:
        """Everything before the first step: data, device, optimisers, the run folder, and the
        last checkpoint if there is one. Returns the fixed batch previews are made from.

        ``repeat_batches``: train on the data's first N batches over and over, loaded, checked and
        moved to the device once (kept in :attr:`repeated_batches`), as ``multigan bench`` does to
        time updates without data loading."""
        gan, cfg, s = self.gan, self.gan.config, self.requested
        main = distributed.is_main()
        self.rank = distributed.rank()
        self.modality = get_modality(gan.modality)
        distributed.seed_process(self.seed)
        gan.shared_rng = torch.Generator().manual_seed(self.seed)

        source = self.dataset_object if self.dataset_object is not None else s.data
        dataset = self.modality.dataset(source, gan, "train", s.skip_bad_files)
        gan.attach_data(dataset)
        self.stream = BatchStream(dataset, self.batch_size, self.seed, distributed.rank(),
                                  distributed.world_size(), s.num_workers)
        self._batches: Iterator[Any] = self.stream
        self.repeated_batches: list[Any] = []
        if s.sync_batchnorm:
            distributed.sync_batchnorm(gan)
        gan.place(self.device).train()
        if cfg.ema_decay > 0 and gan.generator_ema is None:
            gan.add_ema()
        if s.compile:
            compile_networks(gan)
        nets = {"generator": gan.generator, "discriminator": gan.discriminator}
        adam = {"generator": dict(lr=cfg.lr_g, betas=cfg.betas_g), "discriminator": dict(lr=cfg.lr_d, betas=cfg.betas_d)}
        # fused Adam: one kernel for every parameter's update on CUDA (PyTorch's own; exact Adam)
        fused = {"fused": True} if s.kernels == "auto" and self.device.type == "cuda" else {}
        self.optimizers = {k: _adam(nets[k], adam[k], gan.weight_decay(k), fused) for k in NETWORKS}
        # One scaler per network: an overflow in D's backward must not skip or rescale G's step.
        self.scalers = {k: torch.amp.GradScaler(self.device.type, enabled=self.precision == "16-mixed")
                        for k in NETWORKS}
        self.clip = {"generator": cfg.grad_clip_g, "discriminator": cfg.grad_clip_d}
        self._nets = nets
        self.phases = gan.phases(self.stream.batches_per_epoch)
        for phase in self.phases:
            if phase.own_optimizer:
                settings = {**adam[phase.network], **({} if phase.lr is None else {"lr": phase.lr})}
                self.optimizers[phase.name] = _adam(nets[phase.network], settings, gan.weight_decay(phase.network),
                                                    fused)
        self.n_critic = gan.critic_steps(self.stream.batches_per_epoch)
        self.total = sum(p.steps for p in self.phases) + self.max_steps

        distributed.on_main_then_all(self._prepare_out_dir, self.device)
        self.step = 0
        last = checkpoint_dir(self.out_dir) / "last.pt"
        resumed = last.is_file()
        if resumed:
            self._resume(load_state(last))
        # after the resume checks, so a refused resume writes nothing (TensorBoard's writer
        # makes its files as it starts)
        self.logger = MetricsLogger(self.out_dir, enabled=main)
        if resumed:
            self.logger.truncate_after(self.step)
        # every process starts from rank 0's weights, whatever each built or loaded
        distributed.broadcast_from_main([*gan.parameters(), *gan.buffers()])
        self._unsynced_buffers = distributed.batchnorm_buffers(gan)
        if main:
            self._announce(source, resumed)
            for name, contents in gan.artifacts().items():
                write_bytes_atomic(self.out_dir / name, contents)
            # the precision asked for (auto stays auto, so a repeat on another machine chooses
            # for that machine), and beside it the one that ran and why; checkpoints keep the
            # one that ran, which a resumed run keeps
            record = {"name": gan.name, "modality": gan.modality, "config": config_to_dict(cfg),
                      "train": {**self.settings.to_dict(), "precision": self.requested.precision},
                      "precision": {"ran": self.precision, "reason": self.precision_reason or "asked for"}}
            write_text_atomic(self.out_dir / "config.json", json.dumps(record, indent=2) + "\n")
        if repeat_batches:
            self.repeated_batches = [self.next_batch() for _ in range(repeat_batches)]
            self._batches = itertools.cycle(self.repeated_batches)
        preview = first_items(dataset, s.n_preview)
        self.modality.check_batch(preview, gan)
        return to_device(preview, self.device, gan.layout)

    def _announce(self, source: Any, resumed: bool) -> None:
        """Say what will happen: the precision (and why), each phase, the adversarial steps."""
        gan, say = self.gan, _say
        if resumed:
            say(f"resuming {self.out_dir} from step {self.step}")
        data = source if source is not None else f"{self.modality.default_source(gan)} (built-in)"
        say(f"training {gan.name} on {data} into {self.out_dir}: batch {self.batch_size}, seed {self.seed}, "
            f"kernels {gan.kernels}")
        say(f"precision: {self.precision}" + (f" ({self.precision_reason})" if self.precision_reason else ""))
        if self._precision_warning:
            warn(self._precision_warning)
        for phase in self.phases:
            if phase.steps:
                what = phase.trains or f"{phase.network} only"
                say(f"phase {phase.name}: {_count(phase.steps, 'step')} of {what}")
        updates = [_count(self.n_critic, 'D update'), "1 G update"][::-1 if gan.generator_first else 1]
        say(f"adversarial: {_count(self.max_steps, 'step')}, each {updates[0]} then {updates[1]}"
            + (" (after the phases above)" if any(p.steps for p in self.phases) else ""))

    def _phase_label(self, step: int) -> str:
        """The progress bar's label at ``step``: the family and the phase it is in."""
        phase = _phase_at(self.phases, step)
        return f"{self.gan.name} {phase.name if phase else 'adversarial'}"

    def train_step(self) -> tuple[Phase | None, dict[str, torch.Tensor]]:
        """One step after :meth:`setup`: a pre-training phase's update, or ``n_critic``
        discriminator updates and one generator update. Returns the phase (None when
        adversarial) and the step's detached logs."""
        phase = _phase_at(self.phases, self.step)
        if phase is not None:
            logs = self.update(phase.network, phase.loss, prefix=phase.name,
                               optimizer_name=phase.name if phase.own_optimizer else phase.network)
        else:
            factor = self._decay_learning_rates()
            logs = self.adversarial_updates()
            if factor is not None:
                logs["lr_factor"] = torch.tensor(factor)
        self.step += 1
        return phase, logs

    def _decay_learning_rates(self) -> float | None:
        """Set both adversarial learning rates for this step: the family's own schedule
        (``gan.lr_factor``) times the ``lr_decay`` setting's factor, constant and then falling
        linearly toward 0 over the last ``lr_decay`` of the adversarial steps. Both are
        functions of the step alone, so a resumed run continues the schedule exactly. Returns
        the factor applied, None when there is neither."""
        fraction, total = self.requested.lr_decay, self.max_steps
        done = self.step - (self.total - total)  # adversarial steps already taken
        own = self.gan.lr_factor(done, self.stream.batches_per_epoch)
        if not fraction and own is None:
            return None
        factor = 1.0 if own is None else own
        if fraction:
            factor *= min(1.0, (total - done) / (fraction * total))
        cfg = self.gan.config
        for name, lr in (("generator", cfg.lr_g), ("discriminator", cfg.lr_d)):
            for group in self.optimizers[name].param_groups:
                group["lr"] = lr * factor
        return factor

    def adversarial_updates(self) -> dict[str, torch.Tensor]:
        """``n_critic`` discriminator updates and one generator update (first, when the family
        sets :attr:`~multigan.GAN.generator_first`); returns their logs.

        With one critic step and a family that :attr:`~multigan.GAN.shares_fakes`, both updates
        take one real batch and one :class:`~multigan.gan.Step` holding one fake batch; otherwise
        every update takes its own batch and a fresh step."""
        gan = self.gan
        if gan.shares_fakes and self.n_critic == 1 and not gan.generator_first:
            batch = self.next_batch()
            with self._autocast():
                step = Step(fake=gan.fake_batch(batch))
            return {**self.update("discriminator", gan.discriminator_loss, prefix="d", batch=batch, step=step),
                    **self.update("generator", gan.generator_loss, prefix="g", batch=batch, step=step)}
        logs_g = self.update("generator", gan.generator_loss, prefix="g") if gan.generator_first else {}
        for _ in range(self.n_critic):
            logs_d = self.update("discriminator", gan.discriminator_loss, prefix="d")
        if not gan.generator_first:
            logs_g = self.update("generator", gan.generator_loss, prefix="g")
        return {**logs_d, **logs_g}

    def next_batch(self) -> Any:
        """The data's next batch, checked by the modality, on the device."""
        batch = next(self._batches)
        if self.repeated_batches:
            return batch  # checked and moved when first drawn
        self.modality.check_batch(batch, self.gan)
        return to_device(batch, self.device, self.gan.layout)

    def update(self, network: str, loss_fn: Callable[[Any, Step], Losses], prefix: str,
               optimizer_name: str | None = None, batch: Any = None, step: Step | None = None
               ) -> dict[str, torch.Tensor]:
        """One step of ``network`` on ``loss_fn(batch, step)`` (by default the data's next batch
        and a fresh :class:`~multigan.gan.Step`) with the optimiser named ``optimizer_name`` (by
        default the network's); returns detached logs."""
        other = self._nets[NETWORKS[1 - NETWORKS.index(network)]]
        # The other network's weight gradients would be thrown away, so eager runs freeze its
        # parameters. Compiled runs leave them trainable and drop the gradients after the
        # backward: with frozen weights Inductor's CPU backward of RelGAN's D under bf16 autocast
        # returns NaN input gradients (torch 2.14.1; docs/design-notes.md, compile section).
        frozen = [] if self.requested.compile else [p for p in other.parameters() if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            if batch is None:
                batch = self.next_batch()
            with self._autocast():
                out = loss_fn(batch, step if step is not None else Step())
            loss = out["loss"]
            finite = bool(torch.isfinite(loss).all())
            if distributed.any_rank(not finite, self.device):  # every process stops together
                where = f"loss {loss.item()}" if not finite else "loss on another process"
                raise TrainingError(f"non-finite {prefix} {where} at step {self.step + 1} "
                                    f"({network} update); {self._kept()}")
            optimizer, scaler = self.optimizers[optimizer_name or network], self.scalers[network]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            other.zero_grad(set_to_none=True)
            params = [p for p in self._nets[network].parameters() if p.grad is not None]
            distributed.average_gradients(params)
            if self.clip[network] > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, self.clip[network])
            if not scaler.is_enabled():  # with a scaler, non-finite gradients just skip the step
                norm = torch.nn.utils.get_total_norm([p.grad for p in params])
                if not torch.isfinite(norm):
                    raise TrainingError(f"non-finite {network} gradient (norm {norm.item()}) at step "
                                        f"{self.step + 1} from a finite {prefix} loss; {self._kept()}")
            scaler.step(optimizer)
            scaler.update()
            if network == "generator" and self.gan.generator_ema is not None:
                update_ema(self.gan.generator_ema, self.gan.generator,
                           warmed_up_decay(self.gan.config.ema_decay, self.step))
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return {f"{prefix}_{k}": v.detach().float() for k, v in out.items()}

    def _kept(self) -> str:
        last = checkpoint_dir(self.out_dir) / "last.pt"
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written yet"
        return kept + ". Lower the learning rate, enable gradient clipping, or use precision '32'"

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.precision, self.device)

    # ------------------------------------------------------------------ files
    def _prepare_out_dir(self) -> None:
        try:
            for sub in ("checkpoints", "samples"):
                (self.out_dir / sub).mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".write-test"
            probe.write_text("")
            probe.unlink()
            remove_stale(checkpoint_dir(self.out_dir))
        except OSError as exc:
            raise DataError(f"output folder {str(self.out_dir)!r} cannot be written: {exc}") from exc

    def write_preview(self, batch: Any) -> list[Path]:
        """Write the GAN's preview samples as ``samples/step-NNNNNN.<ext>``."""
        samples = self.gan.preview(batch, self.requested.n_preview)
        return self.modality.write_samples(samples, self.out_dir / "samples" / f"step-{self.step:06d}", self.gan)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to take the same next steps."""
        gan = self.gan
        return {
            "format": FORMAT, "version": VERSION, "name": gan.name, "modality": gan.modality,
            "config": config_to_dict(gan.config), "train": self.settings.to_dict(), "step": self.step,
            "generator": gan.generator.state_dict(), "discriminator": gan.discriminator.state_dict(),
            "generator_ema": None if gan.generator_ema is None else gan.generator_ema.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "data_position": self.stream.position, "world_size": distributed.world_size(),
            "shared_rng": gan.shared_rng.get_state() if gan.shared_rng is not None else None,
            "artifacts": {k: torch.frombuffer(bytearray(v), dtype=torch.uint8) for k, v in gan.artifacts().items()},
            # rank 0's random states, then the other ranks' (a resumed run on as many processes
            # continues each one's stream)
            "rng": rng_state(), "rng_other_ranks": distributed.gather_objects(rng_state())[1:],
        }

    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-NNNNNN.pt`` atomically and point ``last.pt`` at it (rank 0
        writes; every process takes part, since the checkpoint holds their random states)."""
        folder = checkpoint_dir(self.out_dir)
        path = folder / f"step-{self.step:06d}.pt"
        state = self.state_dict()
        if not distributed.is_main():
            return path
        save_atomic(state, path)
        link_atomic(path, folder / "last.pt")
        keep = self.requested.keep_checkpoints
        if keep:
            for old in sorted(folder.glob("step-*.pt"))[:-keep]:
                old.unlink()  # last.pt is a link of its own, so the newest file stays
        return path

    def _resume(self, state: dict[str, Any]) -> None:
        gan = self.gan
        if state["name"] != gan.name:
            raise ConfigError(f"{self.out_dir} holds a {state['name']!r} run, not {gan.name!r}; "
                              "choose another output folder")
        saved_config, saved_train = split_legacy_config(state["config"], state.get("train"))
        mine = config_to_dict(gan.config)
        changed = sorted(k for k in set(mine) | set(saved_config)
                         if k not in RESUMABLE_CHANGES and mine.get(k) != saved_config.get(k))
        settings = self.settings.to_dict()
        changed += [k for k in RESUME_MUST_MATCH if settings[k] != saved_train.get(k)]
        if changed:
            was = {**saved_config, **saved_train}
            now = {**mine, **settings}
            diffs = ", ".join(f"{k}: {was.get(k)!r} -> {now.get(k)!r}" for k in changed)
            raise ConfigError(f"{self.out_dir} holds a run with other settings ({diffs}); "
                              "choose another output folder or keep the run's settings")
        if state["step"] > self.total:
            before = self.total - self.max_steps
            raise ConfigError(f"{self.out_dir} is already at step {state['step']}, past the {self.total} steps asked "
                              f"for (max_steps {self.max_steps}" + (f" after {before} pre-training steps" if before else "")
                              + f"); ask for max_steps >= {state['step'] - before} to continue it, or choose another "
                              "output folder")
        if self.requested.precision == "auto" and saved_train.get("precision") not in (None, "auto"):
            # the run keeps the precision it started with, unless another is asked for explicitly
            self.precision, self.precision_reason, self._precision_warning = resolve_precision(
                saved_train["precision"], self.device)
            self.precision_reason = "the precision this run started with"
            self.scalers = {k: torch.amp.GradScaler(self.device.type, enabled=self.precision == "16-mixed")
                            for k in NETWORKS}
        gan.generator.load_state_dict(state["generator"])
        gan.discriminator.load_state_dict(state["discriminator"])
        if gan.generator_ema is not None and state["generator_ema"] is not None:
            gan.generator_ema.load_state_dict(state["generator_ema"])
        for k, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][k])
        for k in NETWORKS:
            self.scalers[k].load_state_dict(state["scalers"][k])
        self.step = state["step"]
        self.stream.position = state["data_position"]
        shared = state.get("shared_rng", state.get("noise"))  # "noise": its name in older checkpoints
        if shared is not None:
            gan.shared_rng.set_state(shared)
        rank, others = distributed.rank(), state.get("rng_other_ranks", [])
        if rank == 0:
            set_rng_state(state["rng"])
        elif rank <= len(others):
            set_rng_state(others[rank - 1])
        else:  # a rank the saved run did not have: a stream of its own from (seed, step)
            distributed.seed_process(self.seed + self.step)


def compile_networks(gan: GAN) -> None:
    """``torch.compile`` G's and D's forward passes (the ``compile`` setting), each in place, so
    state-dict keys stay those of the plain modules. With ``fallback_random`` a compiled graph's
    random ops draw from torch's generators as eager code does (not from Inductor's own), so
    compiled runs follow the seed and resume exactly. A network with spectral norm stays eager
    (:func:`multigan.layers.has_spectral_norm`), with a warning."""
    for name, net in (("generator", gan.generator), ("discriminator", gan.discriminator)):
        if has_spectral_norm(net):
            warn(f"compile: the {name} runs eagerly: its spectral norm updates its power-iteration vectors "
                 "in place on every forward, which torch.compile's backward cannot follow")
            continue
        net.compile(options={"fallback_random": True})


def _adam(network: torch.nn.Module, settings: dict[str, Any], weight_decay: float,
          fused: dict[str, Any]) -> torch.optim.Optimizer:
    """Adam with ``settings`` (lr, betas) for ``network``, or AdamW when the family asks for
    decoupled weight decay; families without it keep plain Adam, so their runs train and resume
    exactly as before."""
    if weight_decay:
        return torch.optim.AdamW(network.parameters(), **settings, weight_decay=weight_decay, **fused)
    return torch.optim.Adam(network.parameters(), **settings, **fused)


def _whole(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}")
    return value


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _say(line: str) -> None:
    """One line about what training will do, on stderr beside the progress bar."""
    print(f"multigan: {line}", file=sys.stderr, flush=True)


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def _phase_at(phases: list[Phase], step: int) -> Phase | None:
    """The pre-training phase that step ``step`` (0-based) belongs to; None once adversarial."""
    for phase in phases:
        if step < phase.steps:
            return phase
        step -= phase.steps
    return None


@contextlib.contextmanager
def _stop_signals():
    """While training: SIGINT and SIGTERM are recorded (the yielded list gets the signal's name)
    instead of killing the process, so the loop can finish its step and checkpoint. A second
    SIGINT raises KeyboardInterrupt at once, except under torchrun, whose agent passes a
    terminal's Ctrl-C on to processes that got it already (and kills them itself if they take
    too long). Outside the main thread signals cannot be caught, and nothing changes."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    escalate = not distributed.launched()

    def record(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if received:
            if escalate and signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        received.append(name)
        if distributed.is_main():
            print(f"\n{name}: stopping after this step and writing a checkpoint "
                  "(Ctrl-C again to stop at once)", flush=True)

    for sig in previous:
        signal.signal(sig, record)
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
