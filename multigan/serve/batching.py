"""Dynamic batching: concurrent requests to one model coalesced into one forward pass.

Each model has one :class:`Batcher`: a queue of :class:`Job` and one worker thread that runs
the network, so the event loop keeps accepting requests while it computes. The worker takes
the first waiting job, waits up to ``max_wait`` for more to join, up to ``max_batch`` samples,
and then, for a family whose sampling separates into per-sample inputs and one pure forward
pass (:meth:`GAN.sampling_inputs`: DCGAN, SNGAN, WaveGAN), draws each job's inputs from its
own seed, concatenates them, runs the generator once and splits the result: a job's samples
are the same whatever it was batched with. Other families (text, vocoders) run their jobs one
after the other in the same worker.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import ConfigError, MultiganError
from ..precision import autocast
from .metrics import ServerMetrics
from .models import ServedModel


@dataclass
class Job:
    """One request's work: ``n`` samples (None: one per condition) for ``cond``, from ``seed``.

    Attributes:
        options: sampling options passed on to ``gan.sample`` (a text family's temperature).
        future: resolved with the samples, or with the error that made them impossible.
        cancelled: set when the request gave up (timed out); the worker skips it.
    """

    n: int | None
    seed: int
    cond: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    future: asyncio.Future | None = None
    cancelled: bool = False

    @property
    def size(self) -> int:
        """Samples this job adds to a batch (a vocoder's one clip per condition counts once)."""
        return self.n or 1


class Batcher:
    """The queue and worker of one model (see the module docstring).

    Args:
        model: the model the jobs are for.
        max_batch: the most samples in one forward pass (a bigger single job runs alone).
        max_wait: seconds the first job of a batch waits for others.
        metrics: where batch sizes, queue depth and sample counts are recorded.
        precision: a resolved precision (``"32"``, ``"bf16-mixed"``, ``"16-mixed"``): the
            forward passes run under its autocast, and floating-point samples come back in fp32.
    """

    def __init__(self, model: ServedModel, max_batch: int, max_wait: float, metrics: ServerMetrics,
                 precision: str = "32"):
        self.model, self.max_batch, self.max_wait, self.metrics = model, max_batch, max_wait, metrics
        self.precision = precision
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"multigan-{model.name}")
        self._getter: asyncio.Future | None = None
        self._carried: Job | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker (after the server has drained its requests) and its thread."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.executor.shutdown(wait=True)

    async def submit(self, job: Job, timeout: float) -> Any:
        """Queue ``job`` and wait for its samples; :class:`asyncio.TimeoutError` after
        ``timeout`` seconds (the job is then skipped if it has not started)."""
        job.future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(job)
        self._gauge()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except asyncio.TimeoutError:
            job.cancelled = True
            raise

    def _gauge(self) -> None:
        self.metrics.queue_depth.labels(self.model.name).set(self.queue.qsize() + (self._carried is not None))

    async def _next(self, timeout: float | None) -> Job | None:
        """The next queued job, or None after ``timeout`` seconds. A pending get is kept for
        the next call rather than cancelled, so no job is lost between the two."""
        if self._carried is not None:
            job, self._carried = self._carried, None
            return job
        if self._getter is None:
            self._getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({self._getter}, timeout=timeout)
        if not done:
            return None
        job, self._getter = self._getter.result(), None
        return job

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._next(None)
            jobs, size = [first], first.size
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                job = await self._next(max(deadline - loop.time(), 0))
                if job is None:
                    break
                if size + job.size > self.max_batch:
                    self._carried = job          # it opens the next batch
                    break
                jobs.append(job)
                size += job.size
            self._gauge()
            jobs = [job for job in jobs if not job.cancelled and not job.future.done()]
            if not jobs:
                continue
            outcomes = await loop.run_in_executor(self.executor, self._generate, jobs)
            for job, outcome in zip(jobs, outcomes):
                if job.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)

    # ------------------------------------------------------------------ in the worker thread
    def _generate(self, jobs: list[Job]) -> list[Any]:
        """Each job's samples, or the exception its request gets."""
        with torch.inference_mode(), autocast(self.precision, self.model.gan.device):
            outcomes = self._separable(jobs) if all(not job.options for job in jobs) else None
            return outcomes if outcomes is not None else [self._alone(job) for job in jobs]

    def _separable(self, jobs: list[Job]) -> list[Any] | None:
        """One forward pass for every job whose inputs could be drawn, or None when the family's
        sampling does not separate (:meth:`GAN.sampling_inputs`)."""
        gan = self.model.gan
        outcomes: list[Any] = [None] * len(jobs)
        inputs = []
        for i, job in enumerate(jobs):
            try:
                drawn = gan.sampling_inputs(job.n, cond=job.cond, rng=self._rng(job.seed))
            except MultiganError as exc:
                outcomes[i] = exc
                continue
            if drawn is None:
                return None
            inputs.append((i, drawn))
        if inputs:
            columns = list(zip(*(drawn for _, drawn in inputs)))
            joined = [None if column[0] is None else torch.cat(column) for column in columns]
            samples = gan.generate_from(*joined)
            sizes = [len(drawn[0]) for _, drawn in inputs]
            self._count(sum(sizes))
            for (i, _), part in zip(inputs, as_fp32(samples).split(sizes)):
                outcomes[i] = part
        return outcomes

    def _alone(self, job: Job) -> Any:
        try:
            samples = self.model.gan.sample(job.n, seed=job.seed, cond=job.cond, **job.options)
        except MultiganError as exc:
            return exc
        except TypeError as exc:   # an option the family does not take
            return ConfigError(f"model {self.model.name!r}: {exc}")
        self._count(len(samples))
        return as_fp32(samples)

    def _rng(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.model.gan.device).manual_seed(seed)

    def _count(self, samples: int) -> None:
        self.metrics.batch_size.labels(self.model.name).observe(samples)
        self.metrics.samples.labels(self.model.name).inc(samples)


def as_fp32(samples: Any) -> Any:
    """Floating-point samples (made under autocast) as fp32; token ids as they are."""
    return samples.float() if isinstance(samples, torch.Tensor) and samples.is_floating_point() else samples
