"""Speech tasks: `audio-folder` (the user's clips, a folder per class) and `spoken-digits` (synthesised).

`spoken-digits` speaks the ten digit words with espeak-ng (Debian's `espeak-ng` package) across English
accents, voice variants, speeds and pitches, each clip placed at a random offset in a one-second window with
a little noise. Validation speakers are voice variants that no training clip uses, so the score says how a
subnet does on voices it has not heard. With `babble_db` each clip also holds a second, quieter digit word (babble,
its level that many dB below the labelled word's, drawn per clip from the range): telling the louder word from the
other takes capacity, so small subnets stay behind large ones (`lighthubert/tiny-speech` alone for 12 epochs at
0-6 dB: 50-57 % against 63-68 %), where without it every subnet, once trained, reaches about 97 %. Both tasks give
(N, length) float32 waveforms at 16 kHz.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from hwnas.tasks._audio import SAMPLE_RATE, SUFFIXES, fixed_length, read_audio, standardise
from hwnas.tasks._files import class_files, class_folders, existing, split_index
from hwnas.tasks._task import Count, Fraction, Seed, Task, TaskDataError, register_task

FOLDER = "audio-folder"
DIGITS = "spoken-digits"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
TRAIN_VOICES = ("m1", "m2", "m3", "m4", "m6", "f1", "f2", "f3", "f5")
VAL_VOICES = ("m5", "m7", "f4")  # held out: no training clip is spoken by them
SPEEDS, PITCHES = (120, 210), (25, 75)  # words per minute, espeak-ng pitch 0-99 (uniform ranges)
SYNTH_THREADS = 8


def _load_folder(root: Path, classes: list[str], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    files = class_files(root, classes, SUFFIXES, FOLDER, "audio")
    clips = np.stack([standardise(fixed_length(read_audio(path, FOLDER), length)) for _, path in files])
    return torch.as_tensor(clips), torch.as_tensor([label for label, _ in files], dtype=torch.long)


@register_task(FOLDER)
def audio_folder(path: str | None = None, input_shape: Sequence[int] = (SAMPLE_RATE,), val_path: str | None = None,
                 val_fraction: Fraction = 0.2, seed: Seed = 0) -> Task:
    """Clips under `path/<class>/` (WAV, FLAC, OGG; any rate, mono-mixed, resampled to 16 kHz) cut or padded to
    `input_shape` samples; validation from `val_path` (same classes) or a seeded split."""
    root = existing(path, "audio folder (path)", FOLDER, directory=True)
    if len(tuple(input_shape)) != 1:
        raise TaskDataError(f"{FOLDER}: input_shape must be (samples,), got {list(input_shape)}")
    length, classes = int(tuple(input_shape)[0]), class_folders(root, FOLDER)
    x, y = _load_folder(root, classes, length)
    if val_path is not None:
        x_val, y_val = _load_folder(existing(val_path, "validation folder (val_path)", FOLDER, directory=True), classes, length)
    else:
        train, val = split_index(len(x), val_fraction, seed, FOLDER)
        x, y, x_val, y_val = x[train], y[train], x[val], y[val]
    return Task(FOLDER, x, y, x_val, y_val, num_classes=len(classes), class_names=tuple(classes))


def _espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise TaskDataError(f"{DIGITS}: needs espeak-ng, which is not installed (Debian: apt-get install espeak-ng)")
    return found


@lru_cache(maxsize=4096)
def _speak(espeak: str, word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """One word spoken by espeak-ng, at 16 kHz (cached: the same rendition is never synthesised twice)."""
    try:
        done = subprocess.run([espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TaskDataError(f"{DIGITS}: espeak-ng did not run for voice {voice!r}: {exc}") from None
    if done.returncode != 0 or not done.stdout:
        raise TaskDataError(f"{DIGITS}: espeak-ng failed for voice {voice!r}: {done.stderr.decode(errors='replace')[:200]}")
    return read_audio(done.stdout, DIGITS, name=f"espeak-ng {voice} {word!r}")


def _rendition(rng: np.random.Generator, word: str, voices: tuple[str, ...]) -> tuple[str, str, int, int]:
    return (word, f"{ACCENTS[rng.integers(len(ACCENTS))]}+{voices[rng.integers(len(voices))]}",
            int(rng.integers(SPEEDS[0], SPEEDS[1] + 1)), int(rng.integers(PITCHES[0], PITCHES[1] + 1)))


def _clips(count: int, voices: tuple[str, ...], length: int, seed: int,
           babble_db: tuple[float, float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    espeak = _espeak()
    labels = rng.integers(len(WORDS), size=count)
    renditions = [_rendition(rng, WORDS[label], voices) for label in labels]
    with ThreadPoolExecutor(SYNTH_THREADS) as pool:
        spoken = list(pool.map(lambda r: _speak(espeak, *r), renditions))
    clips = []
    for samples in spoken:
        clip = fixed_length(samples, length, offset=int(rng.integers(-length // 4, length // 4 + 1)))
        clip = clip + rng.normal(0, rng.uniform(0.002, 0.02), size=length).astype(np.float32)
        clips.append(clip)
    if babble_db is not None:  # drawn after the clean clips, so the labelled words are the ones babble-free clips hold
        clips = _with_babble(clips, rng, espeak, voices, length, babble_db)
    return torch.as_tensor(np.stack([standardise(c) for c in clips])), torch.as_tensor(labels, dtype=torch.long)


def _with_babble(clips: list[np.ndarray], rng: np.random.Generator, espeak: str, voices: tuple[str, ...], length: int,
                 babble_db: tuple[float, float]) -> list[np.ndarray]:
    """Each clip plus another digit word, `babble_db` dB (drawn per clip) below the clip's own level."""
    renditions = [_rendition(rng, WORDS[rng.integers(len(WORDS))], voices) for _ in clips]
    with ThreadPoolExecutor(SYNTH_THREADS) as pool:
        others = list(pool.map(lambda r: _speak(espeak, *r), renditions))
    mixed = []
    for clip, other in zip(clips, others):
        other = fixed_length(other, length, offset=int(rng.integers(-length // 4, length // 4 + 1)))
        gain = _rms(clip) / max(_rms(other), 1e-8) * 10 ** (-rng.uniform(*babble_db) / 20)
        mixed.append(clip + gain * other)
    return mixed


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


@register_task(DIGITS)
def spoken_digits(num_samples: Count = 2000, input_shape: Sequence[int] = (SAMPLE_RATE,), val_fraction: Fraction = 0.2,
                  seed: Seed = 0, babble_db: Sequence[float] | None = None) -> Task:
    """`num_samples` training clips of the ten digit words and `val_fraction` as many spoken by held-out voices;
    `babble_db` ([low, high]) mixes a second word into each clip, low to high dB below it."""
    if len(tuple(input_shape)) != 1 or tuple(input_shape)[0] < SAMPLE_RATE // 4:
        raise TaskDataError(f"{DIGITS}: input_shape must be (samples ≥ {SAMPLE_RATE // 4},), got {list(input_shape)}")
    length, babble = int(tuple(input_shape)[0]), _babble_range(babble_db)
    x, y = _clips(num_samples, TRAIN_VOICES, length, seed * 2 + 1, babble)
    x_val, y_val = _clips(max(1, round(num_samples * val_fraction)), VAL_VOICES, length, seed * 2 + 2, babble)
    return Task(DIGITS, x, y, x_val, y_val, num_classes=len(WORDS), class_names=WORDS)


def _babble_range(babble_db: Sequence[float] | None) -> tuple[float, float] | None:
    """[low, high] dB below the labelled word, 0 <= low <= high (at 0 dB the two words are equally loud)."""
    if babble_db is None:
        return None
    values = tuple(babble_db)
    if len(values) != 2 or not all(np.isfinite(values)) or not 0 <= values[0] <= values[1]:
        raise TaskDataError(f"{DIGITS}: babble_db must be [low, high] with 0 <= low <= high, got {list(values)}")
    return float(values[0]), float(values[1])
