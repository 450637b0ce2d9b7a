"""The Ray Serve application of ``rdlr serve``: an HTTP front end and one batching classifier per model.

- ``Frontend`` (the ingress, ``--replicas`` copies, one CPU each): reads and checks a request
  (:mod:`rdlr.serve.uploads`), decodes the audio in memory and computes the model's feature sets with the
  extractor configs it was trained with, one extraction at a time per replica; it also serves the page
  (:mod:`rdlr.serve.page`), ``/healthz`` and ``/models``.
- ``Classifier`` (one per model): z-normalisation and F (Section 3.2) in PyTorch or onnxruntime; concurrent
  requests' feature vectors are scored together, up to :data:`MAX_BATCH` per call (Serve's ``serve.batch``).

Memory stays bounded: a front-end replica works on at most :data:`FRONTEND_CONCURRENCY` requests (each body at
most 50 MB) and Serve queues at most :data:`MAX_QUEUED` more (503 beyond). Every error is a JSON object
``{"error": message}`` with a 4xx status (5xx for the service's own faults); nothing a request carries names a
file: the models' folders were read when the service started.

FastAPI reads the routes' annotations at run time: this module does without ``from __future__ import annotations``.
"""

import asyncio
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from ray import serve
from ray.serve.handle import DeploymentHandle

from rdlr.models.engines import OnnxScorer
from rdlr.models.predictor import TrainedModel
from rdlr.serve import page
from rdlr.serve.uploads import RequestProblem, audio_bytes, decoded, read_body

APP_NAME = "rdlr"
MAX_BATCH = 32
BATCH_WAIT_S = 0.005
FRONTEND_CONCURRENCY = 8
MAX_QUEUED = 1024
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": page.CONTENT_SECURITY_POLICY}

api = FastAPI(title="rdlr serve", docs_url=None, redoc_url=None, openapi_url=None)


@api.exception_handler(RequestProblem)
async def refuse(request: Request, problem: RequestProblem) -> JSONResponse:
    return JSONResponse({"error": problem.message}, status_code=problem.status)


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=4 * MAX_BATCH)
class Classifier:
    """One model's z-normalisation and classifier; feature vectors of concurrent requests scored as one batch."""

    def __init__(self, model: TrainedModel) -> None:
        import torch

        torch.set_num_threads(1)
        if isinstance(model.scorer, OnnxScorer):
            model.scorer.limit_threads(1)
        self.model = model

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WAIT_S)
    async def classify(self, vectors: list[np.ndarray]) -> list[np.ndarray]:
        return list(self.model.probabilities(np.stack(vectors)))


@serve.deployment(
    ray_actor_options={"num_cpus": 1}, max_ongoing_requests=FRONTEND_CONCURRENCY, max_queued_requests=MAX_QUEUED
)
@serve.ingress(api)
class Frontend:
    """The HTTP routes; feature extraction of the models' inputs (see the module docstring)."""

    def __init__(
        self,
        models: dict[str, TrainedModel],
        cards: dict[str, dict[str, Any]],
        classifiers: dict[str, DeploymentHandle],
    ) -> None:
        self.models = models
        self.cards = cards
        self.classifiers = classifiers
        self.default = next(iter(models))
        for model in models.values():
            model.set_up()
        self.extracting = asyncio.Lock()

    @api.get("/", response_class=HTMLResponse)
    def index(self) -> Response:
        return Response(page.HTML, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @api.get("/page.js")
    def script(self) -> Response:
        return Response(page.SCRIPT, media_type="text/javascript; charset=utf-8", headers=SECURITY_HEADERS)

    @api.get("/page.css")
    def style(self) -> Response:
        return Response(page.STYLE, media_type="text/css; charset=utf-8", headers=SECURITY_HEADERS)

    @api.get("/healthz")
    def healthz(self) -> dict[str, Any]:
        return {"status": "ok", "models": list(self.models)}

    @api.get("/models")
    def list_models(self) -> dict[str, Any]:
        return {
            "default": self.default,
            "models": [
                {
                    "name": name,
                    "classes": list(model.classes),
                    "features": [spec.name for spec in model.card.features],
                    "engine": model.engine,
                    "card": self.cards[name],
                }
                for name, model in self.models.items()
            ],
        }

    @api.post("/predict")
    async def predict(self, request: Request, model: str | None = None) -> dict[str, Any]:
        name = self.default if model is None else model
        if name not in self.models:
            raise RequestProblem(404, f"unknown model {name!r:.80}; served: {', '.join(self.models)}")
        body = await read_body(request.headers.get("content-length"), request.stream())
        data = await asyncio.to_thread(audio_bytes, body, request.headers.get("content-type", ""))
        del body
        audio = await asyncio.to_thread(decoded, data)
        del data
        async with self.extracting:
            vector = await asyncio.to_thread(self.features, name, audio)
        probabilities = await self.classifiers[name].classify.remote(vector)
        classes = self.models[name].classes
        if not np.isfinite(probabilities).all():
            raise RequestProblem(500, f"model {name}: non-finite output; check the model folder")
        return {
            "model": name,
            "label": classes[int(np.argmax(probabilities))],
            "probabilities": {c: float(p) for c, p in zip(classes, probabilities)},
            "seconds": round(len(audio) / page.SAMPLE_RATE, 4),
        }

    def features(self, name: str, audio: np.ndarray) -> np.ndarray:
        """The model's input vector of a decoded request (422 when an extractor finds no features)."""
        record = {"path": "request body", "utt_id": "request", "audio": audio, "error": ""}
        vector = self.models[name].extract_records([record])[0]
        if vector is None:
            raise RequestProblem(422, record["error"])
        return vector


def build_app(models: dict[str, TrainedModel], cards: dict[str, dict[str, Any]], replicas: int) -> Any:
    """The application: ``replicas`` front ends and a classifier per model (deployments ``Classifier0``, ...)."""
    classifiers = {
        name: Classifier.options(name=f"Classifier{index}").bind(model)
        for index, (name, model) in enumerate(models.items())
    }
    return Frontend.options(num_replicas=replicas).bind(models, cards, classifiers)
