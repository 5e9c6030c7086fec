"""Waveforms for the speech tasks: read with soundfile, mixed to mono, resampled to 16 kHz, fixed length.

16 kHz is the rate HuBERT-style front ends are built for (320 samples per frame). A clip longer than the
task's length is cut around its centre; a shorter one is centred in silence, so a spoken word is never cut off
at one end only. Standardised per clip (zero mean, unit variance), as wav2vec 2.0 / HuBERT normalise input.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np

from hwnas.tasks._task import TaskDataError

SAMPLE_RATE = 16_000
SUFFIXES = (".wav", ".flac", ".ogg")


def read_audio(source: Path | bytes, task: str, name: str | None = None) -> np.ndarray:
    """Mono float32 samples at 16 kHz from a file or the bytes of one; one line when it is not audio."""
    import soundfile  # only the speech tasks decode audio

    label = name or str(source)
    try:
        data, rate = soundfile.read(io.BytesIO(source) if isinstance(source, bytes) else source, dtype="float32",
                                    always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:
        raise TaskDataError(f"{task}: {label!r} is not a readable audio file: {str(exc).splitlines()[0][:200]}") from None
    if len(data) == 0:
        raise TaskDataError(f"{task}: {label!r} holds no samples")
    return resample(data.mean(axis=1), rate)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` at `rate` Hz resampled to 16 kHz (polyphase filter, scipy)."""
    if rate == SAMPLE_RATE:
        return samples.astype(np.float32)
    from scipy.signal import resample_poly  # only audio at another rate needs it

    ratio = Fraction(SAMPLE_RATE, rate).limit_denominator(1000)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def fixed_length(samples: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """Exactly `length` samples: the centre of a longer clip, or a shorter one centred (moved by `offset`)."""
    if len(samples) >= length:
        start = (len(samples) - length) // 2
        return samples[start:start + length]
    out = np.zeros(length, dtype=np.float32)
    start = int(np.clip((length - len(samples)) // 2 + offset, 0, length - len(samples)))
    out[start:start + len(samples)] = samples
    return out


def standardise(clip: np.ndarray) -> np.ndarray:
    return ((clip - clip.mean()) / max(float(clip.std()), 1e-5)).astype(np.float32)
