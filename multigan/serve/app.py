"""The HTTP application: FastAPI endpoints over the loaded models, their batchers, the request
limits and the metrics (see docs/serving.md for each endpoint with a curl example).

Every error a client can cause is answered with a 4xx status and ``{"error": {"status": ...,
"message": ...}}`` naming the problem; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import io
import json
import secrets
import tempfile
import time
import zipfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import soundfile as sf
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..errors import DataError, MultiganError
from ..precision import resolve_precision
from .batching import Batcher, Job
from .metrics import ServerMetrics
from .models import ServedModel
from .settings import ServeSettings

SEED_HEADER = "X-Multigan-Seed"
WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")


class GenerateRequest(BaseModel):
    """The body of ``POST /v1/models/{name}/generate``."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(1, ge=1, description="number of samples (at most the server's --max-n)")
    seed: int | None = Field(None, ge=0, lt=2**63, description="makes the request reproducible, whatever it is "
                                                                "batched with; drawn by the server when absent")
    label: int | str | None = Field(None, description="class-conditional models: the class, by name or index")
    temperature: float | None = Field(None, gt=0, description="text models: the sampling temperature")
    format: Literal["auto", "json", "zip", "png", "wav", "txt"] = Field(
        "auto", description="auto: PNG (one image or a grid), WAV (one clip; a zip for several) or text; "
                            "json: base64 files, or the text; zip: one file per sample")


class ApiError(Exception):
    """A client's mistake: answered with ``status`` and ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


def route_of(path: str, names: set[str]) -> tuple[str, str]:
    """``(model, endpoint)`` labels of a request path for the metrics; the model is "" unless
    the path names a served model."""
    parts = path.strip("/").split("/")
    if len(parts) == 4 and parts[:2] == ["v1", "models"]:
        return (parts[2] if parts[2] in names else ""), parts[3]
    if len(parts) == 3 and parts[:2] == ["v1", "models"]:
        return (parts[2] if parts[2] in names else ""), "model"
    return "", {"v1/models": "models", "health": "health", "metrics": "metrics"}.get("/".join(parts), "other")


class Guard:
    """ASGI middleware around the app: refuses bodies above ``max_body`` (413) before the app
    reads them, and counts every answered request in the metrics."""

    def __init__(self, app, metrics: ServerMetrics, max_body: int, names: set[str]):
        self.app, self.metrics, self.max_body, self.names = app, metrics, max_body, names

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]
        model, endpoint = route_of(scope["path"], self.names)

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            body = await self._body(scope, receive)
            if body is None:
                response = error_response(413, f"the request body is larger than the server's --max-body "
                                               f"{self.max_body} bytes")
                return await response(scope, receive, send_status)
            delivered = False

            async def replay():
                nonlocal delivered
                if delivered:
                    return await receive()
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send_status)
        finally:
            self.metrics.observe(model, endpoint, status[0], time.perf_counter() - start)

    async def _body(self, scope, receive) -> bytes | None:
        """The whole request body, or None once it exceeds ``max_body``."""
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return None
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def create_app(models: dict[str, ServedModel], settings: ServeSettings | None = None) -> Guard:
    """The ASGI application serving ``models`` under ``settings`` (see the module docstring)."""
    settings = settings or ServeSettings()
    metrics = ServerMetrics()
    batchers: dict[str, Batcher] = {}

    @asynccontextmanager
    async def lifespan(app):
        for name, model in models.items():
            precision, _, _ = resolve_precision(settings.precision, model.gan.device)
            batchers[name] = Batcher(model, settings.max_batch, settings.max_wait_ms / 1000, metrics, precision)
            batchers[name].start()
        yield
        await asyncio.gather(*(batcher.stop() for batcher in batchers.values()))

    app = FastAPI(title="multigan", summary="Generators trained with multigan, over HTTP", lifespan=lifespan)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        return error_response(500, f"internal error: {type(exc).__name__}: {exc}")

    def lookup(name: str) -> ServedModel:
        if name not in models:
            raise ApiError(404, f"no model named {name!r}; this server has {', '.join(sorted(models))}")
        return models[name]

    async def run(model: ServedModel, job: Job) -> Any:
        try:
            return await batchers[model.name].submit(job, settings.timeout)
        except asyncio.TimeoutError:
            raise ApiError(408, f"the request took longer than the server's --timeout {settings.timeout:g} s") from None
        except DataError as exc:
            raise ApiError(400, str(exc)) from None
        except MultiganError as exc:
            raise ApiError(422, str(exc)) from None

    @app.get("/health", summary="Liveness, and the models served")
    async def health():
        return {"status": "ok", "models": sorted(models)}

    @app.get("/v1/models", summary="Every model: family, modality, config, labels, eval metrics")
    async def list_models():
        return {"models": [models[name].info() for name in sorted(models)]}

    @app.get("/v1/models/{name}", summary="One model")
    async def one_model(name: str):
        return lookup(name).info()

    @app.post("/v1/models/{name}/generate", summary="Generate samples",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": GenerateRequest.model_json_schema()}}}},
              responses={200: {"content": {"image/png": {}, "audio/wav": {}, "application/zip": {},
                                           "text/plain": {}, "application/json": {}}}})
    async def generate(name: str, request: Request):
        model = lookup(name)
        body = await read_json(request)
        try:
            req = GenerateRequest.model_validate(body)
        except ValidationError as exc:
            raise ApiError(422, describe(exc)) from None
        if req.n > settings.max_n:
            raise ApiError(422, f"n {req.n} is above the server's --max-n {settings.max_n}")
        gan = model.gan
        if getattr(gan, "condition", None) == "mel":
            raise ApiError(422, f"model {name!r} is a vocoder: POST a WAV to /v1/models/{name}/vocode")
        if req.label is not None and not model.labels:
            raise ApiError(422, f"model {name!r} is not class-conditional: leave out 'label'")
        options = {}
        if req.temperature is not None:
            if "temperature" not in inspect.signature(gan.generate).parameters:
                raise ApiError(422, f"model {name!r} ({gan.name}) takes no temperature")
            options["temperature"] = req.temperature
        suffix = model.modality.media[0]
        fmt = check_format(model, req.format, req.n)
        seed = req.seed if req.seed is not None else secrets.randbelow(2**63)
        samples = await run(model, Job(req.n, seed, req.label, options))
        # encoded here, on the event loop: measured faster than in the worker or a thread pool
        return encoded(model, samples, fmt, seed, suffix)

    @app.post("/v1/models/{name}/vocode", summary="Resynthesise a WAV through a vocoder",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "audio/wav": {"schema": {"type": "string", "format": "binary"}},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}}},
              responses={200: {"content": {"audio/wav": {}}}})
    async def vocode(name: str, request: Request):
        model = lookup(name)
        if getattr(model.gan, "condition", None) != "mel" or model.modality.read_condition is None:
            raise ApiError(422, f"model {name!r} ({model.gan.name}) is not a vocoder: use /v1/models/{name}/generate")
        data = await read_wav(request)
        with tempfile.TemporaryDirectory(prefix="multigan-serve-") as tmp:
            path = Path(tmp) / "upload.wav"
            path.write_bytes(data)
            try:
                info = sf.info(str(path))
            except Exception:
                raise ApiError(400, "the upload is not a readable WAV file") from None
            if info.samplerate <= 0 or info.frames / info.samplerate > settings.max_audio_seconds:
                raise ApiError(413, f"the WAV is {info.frames / max(info.samplerate, 1):.1f} s long; the server takes "
                                    f"at most --max-audio-seconds {settings.max_audio_seconds:g}")
            try:
                mel = await run_in_threadpool(model.modality.read_condition, str(path), model.gan)
            except DataError as exc:
                raise ApiError(400, str(exc).replace(str(path), "the upload")) from None
            except MultiganError as exc:
                raise ApiError(422, str(exc)) from None
        samples = await run(model, Job(None, 0, mel))
        return Response(model.modality.encode_example(samples[0], model.gan), media_type=model.modality.media[1])

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus():
        return Response(metrics.render(), media_type=metrics.content_type)

    return Guard(app, metrics, settings.max_body, set(models))


async def read_json(request: Request) -> Any:
    """The request's JSON body: 415 for another content type, 400 when it does not parse."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, f"content type {ctype or 'none'!r}: send JSON with 'content-type: application/json'")
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None


async def read_wav(request: Request) -> bytes:
    """The uploaded WAV's bytes: the body itself (``audio/wav``) or the ``file`` field of a
    multipart form; 415 for another content type, 400 when empty."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in WAV_TYPES:
        data = await request.body()
    elif ctype == "multipart/form-data":
        try:
            form = await request.form()
        except Exception as exc:
            raise ApiError(400, f"the multipart form does not parse: {exc}") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "the multipart form has no file field named 'file'")
        data = await upload.read()
    else:
        raise ApiError(415, f"content type {ctype or 'none'!r}: send a WAV as 'content-type: audio/wav', "
                            "or as the 'file' field of a multipart form")
    if not data:
        raise ApiError(400, "the upload is empty")
    return data


def describe(exc: ValidationError) -> str:
    """A pydantic validation error in one line: each field and what is wrong with it."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}" + (f" (got {error['input']!r})" if error["type"] != "missing"
                                                   and where != "body" else ""))
    return "; ".join(parts)


def check_format(model: ServedModel, fmt: str, n: int) -> str:
    """``fmt`` if the model's modality can answer ``n`` samples in it (422 otherwise)."""
    suffix = model.modality.media[0]
    if fmt not in ("auto", "json", "zip", suffix):
        raise ApiError(422, f"format {fmt!r}: model {model.name!r} answers in 'auto', 'json', 'zip' or {suffix!r}")
    if fmt == suffix and n > 1 and model.modality.encode_batch is None:
        raise ApiError(422, f"format {fmt!r} holds one sample; ask for n 1, or format 'zip' or 'json'")
    return fmt


def encoded(model: ServedModel, samples: Any, fmt: str, seed: int, suffix: str) -> Response:
    """The response carrying ``samples`` in ``fmt`` (see :class:`GenerateRequest`)."""
    modality, gan = model.modality, model.gan
    media = modality.media[1]
    headers = {SEED_HEADER: str(seed)}
    files = None
    if fmt in ("json", "zip") or (len(samples) > 1 and modality.encode_batch is None):
        files = [modality.encode_example(sample, gan) for sample in samples]
    if fmt == "json":
        text = media.startswith("text/")
        items = [f.decode("utf-8") if text else base64.b64encode(f).decode("ascii") for f in files]
        return JSONResponse({"model": model.name, "seed": seed, "n": len(samples), "media_type": media,
                             "encoding": "text" if text else "base64", "samples": items}, headers=headers)
    if files is not None:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for i, data in enumerate(files):
                # a fixed date, so a seeded request's archive is the same bytes whenever it is asked
                archive.writestr(zipfile.ZipInfo(f"sample-{i:03d}.{suffix}", date_time=(1980, 1, 1, 0, 0, 0)), data)
        return Response(out.getvalue(), media_type="application/zip", headers=headers)
    data = modality.encode_example(samples[0], gan) if len(samples) == 1 else modality.encode_batch(samples, gan)
    return Response(data, media_type=media, headers=headers)
