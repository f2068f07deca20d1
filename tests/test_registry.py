import pytest
import torch

import multigan
from multigan import registry
from multigan.errors import ConfigError, DataError, MultiganError, TrainingError, UnknownModelError


def test_list_models_is_sorted_and_filters_by_modality():
    names = multigan.list_models()
    assert names == sorted(names) and "dcgan" in names
    assert multigan.list_models(modality="image") == sorted(
        n for n in names if registry.model_entry(n).modality == "image")
    assert "dcgan" in multigan.list_models(modality="image")


def test_build_sets_name_and_modality():
    gan = multigan.build("dcgan")
    assert (gan.name, gan.modality) == ("dcgan", "image")
    assert isinstance(gan, multigan.GAN)
    assert isinstance(gan.generator, torch.nn.Module) and isinstance(gan.discriminator, torch.nn.Module)


def test_unknown_model_suggests_close_matches():
    with pytest.raises(UnknownModelError) as err:
        multigan.build("dcgna")
    assert "'dcgna'" in str(err.value) and "Did you mean 'dcgan'" in str(err.value)


def test_unknown_modality_suggests_close_matches():
    with pytest.raises(UnknownModelError, match="Did you mean 'image'"):
        multigan.list_models(modality="imag")


def test_every_error_is_a_multigan_error():
    for cls in (UnknownModelError, ConfigError, DataError, TrainingError):
        assert issubclass(cls, MultiganError)
    assert multigan.MultiganError is MultiganError


def test_registering_a_taken_name_is_refused():
    with pytest.raises(MultiganError, match="already registered"):
        multigan.register_model("dcgan", modality="image")(lambda **kw: None)


def test_a_factory_must_return_a_gan():
    multigan.register_model("not-a-gan", modality="image")(lambda **kw: object())
    try:
        with pytest.raises(MultiganError, match="not a multigan.GAN"):
            multigan.build("not-a-gan")
    finally:
        registry._models.pop("not-a-gan")


def test_list_models_filters_by_pattern_as_timm_does():
    assert multigan.list_models("*gan*") == multigan.list_models()
    assert multigan.list_models("mel*") == ["melgan"]
    assert multigan.list_models("*wave*", modality="audio") == ["wavegan"]
    assert multigan.list_models("*wave*", modality="image") == []


def test_every_builtin_family_registers_its_config_class():
    for name in multigan.list_models():
        entry = registry.model_entry(name)
        assert type(multigan.build(name).config) is entry.config, name


def test_list_options_prints_every_field_with_type_default_and_doc(capsys):
    from multigan.cli import main

    assert main(["list", "--options", "dcgan"]) == 0
    out = capsys.readouterr().out
    for field in ("image_size", "channels", "latent_dim", "lr_g", "betas_g", "loss"):
        assert f"  {field} " in out, field
    assert "image_size  " in out and "an integer, default 64: height and width in pixels" in out
    assert "(one of non_saturating, minimax, hinge, wasserstein, least_squares)" in out
    assert "precision" in out and "kernels" in out        # the training settings follow
    assert main(["list", "--options", "melgan"]) == 0
    assert "mel.n_mels" in capsys.readouterr().out       # nested fields as dotted keys
    assert main(["list", "*wave*"]) == 0
    assert capsys.readouterr().out.split() == ["wavegan", "audio"]
