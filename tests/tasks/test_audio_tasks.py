"""Speech tasks: the user's audio folder (any rate, channels, WAV/FLAC) and synthesised spoken digits."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from hwnas.tasks import TaskDataError, get_task
from hwnas.tasks.audio import TRAIN_VOICES, VAL_VOICES, WORDS
from tests.servers import needs_espeak


def _tone(seconds: float, rate: int, frequency: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = np.sin(2 * np.pi * frequency * t).astype(np.float32)
    return mono if channels == 1 else np.stack([mono] * channels, axis=1)


def _folder(tmp_path, name="clips"):
    root = tmp_path / name
    (root / "high").mkdir(parents=True)
    (root / "low").mkdir()
    soundfile.write(root / "high" / "a.wav", _tone(0.5, 8000, 1000), 8000)  # 8 kHz, short: padded
    soundfile.write(root / "high" / "b.flac", _tone(2.0, 44100, 1200, channels=2), 44100)  # stereo, long: cut
    soundfile.write(root / "low" / "c.wav", _tone(1.0, 16000, 200), 16000)
    soundfile.write(root / "low" / "d.wav", _tone(1.0, 22050, 250), 22050)
    return root


def test_audio_folder_resamples_mixes_and_fixes_the_length(tmp_path):
    task = get_task("audio-folder", path=str(_folder(tmp_path)), input_shape=[16000], val_fraction=0.5, seed=3)
    assert task.class_names == ("high", "low") and task.num_classes == 2
    clips = torch.cat([task.x_train, task.x_val])
    assert clips.shape == (4, 16000) and torch.allclose(clips.std(dim=1), torch.ones(4), atol=1e-3)
    short = get_task("audio-folder", path=str(_folder(tmp_path, "a")), val_path=str(_folder(tmp_path, "b")), input_shape=[16000])
    padded = short.x_train[0]  # the 0.5 s clip at 8 kHz: 8000 samples at 16 kHz, centred in silence
    quiet = padded[:3000]
    assert torch.allclose(quiet, quiet[0].expand_as(quiet)) and padded[6000:10000].std() > 0.5


def test_bad_audio_is_one_line(tmp_path):
    root = _folder(tmp_path)
    (root / "high" / "broken.wav").write_bytes(b"RIFF but not really")
    with pytest.raises(TaskDataError, match="broken.wav' is not a readable audio file") as error:
        get_task("audio-folder", path=str(root))
    assert "\n" not in str(error.value)
    (root / "high" / "broken.wav").unlink()
    (root / "empty").mkdir()
    with pytest.raises(TaskDataError, match="holds no audio"):
        get_task("audio-folder", path=str(root))
    with pytest.raises(TaskDataError, match="needs at least 2 class subfolders"):
        get_task("audio-folder", path=str(root / "low"))


@needs_espeak
def test_spoken_digits_are_seeded_and_validated_on_other_voices():
    task = get_task("spoken-digits", num_samples=40, input_shape=[12000], seed=1)
    again = get_task("spoken-digits", num_samples=40, input_shape=[12000], seed=1)
    assert torch.equal(task.x_train, again.x_train) and torch.equal(task.y_train, again.y_train)
    assert task.x_train.shape == (40, 12000) and task.x_val.shape == (8, 12000) and task.class_names == WORDS
    assert not set(TRAIN_VOICES) & set(VAL_VOICES)
    assert set(task.y_train.tolist()) <= set(range(10)) and len(set(task.y_train.tolist())) >= 5
    speech = task.x_train.abs() > 1.0  # standardised clips: the word stands far above the noise floor
    assert (speech.float().mean(dim=1) > 0.05).all()


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).mean(dim=1) / (a.std(dim=1) * b.std(dim=1))


@needs_espeak
def test_babble_mixes_a_quieter_second_word_into_the_same_clips():
    clean = get_task("spoken-digits", num_samples=24, input_shape=[12000], seed=2)
    soft = get_task("spoken-digits", num_samples=24, input_shape=[12000], seed=2, babble_db=[12, 12])
    loud = get_task("spoken-digits", num_samples=24, input_shape=[12000], seed=2, babble_db=[0, 0])
    assert torch.equal(clean.y_train, soft.y_train) and torch.equal(clean.y_val, loud.y_val)
    # the labelled word is the same rendition, the babble 12 dB (power 1/16) or 0 dB (as loud) below it
    assert _correlation(clean.x_train, soft.x_train).min() > 0.9
    assert _correlation(clean.x_train, loud.x_train).mean() < 0.85
    again = get_task("spoken-digits", num_samples=24, input_shape=[12000], seed=2, babble_db=[0, 0])
    assert torch.equal(loud.x_train, again.x_train)


@pytest.mark.parametrize("bad", [[9, 3], [-1, 3], [3], [0, float("nan")]])
def test_babble_outside_its_range_is_one_line(bad):
    with pytest.raises(TaskDataError, match=r"babble_db must be \[low, high\] with 0 <= low <= high"):
        get_task("spoken-digits", num_samples=4, babble_db=bad)


def test_spoken_digits_without_espeak_is_one_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TaskDataError, match="needs espeak-ng, which is not installed"):
        get_task("spoken-digits", num_samples=4)
