"""The adversarial training loop shared by every family and modality.

The trainer asks the GAN for its losses (``discriminator_loss``, ``generator_loss`` and any
pre-training ``phases``) and the modality for data and sample writers; it owns everything else:
optimisers, precision, clipping, EMA, checkpoints, logging and progress.
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..config import config_to_dict
from ..errors import ConfigError, DataError, TrainingError
from ..gan import GAN, Losses, Phase
from ..registry import get_modality
from . import distributed
from .checkpoint import (FORMAT, VERSION, checkpoint_dir, link_atomic, load_state, rng_state,
                         save_atomic, set_rng_state, write_bytes_atomic)
from .data import BatchStream, first_items, to_device
from .ema import make_ema, update_ema
from .logging import MetricsLogger

PRECISIONS = ("32", "bf16-mixed", "16-mixed")
NETWORKS = ("generator", "discriminator")
# Config fields a resumed run may change: the schedule's length and how the same maths is
# computed, not what is being trained.
RESUMABLE_CHANGES = ("max_steps", "kernels", "compile")
# Trainer settings a resumed run must share: they define the data stream it continues.
RESUME_MUST_MATCH = ("data", "batch_size", "seed")


class Trainer:
    """Trains ``gan`` on ``data`` and writes a run folder.

    Args:
        gan: a GAN from :func:`multigan.build`.
        data: a built-in dataset name of the GAN's modality, a local path, or a
            ``torch.utils.data.Dataset``; None for the modality's default dataset.
        out_dir: the run folder (``config.json``, ``metrics.jsonl``, ``checkpoints/``,
            ``samples/``). Training resumes from its last checkpoint if there is one.
        max_steps: generator (adversarial) steps; defaults to ``gan.config.max_steps``.
            Pre-training phases run before them; for a GAN with phases, 0 runs the phases only
            (resume later with more steps to continue adversarially).
        batch_size: the global batch, split evenly among the processes of a multi-process
            run; defaults to ``gan.config.batch_size``.
        precision: ``"32"``, ``"bf16-mixed"`` (CPU and CUDA) or ``"16-mixed"`` (CUDA).
        seed: seeds Python, NumPy and torch, and the data order.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; under
            ``torchrun``, ``"auto"`` and ``"cuda"`` mean this process's GPU.
        sample_every, checkpoint_every, log_every: in steps; 0 turns periodic writing off
            (the last step is always checkpointed and sampled).
        n_preview: how many samples each preview writes.
        keep_checkpoints: how many periodic checkpoints to keep (the newest; 0 keeps all).
        num_workers: DataLoader worker processes.
        skip_bad_files: skip unreadable data files with a warning instead of raising.
        sync_batchnorm: normalise BatchNorm layers with the statistics of the global batch in
            multi-process training (as one process with the whole batch would); otherwise each
            process normalises its own share, as ``DistributedDataParallel`` does.
        progress: show a progress bar.

    Started by ``torchrun`` with several processes, the trainer joins their process group
    (gloo on the CPU, NCCL on CUDA): every process trains on its share of each global batch,
    gradients are averaged, and only rank 0 writes files and logs (docs/distributed.md).
    SIGINT and SIGTERM stop training after the current step with a checkpoint; then
    :attr:`stopped_by` names the signal and :meth:`fit` returns.
    """

    def __init__(self, gan: GAN, data: str | Dataset | None = None, out_dir: str | Path | None = None,
                 max_steps: int | None = None, batch_size: int | None = None, precision: str = "32",
                 seed: int = 0, device: str = "auto", sample_every: int = 500, checkpoint_every: int = 500,
                 log_every: int = 10, n_preview: int = 64, keep_checkpoints: int = 5, num_workers: int = 0,
                 skip_bad_files: bool = False, sync_batchnorm: bool = False, progress: bool = True):
        self.gan = gan
        self.data = data
        self.out_dir = Path(out_dir if out_dir is not None else Path("runs") / gan.name)
        self.max_steps = _positive("max_steps", gan.config.max_steps if max_steps is None else max_steps,
                                   least=0 if any(p.steps for p in gan.phases(1)) else 1)
        self.batch_size = _positive("batch_size", gan.config.batch_size if batch_size is None else batch_size)
        for name, value in (("sample_every", sample_every), ("checkpoint_every", checkpoint_every),
                            ("log_every", log_every), ("keep_checkpoints", keep_checkpoints),
                            ("num_workers", num_workers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        _positive("n_preview", n_preview)
        if precision not in PRECISIONS:
            raise ConfigError(f"precision {precision!r} is not supported; allowed: {', '.join(PRECISIONS)}")
        self.device = distributed.device_for(device)
        if precision == "16-mixed" and self.device.type != "cuda":
            raise ConfigError("precision '16-mixed' needs a CUDA device; on the CPU use 'bf16-mixed' or '32'")
        self.precision, self.seed = precision, seed
        self.sample_every, self.checkpoint_every, self.log_every = sample_every, checkpoint_every, log_every
        self.n_preview, self.keep_checkpoints, self.num_workers = n_preview, keep_checkpoints, num_workers
        self.skip_bad_files, self.sync_batchnorm, self.progress = skip_bad_files, sync_batchnorm, progress
        self.step = 0
        self.rank = 0  # this process's rank in the run (set when training starts)
        self.stopped_by: str | None = None  # the signal that stopped the last fit(), if any

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> dict[str, Any]:
        """The trainer's arguments, as recorded in ``config.json``."""
        data = self.data if self.data is None or isinstance(self.data, str) else type(self.data).__name__
        return {"data": data, "out_dir": str(self.out_dir), "max_steps": self.max_steps,
                "batch_size": self.batch_size, "precision": self.precision, "seed": self.seed,
                "sample_every": self.sample_every, "checkpoint_every": self.checkpoint_every,
                "log_every": self.log_every, "n_preview": self.n_preview,
                "keep_checkpoints": self.keep_checkpoints, "num_workers": self.num_workers,
                "skip_bad_files": self.skip_bad_files, "sync_batchnorm": self.sync_batchnorm}

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
            bar = tqdm(total=self.total, initial=self.step, disable=not (self.progress and main),
                       unit="step", dynamic_ncols=True, desc=gan.name)
            start_time, start_step = time.perf_counter(), self.step
            self.stopped_by = None
            with _stop_signals() as received, contextlib.closing(bar), contextlib.closing(self.logger):
                while self.step < self.total:
                    phase, logs = self.train_step()
                    bar.update(1)
                    stop = distributed.any_rank(bool(received), self.device)
                    done = self.step == self.total or stop
                    if _due(self.step, self.log_every) or done:
                        speed = (self.step - start_step) / max(time.perf_counter() - start_time, 1e-9)
                        values = {k: v.item() for k, v in distributed.mean_over_ranks(logs).items()}
                        self.logger.log(self.step, {"phase": phase.name if phase else "adversarial",
                                                    **values, "steps_per_s": speed})
                        bar.set_postfix({k: f"{v:.3g}" for k, v in values.items() if k.endswith("loss")})
                    if main and (_due(self.step, self.sample_every) or done):
                        self.write_preview(preview_batch)
                    if _due(self.step, self.checkpoint_every) or done:
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

    def setup(self) -> Any:
        """Everything before the first step: data, device, optimisers, the run folder, and the
        last checkpoint if there is one. Returns the fixed batch previews are made from."""
        gan, cfg = self.gan, self.gan.config
        main = distributed.is_main()
        self.rank = distributed.rank()
        modality = get_modality(gan.modality)
        distributed.seed_process(self.seed)
        gan.noise = torch.Generator().manual_seed(self.seed)

        dataset = modality.dataset(self.data, cfg, "train", self.skip_bad_files)
        gan.attach_data(dataset)
        self.stream = BatchStream(dataset, self.batch_size, self.seed, distributed.rank(),
                                  distributed.world_size(), self.num_workers)
        if self.sync_batchnorm:
            distributed.sync_batchnorm(gan)
        self.memory_format = gan.layout
        gan.place(self.device).train()
        if cfg.ema_decay > 0 and gan.generator_ema is None:
            gan.generator_ema = make_ema(gan.generator)
        if cfg.compile:  # in place, so state_dict keys stay those of the plain modules
            gan.generator.compile()
            gan.discriminator.compile()
        nets = {"generator": gan.generator, "discriminator": gan.discriminator}
        adam = {"generator": dict(lr=cfg.lr_g, betas=cfg.betas_g), "discriminator": dict(lr=cfg.lr_d, betas=cfg.betas_d)}
        # fused Adam: one kernel for every parameter's update on CUDA (PyTorch's own; exact Adam)
        fused = {"fused": True} if cfg.kernels == "fused" and self.device.type == "cuda" else {}
        self.optimizers = {k: torch.optim.Adam(nets[k].parameters(), **adam[k], **fused) for k in NETWORKS}
        # One scaler per network: an overflow in D's backward must not skip or rescale G's step.
        self.scalers = {k: torch.amp.GradScaler(self.device.type, enabled=self.precision == "16-mixed")
                        for k in NETWORKS}
        self.clip = {"generator": cfg.grad_clip_g, "discriminator": cfg.grad_clip_d}
        self._nets = nets
        self.phases = gan.phases(self.stream.batches_per_epoch)
        for phase in self.phases:
            if phase.own_optimizer:
                self.optimizers[phase.name] = torch.optim.Adam(nets[phase.network].parameters(),
                                                               **adam[phase.network], **fused)
        self.n_critic = gan.critic_steps(self.stream.batches_per_epoch)
        self.total = sum(p.steps for p in self.phases) + self.max_steps

        # before the logger: TensorBoard's writer makes its folder as it starts
        distributed.on_main_then_all(self._prepare_out_dir, self.device)
        self.logger = MetricsLogger(self.out_dir, enabled=main)
        self.step = 0
        last = checkpoint_dir(self.out_dir) / "last.pt"
        if last.is_file():
            self._resume(load_state(last))
            self.logger.truncate_after(self.step)
        # every process starts from rank 0's weights, whatever each built or loaded
        distributed.broadcast_from_main([*gan.parameters(), *gan.buffers()])
        self._unsynced_buffers = distributed.batchnorm_buffers(gan)
        if main:
            for name, contents in gan.artifacts().items():
                write_bytes_atomic(self.out_dir / name, contents)
            (self.out_dir / "config.json").write_text(json.dumps(
                {"name": gan.name, "modality": gan.modality, "config": config_to_dict(cfg),
                 "train": self.settings}, indent=2) + "\n")
        return to_device(first_items(dataset, self.n_preview), self.device, self.memory_format)

    def train_step(self) -> tuple[Phase | None, dict[str, torch.Tensor]]:
        """One step after :meth:`setup`: a pre-training phase's update, or ``n_critic``
        discriminator updates and one generator update. Returns the phase (None when
        adversarial) and the step's detached logs."""
        phase = _phase_at(self.phases, self.step)
        if phase is not None:
            logs = self.update(phase.network, phase.loss, prefix=phase.name,
                               optimizer_name=phase.name if phase.own_optimizer else phase.network)
        else:
            logs = self.adversarial_updates()
        self.step += 1
        return phase, logs

    def adversarial_updates(self) -> dict[str, torch.Tensor]:
        """``n_critic`` discriminator updates and one generator update; returns their logs."""
        gan = self.gan
        if gan.shares_fakes and self.n_critic == 1:
            # one real batch and one generator forward for both updates (see GAN.shares_fakes)
            batch = self.next_batch()
            with self._autocast():
                fake = gan.fake_batch(batch)
            return {**self.update("discriminator", functools.partial(gan.discriminator_loss, fake=fake),
                                  prefix="d", batch=batch),
                    **self.update("generator", functools.partial(gan.generator_loss, fake=fake),
                                  prefix="g", batch=batch)}
        for _ in range(self.n_critic):
            logs_d = self.update("discriminator", gan.discriminator_loss, prefix="d")
        return {**logs_d, **self.update("generator", gan.generator_loss, prefix="g")}

    def next_batch(self) -> Any:
        """The data stream's next batch, on the device."""
        return to_device(next(self.stream), self.device, self.memory_format)

    def update(self, network: str, loss_fn: Callable[[Any], Losses], prefix: str,
                optimizer_name: str | None = None, batch: Any = None) -> dict[str, torch.Tensor]:
        """One step of ``network`` on ``loss_fn(batch)`` (by default the stream's next batch)
        with the optimiser named ``optimizer_name`` (by default the network's); returns detached
        logs."""
        other = self._nets[NETWORKS[1 - NETWORKS.index(network)]]
        frozen = [p for p in other.parameters() if p.requires_grad]
        for p in frozen:  # the other network's weight gradients would be thrown away
            p.requires_grad_(False)
        try:
            if batch is None:
                batch = self.next_batch()
            with self._autocast():
                out = loss_fn(batch)
            loss = out["loss"]
            finite = bool(torch.isfinite(loss).all())
            if distributed.any_rank(not finite, self.device):  # every process stops together
                where = f"loss {loss.item()}" if not finite else "loss on another process"
                raise TrainingError(f"non-finite {prefix} {where} at step {self.step + 1} "
                                    f"({network} update); {self._kept()}")
            optimizer, scaler = self.optimizers[optimizer_name or network], self.scalers[network]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
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
                update_ema(self.gan.generator_ema, self.gan.generator, self.gan.config.ema_decay)
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return {f"{prefix}_{k}": v.detach().float() for k, v in out.items()}

    def _kept(self) -> str:
        last = checkpoint_dir(self.out_dir) / "last.pt"
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written yet"
        return kept + ". Lower the learning rate, enable gradient clipping, or use precision '32'"

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16-mixed" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    # ------------------------------------------------------------------ files
    def _prepare_out_dir(self) -> None:
        try:
            for sub in ("checkpoints", "samples"):
                (self.out_dir / sub).mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".write-test"
            probe.write_text("")
            probe.unlink()
            # a write cut short by a kill leaves its temporary file (the checkpoint it was to
            # replace is whole): nothing reads these, and one trainer writes a run at a time
            for stale in checkpoint_dir(self.out_dir).glob(".*.tmp-*"):
                stale.unlink(missing_ok=True)
        except OSError as exc:
            raise DataError(f"output folder {str(self.out_dir)!r} cannot be written: {exc}") from exc

    def write_preview(self, batch: Any) -> list[Path]:
        """Write the GAN's preview samples as ``samples/step-NNNNNN.<ext>``."""
        samples = self.gan.preview(batch, self.n_preview)
        writer = get_modality(self.gan.modality).write_samples
        return writer(samples, self.out_dir / "samples" / f"step-{self.step:06d}", self.gan)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to take the same next steps."""
        gan = self.gan
        return {
            "format": FORMAT, "version": VERSION, "name": gan.name, "modality": gan.modality,
            "config": config_to_dict(gan.config), "train": self.settings, "step": self.step,
            "generator": gan.generator.state_dict(), "discriminator": gan.discriminator.state_dict(),
            "generator_ema": None if gan.generator_ema is None else gan.generator_ema.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "data_position": self.stream.position, "world_size": distributed.world_size(),
            "noise": gan.noise.get_state() if gan.noise is not None else None,
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
        if self.keep_checkpoints:
            for old in sorted(folder.glob("step-*.pt"))[:-self.keep_checkpoints]:
                old.unlink()  # last.pt is a link of its own, so the newest file stays
        return path

    def _resume(self, state: dict[str, Any]) -> None:
        gan = self.gan
        if state["name"] != gan.name:
            raise ConfigError(f"{self.out_dir} holds a {state['name']!r} run, not {gan.name!r}; "
                              "choose another output folder")
        mine = config_to_dict(gan.config)
        changed = sorted(k for k in set(mine) | set(state["config"])
                         if k not in RESUMABLE_CHANGES and mine.get(k) != state["config"].get(k))
        settings = self.settings
        changed += [k for k in RESUME_MUST_MATCH if settings[k] != state["train"].get(k)]
        if changed:
            was = {**state["config"], **state["train"]}
            now = {**mine, **settings}
            diffs = ", ".join(f"{k}: {was.get(k)!r} -> {now.get(k)!r}" for k in changed)
            raise ConfigError(f"{self.out_dir} holds a run with other settings ({diffs}); "
                              "choose another output folder or keep the run's settings")
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
        if state.get("noise") is not None:
            gan.noise.set_state(state["noise"])
        rank, others = distributed.rank(), state.get("rng_other_ranks", [])
        if rank == 0:
            set_rng_state(state["rng"])
        elif rank <= len(others):
            set_rng_state(others[rank - 1])
        else:  # a rank the saved run did not have: a stream of its own from (seed, step)
            distributed.seed_process(self.seed + self.step)


def _positive(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}")
    return value


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
