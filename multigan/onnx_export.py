"""A trained generator as an ONNX graph: ``multigan export RUN --format onnx``.

:func:`export_onnx` writes one ``.onnx`` file per generator, the one :meth:`GAN.sample` uses
(the EMA copy when the run kept one), with its reparametrisations folded into plain weights
and plain PyTorch ops only (no Triton kernel), in float32. What the graph computes depends on
the family's kind:

- latent families (DCGAN, SNGAN, WaveGAN): latent vectors ``z`` (and int64 ``labels`` when the
  config's ``num_classes`` is above 0) to samples, any batch size;
- mel vocoders (MelGAN, HiFi-GAN): a log-mel ``mel`` to waveforms, any batch size and length;
- autoregressive text families (SeqGAN's LSTM, RelGAN): one step of the generator, the
  previous tokens and the recurrent state to the next token's logits and the next state.
  :func:`sample_text_onnx` runs the decoding loop around it with onnxruntime.

The file's ``metadata_props`` say what it holds (:func:`read_metadata` reads them back): the
format, the family, its modality and config, each input and output with its shape and
meaning, and what the kind needs besides (label names; a text family's start token, end and
padding tokens, initial state and tokenizer). docs/export.md ("ONNX") lists every graph.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from .config import config_to_dict
from .errors import ConfigError, DataError
from .files import check_new_file, write_bytes_atomic
from .gan import GAN, LatentGAN
from .inference import fold_parametrizations
from .labels import names_of
from .modalities.audio.contract import AudioGAN
from .modalities.text.generators import GPT2Generator, LSTMGenerator
from .modalities.text.relational_memory import RelationalMemoryGenerator

FORMAT = "multigan-onnx"
VERSION = "1"
#: The ONNX opset the graphs are written in: the one torch.onnx's function library implements,
#: so no version conversion runs
OPSET = 18
INSTALL = 'pip install "multigan[onnx]"'
#: Metadata values stored as plain text; every other value is JSON
TEXT_KEYS = ("format", "version", "name", "modality", "kind", "tokenizer")
#: The most mel frames tried when looking for the fewest a vocoder accepts
MAX_MIN_FRAMES = 64
SUPPORTED = ("latent families (DCGAN, SNGAN, WaveGAN), mel vocoders (MelGAN, HiFi-GAN), and SeqGAN's LSTM and "
             "RelGAN's relational-memory text generators")


# ---------------------------------------------------------------------- the graphs' modules
class LatentGraph(nn.Module):
    """``(z, labels)`` or ``z`` -> samples: a latent family's generator, labels given when the
    family is class-conditional (its generator would otherwise pick them itself)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.generator(z) if labels is None else self.generator(z, labels)


class VocoderGraph(nn.Module):
    """``mel`` (N, n_mels, frames) -> waveforms (N, 1, frames * hop)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, mel: Tensor) -> Tensor:
        return self.generator(mel)


class TextStepGraph(nn.Module):
    """One step of a text generator: ``(tokens (N,), *state)`` -> ``(logits (N, V), *next_state)``,
    the state as flat tensors (an LSTM's ``h`` and ``c``, RelGAN's ``memory``)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, tokens: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        # a generator's state is one tensor, or a tuple of them (the LSTM's (h, c))
        logits, new = self.generator.step(tokens, state if len(state) > 1 else state[0])
        return (logits, *(new if isinstance(new, tuple) else (new,)))


@dataclass
class _Graph:
    """What :func:`export_onnx` traces: the module, example inputs, the dynamic axes of each
    input (axis -> name), the inputs' and outputs' descriptions, the kind's metadata, and the
    least size of a dynamic axis where it is not 1 (by name)."""

    module: nn.Module
    args: tuple[Tensor, ...]
    axes: tuple[dict[int, str], ...]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    min_sizes: dict[str, int] = field(default_factory=dict)


def _port(name: str, dtype: str, shape: list, meaning: str) -> dict[str, Any]:
    return {"name": name, "dtype": dtype, "shape": shape, "meaning": meaning}


# ---------------------------------------------------------------------- export
def export_onnx(gan: GAN, path: str | os.PathLike) -> Path:
    """Write ``gan``'s sampling generator to ``path`` as an ONNX graph (see the module
    docstring and docs/export.md), written atomically; returns the path.

    Args:
        gan: a built or loaded GAN of a supported kind (latent, mel vocoder, SeqGAN's LSTM or
            RelGAN); it is left as it was (the graph is traced from a folded copy, on the CPU).
        path: the file to write (any name; ``.onnx`` by convention).

    Raises:
        ConfigError: ``path`` is a folder or lies under a file, the onnx packages are missing
            (``pip install "multigan[onnx]"``), or the family cannot be exported; nothing is
            written.
    """
    path = check_new_file(path, ".onnx")
    _require("onnx", "onnxscript")
    net = fold_parametrizations(gan.sampling_generator).cpu()
    # plain PyTorch ops only, what GAN.use_kernels("eager") sets; set here on the copy, since
    # use_kernels on an inference_copy would also reach the discriminator it shares with gan
    for module in net.modules():
        if isinstance(getattr(module, "impl", None), str):
            module.impl = "ref"
    graph = _graph(gan, net)
    proto = _trace(graph)
    metadata = {"format": FORMAT, "version": VERSION, "name": gan.name, "modality": gan.modality,
                "config": config_to_dict(gan.config), "opset": OPSET, "inputs": graph.inputs,
                "outputs": graph.outputs, **graph.metadata}
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if key in TEXT_KEYS else json.dumps(value)
    proto.doc_string = f"multigan {gan.name} generator ({metadata['kind']})"
    return write_bytes_atomic(path, proto.SerializeToString())


def _require(*packages: str) -> None:
    """Import ``packages``, or raise the :class:`ConfigError` that says how to install them."""
    for package in packages:
        try:
            importlib.import_module(package)
        except ImportError:
            raise ConfigError(f"ONNX needs the {package} package, which is not installed: {INSTALL}") from None


def _graph(gan: GAN, net: nn.Module) -> _Graph:
    """The :class:`_Graph` of ``gan``'s kind, around its folded generator ``net``."""
    if isinstance(gan, LatentGAN):
        return _latent_graph(gan, net)
    if isinstance(gan, AudioGAN) and gan.condition == "mel":
        return _vocoder_graph(gan, net)
    if isinstance(net, (LSTMGenerator, RelationalMemoryGenerator)):
        return _text_graph(net)
    if isinstance(net, GPT2Generator):
        raise ConfigError(f"{gan.name}: the GPT-2 generator has no ONNX export (its state, a key/value cache that "
                          f"grows each step, is not supported; the LSTM generator's is): export this model as "
                          f"safetensors or hf instead")
    raise ConfigError(f"{gan.name or type(gan).__name__}: no ONNX export for this kind of generator; supported: "
                      f"{SUPPORTED}")


def _latent_graph(gan: LatentGAN, net: nn.Module) -> _Graph:
    """``z`` (and ``labels`` when class-conditional) -> samples, any batch size."""
    dim, classes = gan.config.latent_dim, gan.label_classes
    z = torch.zeros(2, dim)
    distribution = {"normal": "N(0, I)", "uniform": "U(-1, 1)"}[gan.latent_distribution]
    inputs = [_port("z", "float32", ["batch", dim], f"latent vectors, z ~ {distribution}")]
    args: tuple[Tensor, ...] = (z,)
    metadata: dict[str, Any] = {"kind": "latent", "latent_distribution": gan.latent_distribution}
    if classes:
        args += (torch.arange(2) % classes,)
        inputs.append(_port("labels", "int64", ["batch"], f"class indices in [0, {classes}), one per sample"))
        metadata["label_names"] = list(names_of(getattr(gan.config, "label_names", ()), classes))
    with torch.no_grad():
        shape = list(LatentGraph(net)(*args).shape[1:])
    if isinstance(gan, AudioGAN):
        name, meaning = "waveforms", f"waveforms in [-1, 1] at {gan.sample_rate} Hz"
    else:
        name, meaning = ("images", "images in [-1, 1]") if gan.modality == "image" else ("samples", "samples")
    return _Graph(LatentGraph(net), args, ({0: "batch"},) * len(args), inputs,
                  [_port(name, "float32", ["batch", *shape], meaning)], metadata)


def _vocoder_graph(gan: AudioGAN, net: nn.Module) -> _Graph:
    """``mel`` -> waveforms, any batch size and number of frames (from the fewest ``net`` takes)."""
    mel = gan.mel_config
    least = _fewest_frames(net, mel.n_mels)
    example = torch.zeros(2, mel.n_mels, max(least, 3) + 8)  # sizes no other axis has
    inputs = [_port("mel", "float32", ["batch", mel.n_mels, "frames"],
                    f"log-mel spectrograms as the model's mel front end computes them (gan.mel(waveform); the "
                    f"config's mel), frames >= {least}")]
    outputs = [_port("waveforms", "float32", ["batch", 1, f"{mel.hop_length}*frames"],
                     f"waveforms in [-1, 1] at {mel.sample_rate} Hz")]
    metadata = {"kind": "vocoder", "sample_rate": mel.sample_rate, "hop_length": mel.hop_length,
                "min_frames": least}
    return _Graph(VocoderGraph(net), (example,), ({0: "batch", 2: "frames"},), inputs, outputs, metadata,
                  {"frames": least})


def _fewest_frames(net: nn.Module, n_mels: int) -> int:
    """The fewest mel frames ``net`` vocodes: 1, unless a layer needs more (MelGAN's reflection
    padding needs more frames than it pads)."""
    for frames in range(1, MAX_MIN_FRAMES + 1):
        try:
            with torch.no_grad():
                net(torch.zeros(1, n_mels, frames))
            return frames
        except RuntimeError:
            continue
    raise ConfigError(f"the generator vocodes no mel of up to {MAX_MIN_FRAMES} frames; it cannot be exported")


def _text_graph(net: LSTMGenerator | RelationalMemoryGenerator) -> _Graph:
    """``(tokens, *state)`` -> ``(logits, *next_state)``, any batch size; the metadata holds what
    the decoding loop needs (start, end and padding tokens, the initial state, the tokenizer)."""
    # each state tensor: (name, batch axis, its initial value for one sequence)
    if isinstance(net, LSTMGenerator):
        lstm = net.lm.lstm
        zeros = torch.zeros(lstm.num_layers, 1, lstm.hidden_size)
        states = [("h", 1, zeros), ("c", 1, zeros)]
        meaning = {"h": "the LSTM's hidden state", "c": "the LSTM's cell state"}
    else:
        states = [("memory", 0, net.memory.initial_memory(1, torch.device("cpu")))]
        meaning = {"memory": "the relational memory (slots x heads * head_size)"}
    args = (torch.zeros(2, dtype=torch.long),) + tuple(init.repeat_interleave(2, axis) for _, axis, init in states)
    axes = ({0: "batch"},) + tuple({axis: "batch"} for _, axis, _ in states)
    with torch.no_grad():
        vocab = TextStepGraph(net)(*args)[0].shape[1]

    def shape(init: Tensor, axis: int) -> list:
        return ["batch" if i == axis else size for i, size in enumerate(init.shape)]

    inputs = [_port("tokens", "int64", ["batch"], "the previous token of each sequence (the start token first)")]
    inputs += [_port(name, "float32", shape(init, axis), meaning[name] + " before the token")
               for name, axis, init in states]
    outputs = [_port("logits", "float32", ["batch", vocab], "unnormalised log-probabilities of the next token")]
    outputs += [_port(f"next_{name}", "float32", shape(init, axis), meaning[name] + " after the token")
                for name, axis, init in states]
    tokenizer = net.tokenizer
    metadata = {"kind": "text-step", "vocab_size": vocab, "start_token": net.start_token, "eos_token": net.eos,
                "pad_token": net.pad,
                "state": [{"input": name, "output": f"next_{name}", "batch_axis": axis, "initial": init.tolist()}
                          for name, axis, init in states]}
    if tokenizer is not None:
        metadata["tokenizer"] = base64.b64encode(tokenizer.to_bytes()).decode("ascii")
    return _Graph(TextStepGraph(net), args, axes, inputs, outputs, metadata)


def _trace(graph: _Graph):
    """The ONNX ``ModelProto`` of ``graph``.

    torch.export (non-strict) captures the graph first, then torch.onnx's dynamo exporter
    translates it. Given a module, torch.onnx.export(dynamo=True) would quietly fall back to a
    fixed batch size when a dynamic axis cannot stay dynamic, and the TorchScript exporter
    (dynamo=False, deprecated) bakes Python ints such as ``len(z)`` into the graph; here such an
    axis is an error at export time.
    """
    dims = {name: torch.export.Dim(name, min=graph.min_sizes.get(name, 1))
            for axes in graph.axes for name in axes.values()}
    shapes = torch.export.ShapesCollection()  # by example tensor: whatever the forward's signature
    for arg, axes in zip(graph.args, graph.axes):
        shapes[arg] = {axis: dims[name] for axis, name in axes.items()}
    dynamic = shapes.dynamic_shapes(graph.module, graph.args)
    names = [port["name"] for port in graph.inputs]
    with _quiet_exporter(), torch.no_grad():
        program = torch.export.export(graph.module, graph.args, dynamic_shapes=dynamic, strict=False)
        onnx_program = torch.onnx.export(program, graph.args, dynamo=True, opset_version=OPSET, verbose=False,
                                         input_names=names, output_names=[port["name"] for port in graph.outputs],
                                         dynamic_shapes=dynamic)
    return onnx_program.model_proto


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress notes and warnings (a missing torchvision, which no
    multigan graph uses); errors still raise."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------------- reading and running
def read_metadata(source: Any) -> dict[str, Any]:
    """The metadata :func:`export_onnx` stored, JSON values decoded.

    Args:
        source: an ONNX file's path, or an ``onnxruntime.InferenceSession`` of one.

    Raises:
        DataError: the file is missing, not ONNX, or not a multigan export.
    """
    if isinstance(source, (str, os.PathLike)):
        _require("onnx")
        import onnx

        path = _existing(source)
        try:
            props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        except Exception as exc:  # noqa: BLE001 - onnx raises protobuf's errors for a file that is not ONNX
            raise DataError(f"{str(path)!r} is not an ONNX model ({type(exc).__name__}: {exc})") from None
        where = str(path)
    else:
        props, where = dict(source.get_modelmeta().custom_metadata_map), "this ONNX model"
    if props.get("format") != FORMAT:
        raise DataError(f"{where} is not a multigan ONNX export (its metadata has no format {FORMAT!r})")
    return {key: value if key in TEXT_KEYS else json.loads(value) for key, value in props.items()}


def sample_text_onnx(source: Any, n: int, *, seed: int, temperature: float = 1.0) -> np.ndarray:
    """``n`` sequences of token ids from a text export, by the decoding loop of docs/export.md
    run with onnxruntime: (n, max_len) int64, PAD after an EOS where the model has a tokenizer.

    It mirrors ``gan.sample(n, temperature=...)``: start from the start token and the initial
    state, draw each token from ``softmax(logits / temperature)`` by inverting its cumulative
    distribution at a uniform draw, feed it back. The uniforms come from NumPy's generator
    seeded with ``seed``, so the samples follow the PyTorch model's distribution and are
    reproducible by ``seed``, but are not ``gan.sample(seed=seed)``'s.

    Args:
        source: the ``.onnx`` file of a SeqGAN or RelGAN export, or an
            ``onnxruntime.InferenceSession`` of one.
        n: sequences to sample (>= 1).
        seed: seeds the random draws.
        temperature: above 0; below 1 sharper, above 1 flatter than the model.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"sample_text_onnx needs a number of sequences >= 1, got {n!r}")
    if not temperature > 0:
        raise ConfigError(f"temperature must be positive, got {temperature!r}")
    session = _session(source)
    meta = read_metadata(session)
    if meta["kind"] != "text-step":
        raise ConfigError(f"this ONNX export is a {meta['name']} {meta['kind']} graph; sample_text_onnx runs text "
                          f"exports (seqgan, relgan)")
    rng = np.random.default_rng(seed)
    state = {s["input"]: np.repeat(np.asarray(s["initial"], np.float32), n, axis=s["batch_axis"])
             for s in meta["state"]}
    outputs = ["logits"] + [s["output"] for s in meta["state"]]
    eos, pad = meta["eos_token"], meta["pad_token"]
    tokens = np.full(n, meta["start_token"], dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    out = []
    for _ in range(meta["config"]["max_len"]):
        logits, *new = session.run(outputs, {"tokens": tokens, **state})
        state = {s["input"]: value for s, value in zip(meta["state"], new)}
        # invert the cumulative distribution of softmax(logits / T) at a uniform draw, as
        # multigan.kernels.sample_categorical's reference does
        scaled = logits / np.float32(temperature)
        cdf = np.exp(scaled - scaled.max(axis=1, keepdims=True)).cumsum(axis=1)
        target = rng.random(n, dtype=np.float32)[:, None] * cdf[:, -1:]
        tokens = np.minimum((cdf <= target).sum(axis=1), cdf.shape[1] - 1).astype(np.int64)
        tokens = np.where(done, pad, tokens)
        if eos is not None:
            done |= tokens == eos
        out.append(tokens)
    return np.stack(out, axis=1)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{str(path)!r} does not exist" if not path.exists() else f"{str(path)!r} is not a file")
    return path


def _session(source: Any):
    """``source`` if it is an onnxruntime session, else a CPU session of the file it names."""
    if not isinstance(source, (str, os.PathLike)):
        return source
    _require("onnxruntime")
    import onnxruntime

    path = _existing(source)
    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types, for a file that is not a model
        raise DataError(f"{str(path)!r} is not an ONNX model onnxruntime can run ({exc})") from None
