"""A cheap picture of the latents at each step: a fixed linear map from latent channels to RGB.

Decoding with the VAE every step would cost about as much as a step; this costs almost
nothing and is what AUTOMATIC1111 calls the "approximate cheap" preview.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# latent channel -> (R, G, B) contributions, fitted to each VAE family's decoder output.
SD_LATENT_RGB = np.array(
    [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ],
    dtype=np.float32,
)
SDXL_LATENT_RGB = np.array(
    [
        [0.3448, 0.4168, 0.4395],
        [-0.1953, -0.0290, 0.0250],
        [0.1074, 0.0886, -0.0163],
        [-0.3730, -0.2499, -0.2088],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class StepPreview:
    """Payload of a PREVIEW event: `image` is an RGB uint8 array (height, width, 3) at latent size."""

    step: int
    total: int
    image: np.ndarray
    seed: int


def latents_to_rgb(latents: Any, variant: str = "sd1") -> np.ndarray:
    """First image of a (batch, 4, h, w) latent tensor as an (h, w, 3) uint8 array.

    Computed with torch where the latents are (on the GPU only a small uint8 image is copied
    back), not with numpy: numpy's BLAS threads would keep spinning after each call and take
    CPU time from the next step on a machine with few cores.
    """
    import torch

    table = SDXL_LATENT_RGB if variant == "sdxl" else SD_LATENT_RGB
    first = latents[0, : table.shape[0]].detach().float()  # (4, h, w)
    coefficients = torch.from_numpy(table).to(first.device)
    rgb = torch.tensordot(first, coefficients, dims=([0], [0]))  # (h, w, 3)
    return ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).cpu().numpy()
