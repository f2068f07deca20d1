"""``multigan export --format onnx``: every family's graph against PyTorch, in onnxruntime."""

import base64
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import multigan
from multigan.config import config_to_dict
from multigan.errors import ConfigError, DataError
from multigan.modalities.text.tokenizer import EOS, train_tokenizer

import onnx
import onnxruntime as ort

from multigan.cli import main
from multigan.onnx_export import export_onnx, read_metadata, sample_text_onnx

TOLERANCE = 1e-4  # max abs difference, float32
TEXT = dict(vocab_size=28, max_len=6)
TINY = {
    "dcgan": ("dcgan", dict(image_size=32, channels=1, g_width=4, d_width=4)),
    "sngan": ("sngan", dict(image_size=32, channels=1, g_width=8, d_width=8, latent_dim=16, num_classes=3,
                            label_names=("cat", "dog", "fox"))),
    "wavegan": ("wavegan", dict(segment_length=4096, model_size=4, latent_dim=16, post_filter_length=8)),
    "wavegan-labels": ("wavegan", dict(segment_length=4096, model_size=4, latent_dim=16, num_classes=3)),
    "melgan": ("melgan", dict(g_width=4, residual_layers=2, d_width=4, num_d=1)),
    "hifigan": ("hifigan", dict(initial_channels=16, mpd_width=2, msd_scales=1, msd_width=16, segment_length=2048)),
    "seqgan": ("seqgan", dict(TEXT, g_embed_dim=8, g_hidden_dim=8, d_filter_sizes=(1, 2), d_num_filters=(4, 4))),
    "relgan": ("relgan", dict(TEXT, g_embed_dim=8, mem_slots=2, num_heads=2, head_size=4, d_embed_dim=8,
                              d_representations=2, d_filter_sizes=(2, 3), d_num_filters=(4, 4), d_hidden=4)),
}


def _build(key: str):
    name, overrides = TINY[key]
    torch.manual_seed(0)
    gan = multigan.build(name, **overrides)
    with torch.no_grad():
        for module in gan.generator.modules():  # BatchNorm statistics other than 0 and 1
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        for key_name, p in gan.generator.named_parameters():  # SNGAN's class tables start equal for every class
            if ".gamma." in key_name or ".beta." in key_name:
                p.add_(0.3 * torch.randn_like(p))
        if key == "dcgan":  # the EMA copy, away from G: what sample() uses, so what is exported
            for p in gan.add_ema().parameters():
                p.add_(0.05 * torch.randn_like(p))
        if key == "seqgan":  # a tokenizer (start token BOS, EOS ends a sequence), and EOS frequent
            words = "red green blue cat dog bird sees likes the a".split()
            lines = [" ".join(words[(i * k) % len(words)] for k in range(1, 5)) for i in range(200)]
            gan.tokenizer = train_tokenizer(lines, TEXT["vocab_size"])
            gan.generator.lm.head.bias[EOS] += 2.0
    return gan.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``key`` -> (gan, path of its export, an onnxruntime session of it); each family exported once."""
    folder, cache = tmp_path_factory.mktemp("onnx"), {}

    def get(key: str):
        if key not in cache:
            gan = _build(key)
            path = export_onnx(gan, folder / f"{key}.onnx")
            cache[key] = gan, path, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return cache[key]
    return get


def _max_diff(onnx_out: np.ndarray, torch_out: torch.Tensor) -> float:
    assert onnx_out.shape == tuple(torch_out.shape) and onnx_out.dtype == np.float32
    return float(np.abs(onnx_out - torch_out.numpy()).max())


# ---------------------------------------------------------------------- latent families
@pytest.mark.parametrize("key", ["dcgan", "sngan", "wavegan", "wavegan-labels"])
def test_latent_graphs_match_pytorch_at_any_batch_size(exported, key):
    gan, _, session = exported(key)
    classes = getattr(gan.config, "num_classes", 0)
    assert [i.name for i in session.get_inputs()] == (["z", "labels"] if classes else ["z"])
    rng = torch.Generator().manual_seed(1)
    for n in (1, 3):
        z = gan.latent(n, rng)
        feed, args = {"z": z.numpy()}, (z,)
        if classes:
            labels = torch.tensor([2, 0, 1][:n])
            feed["labels"], args = labels.numpy(), (z, labels)
        (out,) = session.run(None, feed)
        with torch.no_grad():
            assert _max_diff(out, gan.sampling_generator(*args)) <= TOLERANCE
            if gan.generator_ema is not None:  # the EMA weights were exported, not G's
                assert _max_diff(out, gan.generator(*args)) > 1e-3


def test_conditional_graphs_follow_the_labels(exported):
    gan, _, session = exported("sngan")
    z = np.repeat(gan.latent(1, torch.Generator().manual_seed(2)).numpy(), 3, axis=0)
    (out,) = session.run(None, {"z": z, "labels": np.array([0, 1, 2], dtype=np.int64)})
    assert np.abs(out[0] - out[1]).max() > 1e-3 and np.abs(out[1] - out[2]).max() > 1e-3


# ---------------------------------------------------------------------- vocoders
@pytest.mark.parametrize("key", ["melgan", "hifigan"])
def test_vocoder_graphs_match_pytorch_at_any_batch_size_and_length(exported, key):
    gan, path, session = exported(key)
    least = read_metadata(path)["min_frames"]
    assert least == (4 if key == "melgan" else 1)  # MelGAN reflection-pads its mel by 3 frames
    rng = torch.Generator().manual_seed(3)
    for n, frames in ((1, least), (3, least), (1, 9), (3, 9)):
        mel = torch.randn(n, gan.config.mel.n_mels, frames, generator=rng) - 4.0
        (out,) = session.run(None, {"mel": mel.numpy()})
        assert out.shape == (n, 1, frames * gan.config.mel.hop_length)
        with torch.no_grad():
            assert _max_diff(out, gan.sample(cond=mel)) <= TOLERANCE


# ---------------------------------------------------------------------- text
def _initial_state(meta: dict, n: int) -> dict:
    return {s["input"]: np.repeat(np.asarray(s["initial"], np.float32), n, axis=s["batch_axis"])
            for s in meta["state"]}


def _flat(state) -> list:
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("key", ["seqgan", "relgan"])
def test_the_one_step_graph_matches_pytorch_step_by_step(exported, key):
    gan, path, session = exported(key)
    meta = read_metadata(path)
    g = gan.sampling_generator
    assert meta["start_token"] == g.start_token and meta["eos_token"] == g.eos and meta["pad_token"] == g.pad
    outputs = ["logits"] + [s["output"] for s in meta["state"]]
    for n in (1, 3):
        tokens = torch.randint(TEXT["vocab_size"], (5, n), generator=torch.Generator().manual_seed(n))
        tokens[0] = g.start_token
        feed_state, state = _initial_state(meta, n), None
        for step in tokens:  # the same tokens into both, for several steps
            logits, *new = session.run(outputs, {"tokens": step.numpy(), **feed_state})
            with torch.no_grad():
                torch_logits, state = g.step(step, state)
            assert _max_diff(logits, torch_logits) <= TOLERANCE
            for a, b in zip(new, _flat(state)):
                assert _max_diff(a, b) <= TOLERANCE
            feed_state = {s["input"]: value for s, value in zip(meta["state"], new)}


def _pytorch_decoding(g, n: int, length: int, seed: int, temperature: float) -> torch.Tensor:
    """TextGenerator.sample with sample_categorical's reference, its uniforms drawn as
    sample_text_onnx draws them."""
    uniforms = np.random.default_rng(seed)
    logits, state = g.start(n)
    done, out = torch.zeros(n, dtype=torch.bool), []
    for t in range(length):
        scaled = logits.float() / temperature
        cdf = (scaled - scaled.amax(dim=1, keepdim=True)).exp().cumsum(dim=1)
        u = torch.from_numpy(uniforms.random(n, dtype=np.float32))[:, None]
        token = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp(max=cdf.shape[1] - 1).squeeze(1)
        token = torch.where(done, torch.full_like(token, g.pad), token)
        if g.eos is not None:
            done = done | (token == g.eos)
        out.append(token)
        if t < length - 1:
            logits, state = g.step(token, state)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("key", ["seqgan", "relgan"])
def test_the_decoding_loop_samples_like_pytorch(exported, key):
    gan, path, session = exported(key)
    ids = sample_text_onnx(path, 5, seed=0)
    assert ids.shape == (5, TEXT["max_len"]) and ids.dtype == np.int64
    assert ids.min() >= 0 and ids.max() < TEXT["vocab_size"]
    assert np.array_equal(ids, sample_text_onnx(session, 5, seed=0))
    assert not np.array_equal(ids, sample_text_onnx(session, 5, seed=1))
    with torch.no_grad():
        for temperature in (1.0, 0.7):
            reference = _pytorch_decoding(gan.sampling_generator, 5, TEXT["max_len"], 4, temperature)
            assert np.array_equal(sample_text_onnx(session, 5, seed=4, temperature=temperature), reference.numpy())
    if key == "seqgan":  # PAD after the first EOS; decodable with the tokenizer the file carries
        after_eos = gan.generator.token_mask(torch.from_numpy(ids)) == 0
        assert after_eos.any() and (ids[after_eos.numpy()] == gan.generator.pad).all()
        assert len(gan.decode(torch.from_numpy(ids))) == 5


def test_the_documented_loop_runs_and_is_sample_text_onnx(exported, tmp_path, monkeypatch):
    """The decoding loop in docs/export.md ("ONNX"), run as written on a SeqGAN export."""
    docs = Path(__file__).resolve().parent.parent / "docs"
    blocks = [block.split("\n", 1)[1] for doc in sorted(docs.glob("*.md"))
              for block in doc.read_text(encoding="utf-8").split("```")[1::2] if block.startswith("python")]
    (loop,) = [block for block in blocks if "custom_metadata_map" in block]
    _, path, _ = exported("seqgan")
    shutil.copy(path, tmp_path / "seqgan.onnx")  # the name the snippet opens
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(loop, namespace)
    assert np.array_equal(namespace["ids"], sample_text_onnx(path, 8, seed=0))


# ---------------------------------------------------------------------- metadata and errors
@pytest.mark.parametrize("key", ["sngan", "melgan", "seqgan"])
def test_the_metadata_round_trips(exported, key):
    gan, path, session = exported(key)
    meta = read_metadata(path)
    assert meta == read_metadata(session)
    assert (meta["format"], meta["name"], meta["modality"], meta["opset"]) == ("multigan-onnx", gan.name,
                                                                                gan.modality, 18)
    assert meta["config"] == config_to_dict(gan.config)
    assert multigan.build(meta["name"], **meta["config"]).config == gan.config
    assert [p["name"] for p in meta["inputs"]] == [i.name for i in session.get_inputs()]
    assert [p["name"] for p in meta["outputs"]] == [o.name for o in session.get_outputs()]
    assert all(p["meaning"] for p in meta["inputs"] + meta["outputs"])
    raw = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert raw["format"] == "multigan-onnx" and raw["name"] == gan.name
    if key == "sngan":
        assert meta["label_names"] == ["cat", "dog", "fox"]
    if key == "seqgan":
        assert base64.b64decode(meta["tokenizer"]) == gan.tokenizer.to_bytes()


def test_a_path_that_cannot_be_a_file_is_refused_and_nothing_is_written(tmp_path):
    gan = multigan.build("dcgan", **TINY["dcgan"][1])
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("kept")
    with pytest.raises(ConfigError, match="is a folder"):
        export_onnx(gan, tmp_path / "folder")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        export_onnx(gan, tmp_path / "file" / "g.onnx")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file", "folder"]
    assert (tmp_path / "file").read_text() == "kept"


def test_missing_packages_name_the_extra(tmp_path, monkeypatch, exported):
    _, path, _ = exported("relgan")
    gan = multigan.build("dcgan", **TINY["dcgan"][1])
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # imports of it now fail
    with pytest.raises(ConfigError, match='pip install "multigan\\[onnx\\]"') as error:
        export_onnx(gan, tmp_path / "g.onnx")
    assert "\n" not in str(error.value) and not (tmp_path / "g.onnx").exists()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match='pip install "multigan\\[onnx\\]"'):
        sample_text_onnx(path, 2, seed=0)


def test_what_cannot_be_exported_or_sampled_is_named(tmp_path, exported):
    gpt2 = multigan.build("seqgan", generator="gpt2", vocab_size=28, max_len=6, gpt2_layers=1, gpt2_heads=2,
                          gpt2_width=8, d_filter_sizes=(1, 2), d_num_filters=(4, 4))
    with pytest.raises(ConfigError, match="GPT-2 generator has no ONNX export") as error:
        export_onnx(gpt2, tmp_path / "g.onnx")
    assert "\n" not in str(error.value) and not (tmp_path / "g.onnx").exists()
    _, image, _ = exported("dcgan")
    _, text, _ = exported("relgan")
    with pytest.raises(ConfigError, match="sample_text_onnx runs text exports"):
        sample_text_onnx(image, 2, seed=0)
    for bad in (dict(n=0), dict(n=2, temperature=0.0)):
        with pytest.raises(ConfigError):
            sample_text_onnx(text, seed=0, **bad)
    with pytest.raises(DataError, match="does not exist"):
        sample_text_onnx(tmp_path / "none.onnx", 2, seed=0)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match="not an ONNX model"):
        read_metadata(tmp_path / "junk.onnx")
    model = onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], []))
    onnx.save(model, str(tmp_path / "other.onnx"))
    with pytest.raises(DataError, match="not a multigan ONNX export"):
        read_metadata(tmp_path / "other.onnx")


def test_the_export_command_writes_a_run_s_graph(tmp_path, capsys):
    run = tmp_path / "run"
    settings = dict(data="digits", out_dir=run, batch_size=4, progress=False, sample_every=0)
    multigan.Trainer(multigan.build("dcgan", **TINY["dcgan"][1]), max_steps=1, **settings).fit()
    capsys.readouterr()
    assert main(["export", str(run), "--format", "onnx"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == run / "generator.onnx"
    gan = multigan.load(run)
    z = torch.randn(3, gan.config.latent_dim)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: z.numpy()})
    with torch.no_grad():
        assert _max_diff(out, gan.sampling_generator(z)) <= TOLERANCE
