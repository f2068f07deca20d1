"""``multigan export``: the generator alone, as safetensors, loadable without running code."""

import pytest
import torch
from safetensors import safe_open

import multigan
from multigan.cli import main
from multigan.errors import DataError
from multigan.export import export_generator
from multigan.modalities.text.tokenizer import train_tokenizer

GPT2 = dict(generator="gpt2", vocab_size=28, max_len=6, gpt2_layers=1, gpt2_heads=2, gpt2_width=8,
            d_filter_sizes=(1, 2), d_num_filters=(4, 4))


def test_the_file_holds_tensors_and_the_config_only(tmp_path):
    torch.manual_seed(0)
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=4, d_width=4, ema_decay=0.9)
    multigan.Trainer(gan, out_dir=tmp_path / "run", max_steps=2, batch_size=4, progress=False).fit()
    path = export_generator(gan, tmp_path / "g.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta, keys = f.metadata(), set(f.keys())
    assert meta["format"] == "multigan-generator" and meta["name"] == "dcgan" and '"g_width": 4' in meta["config"]
    assert keys == set(gan.generator_ema.state_dict())         # the EMA weights: what sample() uses
    loaded = multigan.load(path)
    assert torch.equal(loaded.sample(3, seed=1), gan.sample(3, seed=1))


def test_tied_weights_and_a_tokenizer_survive(tmp_path):
    """GPT-2 ties its input and output embeddings (safetensors stores that tensor once), and a
    text corpus's tokenizer travels inside G's state."""
    torch.manual_seed(0)
    gan = multigan.build("seqgan", **GPT2)
    words = "red green blue cat dog bird sees likes the a".split()
    lines = [" ".join(words[(i * k) % len(words)] for k in range(1, 5)) for i in range(200)]
    gan.generator.tokenizer = train_tokenizer(lines, 28)
    model = gan.generator.model
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    loaded = multigan.load(export_generator(gan, tmp_path / "g.safetensors"))
    tied = loaded.generator.model
    assert tied.lm_head.weight.data_ptr() == tied.transformer.wte.weight.data_ptr()
    assert torch.equal(loaded.sample(4, seed=0), gan.sample(4, seed=0))
    assert loaded.decode(loaded.sample(4, seed=0)) == gan.decode(gan.sample(4, seed=0))
    assert loaded.generator.tokenizer.to_bytes() == gan.generator.tokenizer.to_bytes()


def test_bad_exports_are_named(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(DataError, match="not a multigan generator export"):
        multigan.load(tmp_path / "other.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"x\":")
    with pytest.raises(DataError, match="cut.safetensors' is damaged"):
        multigan.load(tmp_path / "cut.safetensors")
    with pytest.raises(DataError, match="does not exist"):
        multigan.load(tmp_path / "none.safetensors")
    torch.manual_seed(0)
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=4, d_width=4)
    multigan.Trainer(gan, out_dir=tmp_path / "run", max_steps=1, batch_size=4, progress=False).fit()
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "g.pt")]) == 2


def test_sample_from_an_export_on_the_command_line(tmp_path, capsys):
    torch.manual_seed(0)
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=4, d_width=4)
    multigan.Trainer(gan, out_dir=tmp_path / "run", max_steps=1, batch_size=4, progress=False).fit()
    assert main(["export", str(tmp_path / "run")]) == 0
    exported = tmp_path / "run" / "generator.safetensors"
    assert capsys.readouterr().out.strip() == str(exported)
    assert main(["sample", str(exported), "--n", "4"]) == 0
    assert (tmp_path / "run" / "samples" / "sample-seed0.png").stat().st_size > 0
