import dataclasses
import json

import pytest

import multigan
from multigan.config import config_to_dict, make_config, parse_set_options
from multigan.errors import ConfigError
from multigan.modalities.image.dcgan import DCGANConfig


def test_defaults_are_the_papers_settings():
    c = multigan.build("dcgan").config
    assert (c.image_size, c.channels, c.latent_dim) == (64, 3, 100)
    assert (c.lr_g, c.lr_d, c.betas_g, c.betas_d, c.batch_size) == (2e-4, 2e-4, (0.5, 0.999), (0.5, 0.999), 128)
    assert c.loss == "non_saturating"


def test_keyword_overrides():
    gan = multigan.build("dcgan", image_size=32, channels=1, lr_g=1e-4, betas_d=[0.0, 0.9])
    assert (gan.config.image_size, gan.config.channels, gan.config.lr_g) == (32, 1, 1e-4)
    assert gan.config.betas_d == (0.0, 0.9)
    assert gan.sample(2, seed=0).shape == (2, 1, 32, 32)


def test_unknown_key_names_the_key_close_matches_and_valid_keys():
    with pytest.raises(ConfigError) as err:
        multigan.build("dcgan", imagesize=32)
    msg = str(err.value)
    assert "'imagesize'" in msg and "'image_size'" in msg and "latent_dim" in msg and "Valid keys" in msg


@pytest.mark.parametrize("key, value, allowed", [
    ("channels", 2, "allowed: 1, 3"),
    ("loss", "hinj", "'hinge'"),
    ("lr_g", -1.0, "> 0"),
    ("latent_dim", "many", "expected an integer"),
    ("betas_g", (0.5,), "2 comma-separated values"),
    ("image_size", 48, "power of two"),
    ("batch_size", True, "expected an integer"),
])
def test_bad_values_name_key_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(ConfigError) as err:
        multigan.build("dcgan", **{key: value})
    msg = str(err.value)
    assert repr(key) in msg and allowed in msg
    if key != "image_size":
        assert repr(value) in msg


def test_string_values_from_the_command_line_are_converted_by_type():
    overrides = parse_set_options(["image_size=32", "lr_d=1e-4", "betas_g=0.0,0.9", "loss=hinge",
                                   "ema_decay=0.999"])
    c = make_config(DCGANConfig, overrides)
    assert c.image_size == 32 and isinstance(c.image_size, int)
    assert c.lr_d == 1e-4 and c.betas_g == (0.0, 0.9) and c.loss == "hinge" and c.ema_decay == 0.999


@pytest.mark.parametrize("item", ["noequals", "=3"])
def test_malformed_set_option(item):
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_options([item])


def test_config_is_json_able_and_round_trips():
    c = multigan.build("dcgan", image_size=32, betas_g=(0.1, 0.2)).config
    text = json.dumps(dataclasses.asdict(c))
    back = make_config(DCGANConfig, json.loads(text))
    assert back == c
    assert config_to_dict(c)["betas_g"] == [0.1, 0.2]


@pytest.mark.parametrize("key, value", [("lr_g", "nan"), ("lr_d", float("inf")), ("betas_g", "nan,0.9"),
                                        ("ema_decay", float("nan"))])
def test_non_finite_numbers_are_refused(key, value):
    with pytest.raises(ConfigError, match=f"'{key}'.*a finite number"):
        multigan.build("dcgan", **{key: value})


def test_adam_betas_must_be_below_one():
    with pytest.raises(ConfigError, match="'betas_d'.*< 1"):
        multigan.build("dcgan", betas_d=(0.5, 1.0))
