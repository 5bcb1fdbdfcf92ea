"""A small client for a lim-tf model behind TF Serving's REST API.

It builds the JSON request bodies, checks images against the model's metadata before anything
is sent, and reads the answers; `predict` posts them with the standard library.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np

from lim_tf.errors import InputError

MAX_SIDE = 8192  # a guard against requests a server would choke on
MAX_RESPONSE = 512 * 2**20  # bytes: a float32 answer for 8192 x 8192 pixels as JSON text fits; more is refused


@dataclass(frozen=True)
class ServingClient:
    """Talks to http://HOST:8501/v1/models/NAME (TF Serving's REST port)."""

    url: str  # e.g. http://localhost:8501/v1/models/landslides
    bands: int
    timeout: float = 60.0  # seconds to connect, and between bytes of the answer
    max_response: int = MAX_RESPONSE  # bytes; a larger answer is refused unread

    def check(self, images: np.ndarray) -> np.ndarray:
        """A (batch, height, width, bands) array of one size, or a clear error."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != self.bands:
            raise InputError(f"images of shape {images.shape}: the model takes (batch, height, width, {self.bands}) "
                             f"with {self.bands} bands")
        if not (1 <= images.shape[1] <= MAX_SIDE and 1 <= images.shape[2] <= MAX_SIDE):
            raise InputError(f"images of {images.shape[1]}x{images.shape[2]} pixels: each side must be 1..{MAX_SIDE}; "
                             "map larger scenes with 'lim-tf map'")
        return images

    def request_body(self, images: np.ndarray) -> dict[str, Any]:
        """The REST body for raw images: uint8 goes to serve_uint8, anything else to serving_default."""
        images = self.check(images)
        signature = "serve_uint8" if images.dtype == np.uint8 else "serving_default"
        values = images if images.dtype == np.uint8 else images.astype(np.float32)
        return {"signature_name": signature, "instances": values.tolist()}

    def encoded_request_body(self, encoded: list[bytes]) -> dict[str, Any]:
        """The REST body for PNG/JPEG bytes (base64, as TF Serving expects for string inputs)."""
        if self.bands not in (1, 3, 4):
            raise InputError(f"a {self.bands}-band model cannot take PNG or JPEG images; send raw arrays")
        if not encoded:
            raise InputError("no images to send")
        return {"signature_name": "serve_encoded",
                "instances": [{"b64": base64.b64encode(data).decode("ascii")} for data in encoded]}

    @staticmethod
    def read_response(body: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(probability float32 (batch, H, W), landslide uint8 (batch, H, W)) from a REST answer."""
        if "error" in body:
            raise InputError(f"the server answered: {body['error']}")
        predictions = body["predictions"]
        probability = np.asarray([p["probability"] for p in predictions], np.float32)[..., 0]
        landslide = np.asarray([p["landslide"] for p in predictions], np.uint8)[..., 0]
        return probability, landslide

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """POST raw images to the server and return its probability and landslide maps."""
        request = urllib.request.Request(f"{self.url}:predict", data=json.dumps(self.request_body(images)).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                body = answer.read(self.max_response + 1)
        except (OSError, urllib.error.URLError) as error:  # refused, unreachable, or no answer in time
            raise InputError(f"{self.url}: no answer ({getattr(error, 'reason', error)}); check the server and "
                             f"its address, or raise the timeout ({self.timeout:g} s)") from error
        if len(body) > self.max_response:
            raise InputError(f"{self.url}: the answer is larger than {self.max_response:,} bytes; send fewer or "
                             "smaller images, or raise max_response")
        try:
            return self.read_response(json.loads(body))
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(f"{self.url}: the answer is not a TF Serving prediction ({str(error)[:120]})") from error
