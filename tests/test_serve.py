"""multigan serve: a real server on a free loopback port, started and stopped by the tests;
every endpoint and every error case; concurrent requests batched (read from /metrics); seeds
reproducible under batching; SIGTERM drains; the bounded load test."""

import asyncio
import base64
import io
import json
import signal
import socket
import time
import zipfile

import httpx
import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

import multigan
from multigan.cli import main
from multigan.export import export_generator
from multigan.modalities.image.io import image_grid
from multigan.serve.load import run_load, server_process

RATE = 4000
TINY_DCGAN = dict(image_size=32, channels=1, latent_dim=8, g_width=4, d_width=4)
TINY_SNGAN = dict(image_size=32, channels=1, latent_dim=8, g_width=8, d_width=8, num_classes=3,
                  label_names=("cat", "dog", "owl"))
TINY_MELGAN = {"mel.sample_rate": RATE, "mel.n_fft": 64, "mel.win_length": 64, "mel.hop_length": 16, "mel.n_mels": 8,
               "upsample_ratios": (4, 4), "segment_length": 256, "g_width": 2, "residual_layers": 1, "num_d": 1,
               "d_width": 4, "d_layers": 1}
TINY_SEQGAN = dict(vocab_size=20, max_len=8, g_embed_dim=4, g_hidden_dim=4, d_embed_dim=4, d_filter_sizes=(1, 2),
                   d_num_filters=(2, 2))
LIMITS = ["--max-n", "8", "--max-body", "200000", "--max-audio-seconds", "2", "--precision", "32"]


def exported(tmp, name, **config):
    torch.manual_seed(0)
    gan = multigan.build(name, **config)
    return gan, export_generator(gan, tmp / f"{name}.safetensors")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models")
    built = {name: exported(tmp, name, **config) for name, config in
             [("dcgan", TINY_DCGAN), ("sngan", TINY_SNGAN), ("melgan", TINY_MELGAN), ("seqgan", TINY_SEQGAN)]}
    (tmp / "eval.json").write_text(json.dumps({"fd": 12.5}))      # beside the exports: GET /v1/models shows it
    return built


@pytest.fixture(scope="module")
def server(models):
    """One server with all four models; a batch waits up to 300 ms for requests to join it."""
    with server_process([str(path) for _, path in models.values()], "--max-wait-ms", "300", *LIMITS) as (proc, url):
        yield proc, url


def post(url, path, body=None, **kw):
    kw.setdefault("json", body)
    return httpx.post(url + path, timeout=60, **kw)


def error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]["message"]


def png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


def wav(seconds, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    sf.write(out, 0.5 * np.sin(2 * np.pi * 440 * t), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def metrics(url):
    text = httpx.get(url + "/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metric(url, name, **labels):
    return metrics(url).get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------------------- endpoints
def test_health_models_and_docs(server):
    _, url = server
    assert httpx.get(url + "/health").json() == {"status": "ok", "models": ["dcgan", "melgan", "seqgan", "sngan"]}
    listed = {m["name"]: m for m in httpx.get(url + "/v1/models").json()["models"]}
    assert listed["sngan"]["family"] == "sngan" and listed["sngan"]["modality"] == "image"
    assert listed["sngan"]["labels"] == ["cat", "dog", "owl"] and listed["sngan"]["config"]["num_classes"] == 3
    assert listed["melgan"]["condition"] == "mel" and listed["melgan"]["sample_rate"] == RATE
    assert listed["dcgan"]["metrics"] == {"fd": 12.5} and listed["seqgan"]["media_type"].startswith("text/plain")
    assert httpx.get(url + "/v1/models/dcgan").json()["name"] == "dcgan"
    assert "swagger" in httpx.get(url + "/docs").text.lower()
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    assert {"/health", "/v1/models", "/v1/models/{name}/generate", "/v1/models/{name}/vocode", "/metrics"} <= set(paths)


def test_generate_images_in_every_format(server, models):
    _, url = server
    one = post(url, "/v1/models/dcgan/generate", {"n": 1, "seed": 3})
    assert one.headers["content-type"] == "image/png" and one.headers["x-multigan-seed"] == "3"
    assert png(one.content).shape == (32, 32)
    grid = post(url, "/v1/models/dcgan/generate", {"n": 4, "seed": 3})
    assert png(grid.content).shape == (2 + 2 * 34, 2 + 2 * 34)          # a 2x2 grid with 2-pixel borders
    as_json = post(url, "/v1/models/dcgan/generate", {"n": 4, "seed": 3, "format": "json"}).json()
    assert as_json["encoding"] == "base64" and len(as_json["samples"]) == 4
    zipped = zipfile.ZipFile(io.BytesIO(post(url, "/v1/models/dcgan/generate", {"n": 4, "seed": 3, "format": "zip"}).content))
    assert zipped.namelist() == [f"sample-{i:03d}.png" for i in range(4)]
    # the same samples whichever way they are packed, and the very ones gan.sample gives (fp32)
    gan, _ = models["dcgan"]
    expected = [image_grid(x[None], 1, 0)[:, :, 0] for x in gan.sample(4, seed=3)]
    for i, item in enumerate(as_json["samples"]):
        assert np.array_equal(png(base64.b64decode(item)), expected[i])
        assert np.array_equal(png(zipped.read(f"sample-{i:03d}.png")), expected[i])
    assert np.array_equal(png(one.content), image_grid(gan.sample(1, seed=3), 1, 0)[:, :, 0])
    assert "x-multigan-seed" in post(url, "/v1/models/dcgan/generate", {}).headers   # a drawn seed is given back


def test_labels_by_name_and_index(server, models):
    _, url = server
    gan, _ = models["sngan"]
    by_name = post(url, "/v1/models/sngan/generate", {"n": 2, "label": "dog", "seed": 1, "format": "zip"})
    by_index = post(url, "/v1/models/sngan/generate", {"n": 2, "label": 1, "seed": 1, "format": "zip"})
    assert by_name.content == by_index.content
    expected = gan.sample(2, seed=1, cond="dog")
    first = zipfile.ZipFile(io.BytesIO(by_name.content)).read("sample-000.png")
    assert np.array_equal(png(first), image_grid(expected[:1], 1, 0)[:, :, 0])
    message = error(post(url, "/v1/models/sngan/generate", {"label": "emu"}), 422)
    assert "emu" in message and "cat, dog, owl" in message
    assert "not class-conditional" in error(post(url, "/v1/models/dcgan/generate", {"label": "cat"}), 422)


def test_text_and_temperature(server):
    _, url = server
    lines = post(url, "/v1/models/seqgan/generate", {"n": 3, "seed": 0}).content.decode().splitlines()
    assert len(lines) == 3 and all(len(line.split()) == 8 for line in lines)
    as_json = post(url, "/v1/models/seqgan/generate", {"n": 3, "seed": 0, "format": "json"}).json()
    assert as_json["encoding"] == "text" and as_json["samples"] == lines
    assert post(url, "/v1/models/seqgan/generate", {"n": 2, "temperature": 0.5}).status_code == 200
    assert "temperature" in error(post(url, "/v1/models/dcgan/generate", {"temperature": 0.5}), 422)


def test_vocode_raw_and_multipart(server):
    _, url = server
    raw = post(url, "/v1/models/melgan/vocode", json=None, content=wav(0.5), headers={"content-type": "audio/wav"})
    assert raw.status_code == 200 and raw.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(raw.content))
    assert rate == RATE and abs(len(audio) - 0.5 * RATE) <= 16
    form = post(url, "/v1/models/melgan/vocode", json=None, files={"file": ("a.wav", wav(0.5), "audio/wav")})
    assert form.status_code == 200 and form.content == raw.content
    assert "vocode" in error(post(url, "/v1/models/melgan/generate", {"n": 1}), 422)
    assert "not a vocoder" in error(post(url, "/v1/models/dcgan/vocode", json=None, content=wav(0.5),
                                         headers={"content-type": "audio/wav"}), 422)


# ---------------------------------------------------------------------------- limits and errors
@pytest.mark.parametrize("body, status, words", [
    ({"n": 9}, 422, "--max-n 8"),
    ({"n": 0}, 422, "n:"),
    ({"n": "two"}, 422, "n:"),
    ({"seed": -1}, 422, "seed"),
    ({"colour": "red"}, 422, "colour"),
    ({"format": "gif"}, 422, "format"),
    ({"n": 2, "format": "png"}, 200, ""),
])
def test_bad_generate_bodies(server, body, status, words):
    _, url = server
    response = post(url, "/v1/models/dcgan/generate", body)
    if status == 200:
        assert response.status_code == 200
    else:
        assert words in error(response, status)


def test_each_transport_error_is_a_4xx_and_the_server_keeps_serving(server):
    proc, url = server
    generate = "/v1/models/dcgan/generate"
    assert "nope" in error(post(url, "/v1/models/nope/generate", {}), 404)
    assert "JSON" in error(post(url, generate, json=None, content=b"{n: 1", headers={"content-type": "application/json"}), 400)
    assert "application/json" in error(post(url, generate, json=None, content=b"n=1",
                                            headers={"content-type": "application/x-www-form-urlencoded"}), 415)
    assert "--max-body" in error(post(url, generate, json=None, content=b"{" + b" " * 300000 + b"}",
                                      headers={"content-type": "application/json"}), 413)
    vocode = "/v1/models/melgan/vocode"
    assert "--max-audio-seconds" in error(post(url, vocode, json=None, content=wav(3),
                                               headers={"content-type": "audio/wav"}), 413)
    assert "not a readable WAV" in error(post(url, vocode, json=None, content=b"RIFF....nonsense",
                                              headers={"content-type": "audio/wav"}), 400)
    assert "empty" in error(post(url, vocode, json=None, content=b"", headers={"content-type": "audio/wav"}), 400)
    assert "audio/wav" in error(post(url, vocode, json=None, content=wav(0.5), headers={"content-type": "text/plain"}), 415)
    assert "'file'" in error(post(url, vocode, json=None, files={"other": ("a.wav", wav(0.5))}), 400)
    assert proc.poll() is None and httpx.get(url + "/health").status_code == 200
    assert metric(url, "multigan_request_errors_total", model="", endpoint="generate", status="404") >= 1
    assert metric(url, "multigan_request_errors_total", model="dcgan", endpoint="generate", status="413") >= 1


def test_a_request_past_its_timeout_is_a_408_and_is_not_run(models):
    _, path = models["dcgan"]
    # a lone request waits 2 s for company, far past its 0.2 s timeout
    with server_process([str(path)], "--max-wait-ms", "2000", "--timeout", "0.2", *LIMITS) as (proc, url):
        assert "--timeout" in error(post(url, "/v1/models/dcgan/generate", {"n": 1}), 408)
        time.sleep(2.5)
        assert metric(url, "multigan_samples_generated_total", model="dcgan") == 0
        assert post(url, "/v1/models/dcgan/generate", {"n": 1}).status_code == 408
        assert proc.poll() is None and httpx.get(url + "/health").status_code == 200


# ---------------------------------------------------------------------------- batching
async def concurrently(url, bodies):
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(client.post("/v1/models/dcgan/generate", json=b) for b in bodies))


def test_concurrent_requests_share_forward_passes_and_keep_their_seeds(server):
    _, url = server
    alone = post(url, "/v1/models/dcgan/generate", {"n": 2, "seed": 5, "format": "zip"}).content
    before = metrics(url)
    passes = before.get(("multigan_batch_size_samples_count", (("model", "dcgan"),)), 0)
    samples = before.get(("multigan_samples_generated_total", (("model", "dcgan"),)), 0)
    bodies = [{"n": 2, "seed": 5, "format": "zip"}] + [{"n": 1, "seed": s, "format": "zip"} for s in range(6)]
    answers = asyncio.run(concurrently(url, bodies))
    assert all(a.status_code == 200 for a in answers)
    after = metrics(url)
    new_passes = after[("multigan_batch_size_samples_count", (("model", "dcgan"),))] - passes
    assert after[("multigan_samples_generated_total", (("model", "dcgan"),))] - samples == 8
    assert new_passes < len(bodies), "seven concurrent requests within 300 ms should share forward passes"
    assert answers[0].content == alone                       # the seed decides, not the company
    counts = [len(zipfile.ZipFile(io.BytesIO(a.content)).namelist()) for a in answers]
    assert counts == [2] + [1] * 6                           # each request gets exactly its samples
    assert ("multigan_queue_depth", (("model", "dcgan"),)) in after


def test_bounded_load_loses_nothing(server):
    _, url = server
    result = run_load(url, "dcgan", clients=12, requests=3, seconds=60)
    assert result["sent"] == result["ok"] == 36
    assert result["server_errors"] == result["lost"] == result["client_errors"] == 0
    assert result["req_per_s"] > 0 and result["p50_ms"] <= result["p99_ms"]
    from multigan.errors import ConfigError
    with pytest.raises(ConfigError, match="loopback"):
        run_load("http://example.com", "dcgan")


def test_sigterm_drains_requests_in_flight(models):
    _, path = models["dcgan"]
    with server_process([str(path)], "--max-wait-ms", "1500", *LIMITS) as (proc, url):
        async def scenario():
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                pending = [asyncio.ensure_future(client.post("/v1/models/dcgan/generate", json={"n": 1, "seed": i}))
                           for i in range(4)]
                await asyncio.sleep(0.5)                     # all four wait in the batcher
                proc.send_signal(signal.SIGTERM)
                return await asyncio.gather(*pending)
        answers = asyncio.run(scenario())
        assert [a.status_code for a in answers] == [200] * 4
        proc.wait(30)
        assert proc.returncode in (0, -signal.SIGTERM)
        with pytest.raises(httpx.HTTPError):
            httpx.get(url + "/health", timeout=2)


# ---------------------------------------------------------------------------- the command line
def test_refused_commands_say_why_in_one_line(tmp_path, models, capsys):
    _, path = models["dcgan"]
    checkpoint = tmp_path / "last.pt"
    checkpoint.write_bytes(b"x")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    cases = [([str(tmp_path / "missing")], "does not exist"),
             ([str(checkpoint)], "checkpoint file is not served"),
             ([str(path), str(path)], "two models are named"),
             ([f"bad name={path}"], "does not exist"),
             ([str(path), "--max-batch", "0"], "--max-batch 0"),
             ([str(path), "--port", str(busy.getsockname()[1])], "cannot listen"),
             ([f"a/b={path}"], "does not exist")]
    try:
        for args, words in cases:
            assert main(["serve", *args]) == 2, args
            err = capsys.readouterr().err.strip()
            assert words in err and len(err.splitlines()) == 1, (args, err)
    finally:
        busy.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_run_folders_and_pretrained_folders_are_served_under_their_names(tmp_path):
    run = tmp_path / "digits-run"
    multigan.Trainer(multigan.build("dcgan", **TINY_DCGAN), data="digits", out_dir=run, max_steps=1, batch_size=4,
                     progress=False, sample_every=0).fit()
    (run / "eval.json").write_text(json.dumps({"fd": 99.0}))
    multigan.load(run).save_pretrained(tmp_path / "hub-folder")
    with server_process([str(run), str(tmp_path / "hub-folder"), f"alias={run}"], *LIMITS) as (_, url):
        listed = {m["name"]: m for m in httpx.get(url + "/v1/models").json()["models"]}
        assert set(listed) == {"digits-run", "hub-folder", "alias"}
        assert listed["digits-run"]["metrics"] == {"fd": 99.0} and listed["hub-folder"]["family"] == "dcgan"
        answers = [post(url, f"/v1/models/{name}/generate", {"n": 1, "seed": 4}) for name in sorted(listed)]
        assert all(a.status_code == 200 for a in answers)
        assert len({a.content for a in answers}) == 1          # the same generator behind all three names
